"""Headless Chromium for tests: `driver.mjs` (playwright-core, Debian's /usr/bin/chromium)
run as one node process, commanded over JSON lines.

    with Chromium() as browser:
        page = browser.open("a", f"{server.url}/?vamp=v&name=ann")
        page.wait(lambda s: s["status"] == "joined", "ann joined")
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")
COMMAND_TIMEOUT = 30.0
STATE_TIMEOUT = 30.0


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (make test installs what the browser tests need)"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (make system-deps)"
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing: run make js-deps"
    return None


class Page:
    """One tab of the vamp page."""

    def __init__(self, browser: Chromium, key: str) -> None:
        self.browser = browser
        self.key = key

    def eval(self, expr: str) -> Any:
        return self.browser.command("eval", page=self.key, expr=expr)

    @property
    def state(self) -> dict[str, Any]:
        """A snapshot of window.vampState."""
        value: dict[str, Any] = self.eval("window.vampState")
        return value

    def fill(self, selector: str, value: str) -> None:
        self.browser.command("fill", page=self.key, selector=selector, value=value)

    def click(self, selector: str) -> None:
        self.browser.command("click", page=self.key, selector=selector)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.browser.command("screenshot", page=self.key, path=str(path))
        return path

    def close(self) -> None:
        """Close the tab the way a user does: pagehide and beforeunload run."""
        self.browser.command("close", page=self.key)

    def console(self) -> list[str]:
        lines: list[str] = self.browser.command("console", page=self.key)
        return lines

    def wait(
        self, condition: Callable[[dict[str, Any]], Any], what: str,
        timeout: float = STATE_TIMEOUT,
    ) -> Any:
        """Poll window.vampState until `condition(state)` is truthy; return that value."""
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.state
            value = condition(state)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(
            f"page {self.key}: timed out after {timeout}s waiting for {what}\n"
            f"state: {json.dumps(state, indent=1)}\nconsole: {self.console()}"
        )

    def take(self, take_id: str) -> dict[str, Any] | None:
        return next((t for t in self.state["takes"] if t["takeId"] == take_id), None)


class Chromium:
    """The driver process; every command waits for its answer (COMMAND_TIMEOUT at most)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", str(HERE / "driver.mjs")],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._answers: queue.Queue[str] = queue.Queue()
        self._stderr: list[str] = []
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._answers.put(line)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._stderr.append(line)

    def command(self, cmd: str, timeout: float = COMMAND_TIMEOUT, **fields: Any) -> Any:
        self._next_id += 1
        request = {"id": self._next_id, "cmd": cmd, **fields}
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"browser driver did not answer {cmd} within {timeout}s: "
                    + "".join(self._stderr)
                ) from None
            answer = json.loads(line)
            if answer.get("id") != self._next_id:
                continue  # the late answer of a command that timed out
            if not answer["ok"]:
                raise AssertionError(f"browser {cmd} failed: {answer['error']}")
            return answer["value"]

    def open(self, key: str, url: str) -> Page:
        self.command("open", page=key, url=url)
        return Page(self, key)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.command("quit", timeout=10)
            except (AssertionError, BrokenPipeError, OSError):
                pass
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
