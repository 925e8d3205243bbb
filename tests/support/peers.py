"""Run `vamp join` / `vamp record VAMP` as real processes and follow their --json events.

    with PeerProcess.join(server.url, vamp, "jeff", tmp_path) as jeff:
        jeff.wait_event("peer-joined", name="dan")

Every process gets its own store directory, restricts ICE to 127.0.0.1, and is stopped
(SIGINT, then SIGKILL) when the block ends. Its stderr is kept so tests can assert that no
traceback was printed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.support.signal_server import wait_until

VAMP = Path(sys.executable).with_name("vamp")
LOOPBACK_ONLY = ("--ice-host", "127.0.0.1")
EVENT_TIMEOUT = 45.0
BAD_PEER = (sys.executable, "-m", "tests.support.bad_peer")
"""A `vamp` that sends malformed and oversized messages on every new channel first."""


class PeerProcess:
    """One `vamp` CLI process whose stdout is JSON lines."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        name: str,
        store: Path,
        program: Sequence[str] = (str(VAMP),),
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.store = store
        self.args = [*program, *args]
        self.events: list[dict[str, Any]] = []
        self.stderr_lines: list[str] = []
        self.stdout_other: list[str] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def join(
        cls,
        server: str,
        vamp: str,
        name: str,
        root: Path,
        *extra: str,
        input: str = "none",
        program: Sequence[str] = (str(VAMP),),
        ice_host: bool = True,
    ) -> PeerProcess:
        """``ice_host=False`` leaves ICE to find addresses itself: only for a host whose
        only interface is loopback (see ``only_loopback``)."""
        store = root / f"store-{name}"
        args = [
            *("join", vamp, "--server", server, "--name", name, "--store", str(store)),
            *("--input", input, "--output", "none", "--json"),
            *(LOOPBACK_ONLY if ice_host else ()),
            *extra,
        ]
        return cls(args, name=name, store=store, program=program)

    @classmethod
    def record(
        cls,
        server: str,
        vamp: str,
        name: str,
        root: Path,
        *extra: str,
        duration: float = 3.0,
        input: str = "tone:440",
    ) -> PeerProcess:
        store = root / f"store-{name}"
        args = [
            "record",
            vamp,
            "--server",
            server,
            "--name",
            name,
            "--store",
            str(store),
            "--duration",
            str(duration),
            "--out",
            str(root / f"{name}.wav"),
            "--input",
            input,
            "--output",
            "none",
            "--json",
            *LOOPBACK_ONLY,
            *extra,
        ]
        return cls(args, name=name, store=store)

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- output ---------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
            with self._lock:
                if isinstance(obj, dict):
                    self.events.append(obj)
                else:
                    self.stdout_other.append(line)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self.stderr_lines.append(line)

    @property
    def stderr(self) -> str:
        with self._lock:
            return "".join(self.stderr_lines)

    def find(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        with self._lock:
            return [
                e
                for e in self.events
                if e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
            ]

    def wait_event(
        self, event: str, timeout: float = EVENT_TIMEOUT, **fields: Any
    ) -> dict[str, Any]:
        """The first event named ``event`` whose fields match, waiting for it."""

        def found() -> dict[str, Any] | None:
            matches = self.find(event, **fields)
            if matches:
                return matches[0]
            if self.process.poll() is not None:
                matches = self.find(event, **fields)
                if not matches:
                    raise AssertionError(
                        f"{self.name} exited ({self.process.returncode}) before {event} {fields}:"
                        f"\n{self.describe()}"
                    )
            return matches[0] if matches else None

        try:
            result: dict[str, Any] = wait_until(found, timeout, f"{self.name}: {event} {fields}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.describe()}") from None
        return result

    def final(self) -> dict[str, Any]:
        """The last JSON object printed (the result of `vamp record`)."""
        with self._lock:
            return self.events[-1]

    def describe(self) -> str:
        with self._lock:
            events = "\n".join(json.dumps(e) for e in self.events[-30:])
            stderr = "".join(self.stderr_lines)
        return f"--- {self.name} events:\n{events}\n--- {self.name} stderr:\n{stderr}"

    # -- life -----------------------------------------------------------------------------

    def wait(self, timeout: float = EVENT_TIMEOUT) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} did not exit within {timeout}s\n{self.describe()}"
            ) from None
        for thread in self._threads:
            thread.join(5)
        return code

    def signal(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for thread in self._threads:
            thread.join(5)
        return self.process.returncode


def only_loopback() -> bool:
    """Whether this process sees no network interface but loopback (tests/isolated)."""
    import socket

    return [name for _, name in socket.if_nameindex()] == ["lo"]


def exported_takes(store: Path, out_dir: Path) -> dict[str, dict[str, Any]]:
    """`vamp export --json` of a store, by take id."""
    result = subprocess.run(
        [str(VAMP), "export", "--store", str(store), "--out-dir", str(out_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    takes = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {t["take_id"]: t for t in takes}


def assert_quiet(*procs: PeerProcess) -> None:
    """No traceback and no error-level log line on any peer's stderr."""
    for p in procs:
        text = p.stderr
        assert "Traceback" not in text, p.describe()
        assert "ERROR" not in text, p.describe()


def until(condition: Callable[[], Any], what: str, timeout: float = EVENT_TIMEOUT) -> Any:
    return wait_until(condition, timeout, what)
