"""Helpers shared by the test suites: real processes, polled with deadlines."""
