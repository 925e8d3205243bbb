"""The web client's pieces that need no browser: the page's wire code against the CLI's,
byte for byte, and how `--web` serves the page (or says how to build it)."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest

from signaling.config import ConfigError, web_dist
from tests.support.signal_server import SignalServer
from vamp_cli.core import wire
from vamp_cli.core.take import SampleFormat, TakeInfo

pytestmark = pytest.mark.browser

HERE = Path(__file__).parent
TAKE = "00112233445566778899aabbccddeeff"
INFO = TakeInfo(TAKE, "dän", 48000 * 3, 44100, 2, SampleFormat.INT16)
MESSAGES: list[tuple[dict[str, object], wire.Message]] = [
    ({"kind": "hello", "name": "dän"}, wire.Hello("dän")),
    ({"kind": "take_start", "info": {"takeId": TAKE, "owner": "dän", "start": 144000,
                                     "sampleRate": 44100, "channels": 2, "format": 1}},
     wire.TakeStart(INFO)),
    ({"kind": "chunk", "takeId": TAKE, "offset": 7, "frames": 2, "pcm": "0100ffff0200feff"},
     wire.Chunk(TAKE, 7, 2, bytes.fromhex("0100ffff0200feff"))),
    ({"kind": "take_end", "takeId": TAKE, "length": 96000, "sha256": "ab" * 32},
     wire.TakeEnd(TAKE, 96000, bytes.fromhex("ab" * 32))),
    ({"kind": "have", "entries": [{"takeId": TAKE, "contiguous": 5, "flags": 3},
                                  {"takeId": "ff" * 16, "contiguous": 0, "flags": 0}]},
     wire.Have((wire.HaveEntry(TAKE, 5, 3), wire.HaveEntry("ff" * 16, 0, 0)))),
    ({"kind": "want", "entries": [{"takeId": TAKE, "offset": 9, "frames": 2**40}]},
     wire.Want((wire.WantEntry(TAKE, 9, 2**40),))),
    ({"kind": "have", "entries": []}, wire.Have(())),
    ({"kind": "bye"}, wire.Bye()),
]
JUNK = [
    b"",                                        # empty
    b"\x09",                                    # unknown type
    b"\x01\x02\x03dan",                         # HELLO of version 2
    b"\x01\x01\x04dan",                         # HELLO shorter than its name length
    b"\x07\x00",                                # BYE with a tail
    wire.encode(wire.Have((wire.HaveEntry(TAKE, 1, 0),)))[:-1] + b"\x04",  # unknown flag
    wire.encode(wire.TakeEnd(TAKE, 1, b"\0" * 32))[:-1],                   # truncated
    b"\x03" + bytes(28) + b"\x01",              # CHUNK of 0 frames
    b"\x03" + bytes(16384),                     # too long
]


def test_the_page_encodes_and_decodes_exactly_like_the_cli() -> None:
    python = [wire.encode(m).hex() for _, m in MESSAGES]
    request = {"messages": [j for j, _ in MESSAGES], "python": python,
               "junk": [j.hex() for j in JUNK]}
    done = subprocess.run(["node", str(HERE / "wire_check.mjs")], input=json.dumps(request),
                          capture_output=True, text=True, timeout=30, check=True)
    answer = json.loads(done.stdout)
    assert answer["encoded"] == python
    assert answer["decoded"] == python
    assert answer["rejected"] == [True] * len(JUNK)


def test_web_without_a_built_client_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="make web"):
        web_dist(tmp_path)


def test_the_page_is_served_at_the_root(web_server: SignalServer) -> None:
    for path in ("/", "/?vamp=band&name=ann", "/vamp.js", "/capture-worklet.js"):
        with urllib.request.urlopen(web_server.url + path, timeout=5) as response:
            assert response.status == 200, path
            body = response.read()
            assert body, path
    with urllib.request.urlopen(web_server.url + "/?vamp=band", timeout=5) as response:
        assert b'<script src="vamp.js">' in response.read()
