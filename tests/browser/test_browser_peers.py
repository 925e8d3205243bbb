"""Browser peers in the same vamp as CLI peers: the page `vamp serve-signal --web` serves,
in real headless Chromium, with real `vamp` processes, all on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from tests.browser.chromium import Chromium, Page
from tests.support.peers import PeerProcess, assert_quiet, exported_takes, until
from tests.support.signal_server import SignalServer

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
RECORD_SECONDS = 2


def open_page(browser: Chromium, server: SignalServer, vamp: str, name: str,
              trickle: bool = True) -> Page:
    page = browser.open(name, f"{server.url}/?vamp={vamp}&name={name}&trickle={int(trickle)}")
    page.wait(lambda s: s["status"] == "joined", f"{name} joined {vamp}")
    return page


def open_peers(state: dict[str, Any]) -> set[str]:
    return {p["name"] for p in state["peers"] if p["state"] == "open" and p["name"]}


def test_a_cli_take_reaches_the_page_bit_exact(
    web_server: SignalServer, browser: Chromium, vamp: str, tmp_path: Path
) -> None:
    page = open_page(browser, web_server, vamp, "page-a", trickle=True)
    with PeerProcess.record(web_server.url, vamp, "dan", tmp_path, duration=1.0) as dan:
        assert dan.wait() == 0, dan.describe()
    result = dan.final()
    assert result["peers"] == [{"name": "page-a", "confirmed": True}], dan.describe()
    take_id, sha256 = result["take_id"], result["sha256"]

    held = page.wait(lambda s: next(
        (t for t in s["takes"] if t["takeId"] == take_id and t["complete"]), None
    ), "dan's take complete in the page")
    assert held["owner"] == "dan"
    assert held["sha256"] == sha256
    # Hashed afresh from the PCM the page holds, not the hash it was told.
    assert page.eval(f"window.vamp.pcmSha256('{take_id}')") == sha256
    # Monitored live through Web Audio as it arrived, and playable from the start.
    assert held["liveFrames"] == held["frames"]
    page.click(f'[data-take-id="{take_id}"] button.play')
    page.wait(lambda s: page_take(s, take_id)["playing"], "the take playing from the start")
    stored = exported_takes(dan.store, tmp_path / "export")[take_id]
    assert stored["sha256"] == sha256 and stored["frames"] == held["frames"]
    assert_quiet(dan)
    page.close()


def test_the_page_records_the_fake_microphone_and_every_cli_peer_stores_it(
    web_server: SignalServer, browser: Chromium, vamp: str, tmp_path: Path
) -> None:
    with (
        PeerProcess.join(web_server.url, vamp, "cli-1", tmp_path) as one,
        PeerProcess.join(web_server.url, vamp, "cli-2", tmp_path) as two,
    ):
        one.wait_event("peer-joined", name="cli-2")
        page = open_page(browser, web_server, vamp, "page-rec", trickle=False)
        page.wait(lambda s: open_peers(s) == {"cli-1", "cli-2"}, "both CLI peers open")

        page.fill("#duration", str(RECORD_SECONDS))
        page.click("#record")
        take = page.wait(lambda s: next(
            (t for t in s["takes"] if t["own"] and t["length"] is not None), None
        ), "the page's take ended")
        take_id, sha256 = take["takeId"], take["sha256"]
        assert take["length"] == RECORD_SECONDS * take["sampleRate"]
        assert take["channels"] == 1

        for peer in (one, two):
            done = peer.wait_event("take-complete", take_id=take_id)
            assert done["sha256"] == sha256 and done["owner"] == "page-rec"
        page.wait(lambda s: sorted(page_take(s, take_id)["confirmedBy"]) == ["cli-1", "cli-2"],
                  "both CLI peers confirmed the page's take")
        # What a user sees once the page shows both confirmations (it renders a beat later).
        shown = f"document.querySelector('[data-take-id=\"{take_id}\"]')?.dataset.confirmedBy"
        until(lambda: sorted((page.eval(shown) or "").split(",")) == ["cli-1", "cli-2"],
              "the page shows both confirmations", timeout=5)
        page.screenshot(ARTIFACTS / "browser-two-peers.png")
        page.close()
    for peer in (one, two):
        stored = exported_takes(peer.store, tmp_path / f"export-{peer.name}")[take_id]
        assert stored["sha256"] == sha256
        assert stored["frames"] == take["length"]
        assert_quiet(peer)
    # The fake microphone beeps: the take holds sound, not just well-hashed silence.
    pcm, rate = soundfile.read(stored["path"], dtype="int16")
    assert rate == take["sampleRate"] and np.abs(pcm.astype(np.int32)).max() > 1000


def page_take(state: dict[str, Any], take_id: str) -> dict[str, Any]:
    return next(t for t in state["takes"] if t["takeId"] == take_id)


def test_two_pages_and_two_cli_peers_form_a_full_mesh_and_hold_every_take(
    web_server: SignalServer, browser: Chromium, vamp: str, tmp_path: Path
) -> None:
    with PeerProcess.join(web_server.url, vamp, "cli-j", tmp_path) as joiner:
        first = open_page(browser, web_server, vamp, "page-1", trickle=True)
        second = open_page(browser, web_server, vamp, "page-2", trickle=False)
        first.wait(lambda s: open_peers(s) == {"cli-j", "page-2"}, "page-1 sees everyone")
        second.wait(lambda s: open_peers(s) == {"cli-j", "page-1"}, "page-2 sees everyone")

        first.eval("window.vamp.record(1)")
        with PeerProcess.record(web_server.url, vamp, "cli-r", tmp_path, duration=1.0) as recorder:
            assert recorder.wait() == 0, recorder.describe()
        cli_take = recorder.final()
        assert sorted(p["name"] for p in recorder.final()["peers"] if p["confirmed"]) == [
            "cli-j", "page-1", "page-2"
        ], recorder.describe()

        page_take_id = first.wait(lambda s: next(
            (t["takeId"] for t in s["takes"] if t["own"] and t["length"] is not None), None
        ), "page-1's take ended")
        first_take = page_take(first.state, page_take_id)
        expected = {cli_take["take_id"]: cli_take["sha256"], page_take_id: first_take["sha256"]}

        def holds_all(state: dict[str, Any]) -> bool:
            held = {t["takeId"]: t["sha256"] for t in state["takes"] if t["complete"]}
            return all(held.get(k) == v for k, v in expected.items())

        second.wait(holds_all, "page-2 holds both takes complete")
        first.wait(holds_all, "page-1 holds both takes complete")
        joiner.wait_event("take-complete", take_id=page_take_id)
        joiner.wait_event("take-complete", take_id=cli_take["take_id"])
        first.close()
        second.close()
    held = exported_takes(joiner.store, tmp_path / "export-j")
    assert {k: held[k]["sha256"] for k in expected} == expected
    recorder_held = exported_takes(recorder.store, tmp_path / "export-r")
    assert recorder_held[page_take_id]["sha256"] == expected[page_take_id]
    assert_quiet(joiner, recorder)


def test_closing_the_tab_is_a_clean_leave_for_cli_peers(
    web_server: SignalServer, browser: Chromium, vamp: str, tmp_path: Path
) -> None:
    with PeerProcess.join(web_server.url, vamp, "cli-stay", tmp_path) as stay:
        page = open_page(browser, web_server, vamp, "page-leave")
        page.wait(lambda s: open_peers(s) == {"cli-stay"}, "the CLI peer open")
        stay.wait_event("peer-joined", name="page-leave")
        page.close()
        left = stay.wait_event("peer-left", name="page-leave")
        assert left["clean"] is True, stay.describe()
        until(lambda: "left vamp" in web_server.log, "the server saw the page leave")
    assert_quiet(stay)
    assert "WARNING" not in stay.stderr, stay.describe()


def test_a_page_joining_after_the_recorder_left_fetches_the_take_from_a_holder(
    web_server: SignalServer, browser: Chromium, vamp: str, tmp_path: Path
) -> None:
    with PeerProcess.join(web_server.url, vamp, "cli-holder", tmp_path) as holder:
        with PeerProcess.record(web_server.url, vamp, "gone", tmp_path, duration=1.0) as gone:
            assert gone.wait() == 0, gone.describe()
        take_id, sha256 = gone.final()["take_id"], gone.final()["sha256"]
        holder.wait_event("take-complete", take_id=take_id)
        # Its owner is not connected, so only WANT (sent by the page) can bring it.
        page = open_page(browser, web_server, vamp, "page-late")
        held = page.wait(lambda s: next(
            (t for t in s["takes"] if t["takeId"] == take_id and t["complete"]), None
        ), "the page fetched the take from cli-holder")
        assert held["sha256"] == sha256 and held["owner"] == "gone"
        page.close()
    assert_quiet(holder, gone)


def test_a_page_under_a_cli_peers_name_is_refused_and_told_why(
    web_server: SignalServer, browser: Chromium, vamp: str, tmp_path: Path
) -> None:
    with PeerProcess.join(web_server.url, vamp, "cli-1", tmp_path) as one:
        one.wait_event("joining")
        page = browser.open("dup", f"{web_server.url}/?vamp={vamp}&name=cli-1")
        state = page.wait(lambda s: s if s["status"] == "refused" else None, "the refusal")
        assert "cli-1" in state["error"] and "name" in state["error"]
        one.wait_event("warning")  # the CLI peer says whom it refused, and stays
        assert one.process.poll() is None and not one.find("peer-left")
        page.close()
