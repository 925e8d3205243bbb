"""Fixtures: real `vamp serve-signal` processes on loopback and connected clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from tests.signaling.client import Client
from tests.support.signal_server import SignalServer, running_signal_server

SECRET = "test-secret"


@pytest.fixture(scope="session")
def signal_server() -> Iterator[SignalServer]:
    """An open server (no secret), shared by the tests that do not stop it."""
    with running_signal_server() as server:
        yield server


@pytest.fixture(scope="session")
def secret_server() -> Iterator[SignalServer]:
    with running_signal_server("--secret", SECRET) as server:
        yield server


@pytest.fixture
def vamp() -> str:
    """A vamp id of this test's own, so tests sharing a server never meet."""
    return f"vamp-{uuid.uuid4().hex[:12]}"


ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def connect(signal_server: SignalServer) -> AsyncIterator[ClientFactory]:
    """connect(url=None, auth=None) -> a connected Client, disconnected after the test."""
    clients: list[Client] = []

    async def factory(url: str | None = None, auth: dict[str, str] | None = None) -> Client:
        client = Client(url or signal_server.url, auth=auth)
        clients.append(client)
        return await client.connect()

    yield factory
    for client in clients:
        await client.close()
