"""An opt-in trace of store events, for benchmarks: set ``VAMP_TRACE=PATH``.

Each event is one tab-separated line stamped with ``time.monotonic_ns()``. CLOCK_MONOTONIC is
shared by every process on one Linux machine, so a sender's and a receiver's stamps can be
subtracted. Lines (after a ``#`` header naming the peer)::

    A  t_ns  take_id  offset  frames  new  L|R     an append (L: our own take, R: a remote's)
    S  t_ns  take_id  start   -       -    L|R     a take started (start = timeline frame)
    E  t_ns  take_id  length  -       -    L|R     a take's end became known (seal / TAKE_END)
    C  t_ns  take_id  length  -       -    L|R     a take became complete (SHA-256 verified)

Events are buffered in memory and written by a writer thread in batches, and at exit (when
the store closes, or at interpreter exit), so the event loop never waits on the file. With
``VAMP_TRACE`` unset, :func:`install` returns at once and the store is untouched.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vamp_cli.core.store import Store

TRACE_ENV = "VAMP_TRACE"
BATCH_LINES = 4096
"""Lines buffered before a batch is handed to the writer thread."""


class _Writer:
    """Appends batches of lines to one file on its own thread."""

    def __init__(self, path: Path, header: str) -> None:
        self._path = path
        self._batches: queue.SimpleQueue[list[str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="vamp-trace", daemon=True)
        self._batches.put([header])
        self._thread.start()

    def _run(self) -> None:
        with self._path.open("a", encoding="utf-8") as out:
            while (batch := self._batches.get()) is not None:
                out.write("".join(batch))
                out.flush()

    def put(self, batch: list[str]) -> None:
        self._batches.put(batch)

    def close(self) -> None:
        if self._thread.is_alive():
            self._batches.put(None)
            self._thread.join(5.0)


class StoreTrace:
    """Records one store's events; see the module docstring for the line format."""

    def __init__(self, store: Store, name: str, path: Path) -> None:
        self._store = store
        self._name = name
        self._lines: list[str] = []
        self._known: dict[str, tuple[bool, bool]] = {}  # take id -> (ended, complete)
        self._closed = False
        for view in store.takes():  # takes reloaded from disk are not news
            self._known[view.info.take_id] = (view.ended, view.complete)
        self._writer = _Writer(path, f"# vamp-trace 1 name={name} pid={os.getpid()}\n")
        self._wrap_append()
        self._wrap_close()
        store.subscribe(self._on_change)
        atexit.register(self.close)

    def _side(self, owner: str) -> str:
        return "L" if owner == self._name else "R"

    def _record(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= BATCH_LINES:
            self._writer.put(self._lines)
            self._lines = []

    def _wrap_append(self) -> None:
        store = self._store
        original = store.append

        def append(take_id: str, offset: int, pcm: bytes) -> int:
            new = original(take_id, offset, pcm)
            t_ns = time.monotonic_ns()
            view = store.get(take_id)
            if view is not None:
                frames = len(pcm) // view.info.frame_bytes
                side = self._side(view.info.owner)
                self._record(f"A\t{t_ns}\t{take_id}\t{offset}\t{frames}\t{new}\t{side}\n")
            return new

        store.append = append  # type: ignore[method-assign]

    def _wrap_close(self) -> None:
        original = self._store.close

        def close() -> None:
            try:
                original()
            finally:
                self.close()

        self._store.close = close  # type: ignore[method-assign]

    def _on_change(self, take_id: str) -> None:
        view = self._store.get(take_id)
        if view is None:
            return
        t_ns = time.monotonic_ns()
        side = self._side(view.info.owner)
        before = self._known.get(take_id)
        if before is None:
            self._record(f"S\t{t_ns}\t{take_id}\t{view.info.start}\t-\t-\t{side}\n")
            before = (False, False)
        ended, complete = view.ended, view.complete
        if ended and not before[0]:
            self._record(f"E\t{t_ns}\t{take_id}\t{view.length}\t-\t-\t{side}\n")
        if complete and not before[1]:
            self._record(f"C\t{t_ns}\t{take_id}\t{view.length}\t-\t-\t{side}\n")
        self._known[take_id] = (ended, complete)

    def close(self) -> None:
        """Write what is buffered and stop the writer. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if self._lines:
            self._writer.put(self._lines)
            self._lines = []
        self._writer.close()


def install(store: Store, name: str) -> Callable[[], None] | None:
    """Trace ``store`` to the file named by ``VAMP_TRACE`` (appending), as peer ``name``.
    Returns the trace's close function, or None (and changes nothing) when it is unset."""
    path = os.environ.get(TRACE_ENV)
    if not path:
        return None
    return StoreTrace(store, name, Path(path)).close
