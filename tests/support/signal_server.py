"""Run `vamp serve-signal` as a real subprocess on a free loopback port.

    with running_signal_server("--max-peers", "2") as server:
        ... server.url ...        # http://127.0.0.1:PORT
        server.stop(); server.start()   # same port: clients see a server restart

Readiness is GET /healthz polled with a deadline; the server's stderr is kept in `.log`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

VAMP = Path(sys.executable).with_name("vamp")
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll `condition()` until it returns a truthy value; AssertionError naming `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class SignalServer:
    """One `vamp serve-signal` process; `extra_args` are passed after `--port`."""

    def __init__(
        self,
        *extra_args: str,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.extra_args: Sequence[str] = extra_args
        self.env = {**os.environ, **(env or {})}
        self._process: subprocess.Popen[bytes] | None = None
        # append mode: every restart adds to the same log
        self._log_file = tempfile.NamedTemporaryFile(
            mode="a+b", prefix="vamp-signal-", suffix=".log", delete=False
        )
        self.log_path = Path(self._log_file.name)
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        """Everything the server has written to stderr, across restarts."""
        return self.log_path.read_text(errors="replace")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def health(self) -> dict[str, Any] | None:
        """GET /healthz as JSON, or None when the server does not answer."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except (OSError, urllib.error.URLError, ValueError):
            return None

    def start(self, timeout: float = START_TIMEOUT) -> SignalServer:
        """Start the process and return once /healthz answers."""
        if self.running:
            raise RuntimeError("the signaling server is already running")
        self.returncode = None
        command = [str(VAMP), "serve-signal", "--port", str(self.port), *self.extra_args]
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=self._log_file,
            env=self.env,
        )

        def ready() -> bool:
            if self._process is not None and self._process.poll() is not None:
                raise AssertionError(
                    f"vamp serve-signal exited with {self._process.returncode}:\n{self.log}"
                )
            return self.health() is not None

        wait_until(ready, timeout, f"vamp serve-signal on port {self.port}")
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig`, wait for the exit, and return the exit code."""
        process = self._process
        if process is None:
            return self.returncode if self.returncode is not None else 0
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(
                    f"vamp serve-signal ignored signal {sig}:\n{self.log}"
                ) from None
        self._process = None
        self.returncode = process.returncode
        return process.returncode

    async def astart(self, deadline: float = START_TIMEOUT) -> SignalServer:
        """`start` for async tests: waits in a thread so the event loop keeps running."""
        return await asyncio.to_thread(self.start, deadline)

    async def astop(self, sig: int = signal.SIGTERM, deadline: float = STOP_TIMEOUT) -> int:
        """`stop` for async tests: waits in a thread so the event loop keeps running."""
        return await asyncio.to_thread(self.stop, sig, deadline)

    def wait_for_log(self, pattern: str, timeout: float = 5.0) -> re.Match[str]:
        """The first match of regex `pattern` in the log, waiting for it to appear."""
        found: re.Match[str] = wait_until(
            lambda: re.search(pattern, self.log), timeout, f"log line matching {pattern!r}"
        )
        return found

    def close(self) -> None:
        self.stop()
        self._log_file.close()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> SignalServer:
        return self.start() if not self.running else self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def running_signal_server(
    *extra_args: str, port: int | None = None, env: Mapping[str, str] | None = None
) -> Iterator[SignalServer]:
    """A started server, stopped (and its log removed) on exit."""
    server = SignalServer(*extra_args, port=port, env=env)
    try:
        yield server.start()
    finally:
        server.close()
