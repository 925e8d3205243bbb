"""One `vamp serve-signal --web` and one headless Chromium per module; each test uses its
own vamp, so tests do not see each other's peers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.browser.chromium import Chromium, missing_requirements
from tests.support.signal_server import SignalServer

_vamps = itertools.count(1)


@pytest.fixture(scope="module")
def web_server() -> Iterator[SignalServer]:
    with SignalServer("--web") as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    why = missing_requirements()
    if why is not None:
        pytest.fail(f"cannot run the browser tests: {why}")
    with Chromium() as chromium:
        yield chromium


@pytest.fixture
def vamp() -> str:
    return f"web-{next(_vamps)}"
