"""A `vamp` CLI peer that misbehaves: on every new channel it first sends malformed and
oversized messages, then carries on as a normal peer. Used to prove receivers survive it.

    python -m tests.support.bad_peer join VAMP --server ... (any `vamp` arguments)
"""

from __future__ import annotations

from vamp_cli.cli import main
from vamp_cli.core import wire
from vamp_cli.core.take import new_take_id
from vamp_cli.net import mesh
from vamp_cli.net.peer import PeerLink

GARBAGE: list[bytes | str] = [
    b"\xff" * 12,  # unknown type
    b"\x03" + b"\x00" * 20,  # truncated CHUNK
    wire.encode(wire.Chunk(new_take_id(), 0, 2, b"\x00" * 4)),  # chunk of a take nobody knows
    b"\x05\x02\x00" + b"\x00" * 25,  # HAVE announcing two entries, carrying one
    b"\x01\x09\x03abc",  # HELLO with an unknown protocol version
    "a text message",  # vamp messages are binary
    b"\x03" + b"\x01" * 20_000,  # oversized (> 16 KiB)
    b"\x02" + b"\x00" * 65_000,  # much oversized
]

_normal_link_opened = mesh.Mesh.link_opened


def _link_opened_badly(self: mesh.Mesh, link: PeerLink) -> None:
    assert link.channel is not None
    for message in GARBAGE:
        link.channel.send(message)
    _normal_link_opened(self, link)


mesh.Mesh.link_opened = _link_opened_badly  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
