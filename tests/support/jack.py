"""A JACK dummy-driver server for tests and benchmarks: real PortAudio devices, no hardware.

    with JackServer(period=256) as jack:
        env = jack.client_env("peer-a")          # for a child process: its ports are
        proc = subprocess.Popen([...], env=env)  # peer-a:in_0 / peer-a:out_0
        jack.wait_for_port("peer-a:out_0")
        with jack.record("peer-a:out_0", seconds=2.0) as rec:   # what arrives on that port
            ...
        samples = rec.samples                    # float32, shape (frames, 1)

Each server has a unique name, so parallel runs do not clash; child processes find it through
``JACK_DEFAULT_SERVER`` (and never start a server of their own: ``JACK_NO_START_SERVER``).
PortAudio only sees JACK if the server runs when PortAudio initialises, so start the
server before the process under test imports sounddevice (or call
``vamp_cli.audio.devices.reinitialize()``). PortAudio names its JACK ports ``in_0``,
``out_0``, ... and connects them to ``system:*``; :meth:`JackServer.isolate` undoes that.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 10.0


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             interval: float = 0.01) -> None:
    """Poll ``condition`` until true; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def jack_available() -> bool:
    return all(shutil.which(tool) for tool in ("jackd", "jack_lsp", "jack_connect"))


class JackServer:
    """``jackd --no-realtime -d dummy`` under a unique name; a context manager."""

    def __init__(self, *, rate: int = 48000, period: int = 256, name: str | None = None) -> None:
        self.rate = rate
        self.period = period
        self.name = name or f"vamp-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def env(self) -> dict[str, str]:
        """This process's environment pointed at this server (for children)."""
        env = dict(os.environ)
        env["JACK_DEFAULT_SERVER"] = self.name
        env["JACK_NO_START_SERVER"] = "1"
        return env

    def client_env(self, client_name: str) -> dict[str, str]:
        """Environment for a vamp child process whose JACK client is ``client_name``."""
        env = self.env
        env["VAMP_JACK_CLIENT_NAME"] = client_name
        return env

    def start(self) -> None:
        self._proc = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", str(self.rate),
             "-p", str(self.period), "-C", "2", "-P", "2"],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        try:
            wait_for(self._ready, START_TIMEOUT, f"jackd {self.name} to answer jack_lsp")
        except AssertionError:
            self.stop()
            self._log.seek(0)
            raise AssertionError(
                f"jackd did not start: {self._log.read().decode(errors='replace')[-2000:]}"
            ) from None

    def _ready(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            self._log.seek(0)
            raise AssertionError(f"jackd exited: {self._log.read().decode(errors='replace')}")
        return "system:playback_1" in self.ports()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> JackServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self._log.close()

    def export(self) -> None:
        """Point this process (and every child it starts later) at the server."""
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              timeout=10)

    def ports(self) -> list[str]:
        res = self._run("jack_lsp")
        return [line.strip() for line in res.stdout.splitlines() if line.strip()]

    def connections(self, port: str) -> list[str]:
        """Ports connected to ``port``."""
        res = self._run("jack_lsp", "-c", port)
        return [line.strip() for line in res.stdout.splitlines()[1:] if line.startswith(" ")]

    def wait_for_port(self, port: str, timeout: float = 10.0) -> None:
        wait_for(lambda: port in self.ports(), timeout, f"JACK port {port}", interval=0.005)

    def connect(self, source: str, destination: str) -> None:
        res = self._run("jack_connect", source, destination)
        if res.returncode != 0:
            raise AssertionError(f"jack_connect {source} {destination}: {res.stderr.strip()}")

    def disconnect(self, source: str, destination: str) -> None:
        res = self._run("jack_disconnect", source, destination)
        if res.returncode != 0:
            raise AssertionError(f"jack_disconnect {source} {destination}: {res.stderr.strip()}")

    def isolate(self, port: str) -> None:
        """Cut every connection of ``port`` (e.g. PortAudio's automatic ``system:*`` ones)."""
        for other in self.connections(port):
            if port.split(":")[1].startswith("in"):
                self.disconnect(other, port)
            else:
                self.disconnect(port, other)

    @contextmanager
    def record(self, *sources: str, seconds: float,
               client_name: str | None = None) -> Iterator[Recording]:
        """Record what arrives from ``sources`` (output ports, mixed as JACK mixes) for
        ``seconds``. The block runs once the recorder listens; on leaving, it waits for the
        recording to finish and ``Recording.samples`` holds it (float32, exact for int16)."""
        rec = Recording(self, client_name or f"rec-{uuid.uuid4().hex[:8]}", seconds)
        rec.start()
        try:
            for source in sources:
                self.connect(source, rec.port)
            yield rec
            rec.finish()
        finally:
            rec.kill()


class Recording:
    """A recorder child process (``python -m tests.support.jack_recorder``) on one port."""

    def __init__(self, jack: JackServer, client_name: str, seconds: float) -> None:
        self.jack = jack
        self.client_name = client_name
        self.port = f"{client_name}:in_0"
        self.seconds = seconds
        self._dir = tempfile.TemporaryDirectory()
        self.path = Path(self._dir.name) / "rec.npy"
        self._proc: subprocess.Popen[str] | None = None
        self.samples: npt.NDArray[np.float32] = np.zeros((0, 1), dtype=np.float32)

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.jack_recorder", "--seconds",
             str(self.seconds), "--rate", str(self.jack.rate), "--out", str(self.path)],
            env=self.jack.client_env(self.client_name), cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # the recorder prints "ready" once it listens
        if line.strip() != "ready":
            _, err = self._proc.communicate(timeout=10)
            raise AssertionError(f"recorder did not start: {line!r} {err}")
        self.jack.isolate(self.port)

    def finish(self, timeout: float | None = None) -> None:
        assert self._proc is not None
        _, err = self._proc.communicate(timeout=timeout or self.seconds + 10)
        if self._proc.returncode != 0:
            raise AssertionError(f"recorder failed ({self._proc.returncode}): {err}")
        self.samples = np.load(self.path)

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._dir.cleanup()


def onsets(samples: npt.NDArray[np.floating], threshold: float) -> list[int]:
    """Frame indices where the absolute signal first rises above ``threshold`` after having
    been below it (the start of each burst)."""
    loud = np.abs(samples.reshape(len(samples), -1)).max(axis=1) > threshold
    rises = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    return ([0] if len(loud) and loud[0] else []) + [int(i) for i in rises]
