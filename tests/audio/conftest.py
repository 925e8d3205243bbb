"""A JACK dummy server for the whole audio test session, started before PortAudio loads."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.support.jack import JackServer

PERIOD = 256


@pytest.fixture(scope="session")
def jack() -> Iterator[JackServer]:
    with JackServer(period=PERIOD) as server:
        server.export()  # this process and its children use it
        if "sounddevice" in sys.modules:
            # PortAudio initialised before the server existed: make it look again.
            from vamp_cli.audio import devices

            devices.reinitialize()
        yield server
        if "sounddevice" in sys.modules:
            # Let PortAudio leave JACK while the server still runs (it aborts otherwise).
            sys.modules["sounddevice"]._terminate()
