"""`make bench`: latency, scale and cost of vamp, each beside its baseline in the same run.

Run ``python -m tests.bench [--quick] [--only NAME]`` (``make bench`` runs it in a
loopback-only network namespace). Nothing here is a test: no file is named ``test_*`` so
pytest never collects it, and no figure passes or fails.
"""
