"""What a user sees when joining cannot work: one line saying why, an exit code, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.peers import LOOPBACK_ONLY, VAMP, PeerProcess
from tests.support.signal_server import free_port, running_signal_server


def vamp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VAMP), *args], capture_output=True, text=True, timeout=timeout)


def quiet_join(
    server: str, store: Path, *extra: str, stay: float = 0
) -> subprocess.CompletedProcess[str]:
    return vamp(
        "join",
        "errors",
        "--server",
        server,
        "--name",
        "q",
        "--store",
        str(store),
        "--input",
        "none",
        "--output",
        "none",
        "--leave-after",
        str(stay),
        *LOOPBACK_ONLY,
        *extra,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], result.stderr


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = quiet_join(url, tmp_path / "s", "--connect-timeout", "0.5")
    assert_one_clear_line(result, "cannot reach the signaling server", url)


def test_a_full_vamp_is_refused_with_its_reason(tmp_path: Path) -> None:
    with running_signal_server("--max-peers", "1") as server:
        member = PeerProcess.join(server.url, "errors", "member", tmp_path)
        try:
            member.wait_event("joining")
            result = quiet_join(server.url, tmp_path / "s", stay=30)
            assert_one_clear_line(result, "is full")
        finally:
            member.stop()


def test_a_missing_token_is_refused_with_its_reason(tmp_path: Path) -> None:
    with running_signal_server("--secret", "s3cret") as server:
        result = quiet_join(server.url, tmp_path / "s")
        assert_one_clear_line(result, "refused us", "token")
        token = vamp("token", "errors", "--secret", "s3cret").stdout.strip()
        assert quiet_join(server.url, tmp_path / "s", "--token", token).returncode == 0


def test_bad_options_are_refused_before_joining(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: a refusal must come first
    assert_one_clear_line(
        quiet_join(url, tmp_path / "s", "--ice-host", "not-an-address"), "--ice-host"
    )
    assert_one_clear_line(
        quiet_join(url, tmp_path / "s", "--ice-server", "http://example"), "--ice-server"
    )


def test_a_second_peer_under_a_taken_name_is_refused_and_the_first_stays(tmp_path: Path) -> None:
    with running_signal_server() as server:
        first = PeerProcess.join(server.url, "errors", "q", tmp_path)
        try:
            first.wait_event("joining")
            result = quiet_join(server.url, tmp_path / "s", stay=30)
            assert_one_clear_line(result, "'q' is already used", "--name")
            first.wait_event("warning")
            assert first.process.poll() is None
            assert not first.find("peer-left")
        finally:
            first.stop()
