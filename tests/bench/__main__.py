"""``python -m tests.bench [--quick] [--only NAME ...] [--out DIR]``: run the benchmarks.

Prints the table and writes ``benchmarks.json`` and ``benchmarks.md`` to ``--out``
(``docs/`` for a full run; ``test-artifacts/bench/`` for ``--quick`` or ``--only`` runs, so a
partial run never overwrites the published figures). Exits 0 unless something broke: no
figure passes or fails.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from tests.bench import report
from tests.bench.common import REPO
from tests.bench.context import Context

SECTIONS = {  # --only NAME -> module of tests.bench
    "scale": "scale", "cost": "cost", "completion": "completion", "backfill": "backfill",
    "signaling": "signaling_load", "audio": "audio",
}


def section(name: str) -> Callable[[Context], None]:
    module = __import__(f"tests.bench.{SECTIONS[name]}", fromlist=["run"])
    run: Callable[[Context], None] = module.run
    return run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="tiny N and short windows: a smoke run of every section")
    parser.add_argument("--only", action="append", choices=SECTIONS, metavar="NAME",
                        help=f"run only this section (repeatable): {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write benchmarks.{json,md}")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--render", action="store_true",
                        help="only redraw benchmarks.md from the benchmarks.json in --out")
    args = parser.parse_args(argv)
    out = args.out or (REPO / ("test-artifacts/bench" if args.quick or args.only else "docs"))
    here = Path(__file__).parent
    if args.render:
        ctx, data = report.load(out / "benchmarks.json")
        report.write(ctx, out, data["machine"], data["elapsed_s"], data["command"].split()[3:],
                     here / "template.md", here / "findings.md")
        print(report.table_text(ctx.figures))
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="vamp-bench-"))
    ctx = Context(workdir, args.quick)
    info = report.machine()
    started = time.monotonic()
    failed = []
    for name in args.only or SECTIONS:
        print(f"== {name}", flush=True)
        t0 = time.monotonic()
        try:
            section(name)(ctx)
        except Exception as exc:  # one broken section must not hide the others' figures
            failed.append(name)
            ctx.notes[f"{name} failed"] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        print(f"   {name}: {time.monotonic() - t0:.0f} s", flush=True)
    elapsed = time.monotonic() - started
    print(report.table_text(ctx.figures))
    report.write(ctx, out, info, elapsed, argv, here / "template.md", here / "findings.md")
    print(f"wrote {out / 'benchmarks.md'} and benchmarks.json in {elapsed:.0f} s")
    if args.keep:
        print(f"work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        print(f"sections that broke: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
