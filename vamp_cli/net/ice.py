"""Which local addresses ICE may use, and the ICE server list given to every connection.

aioice never offers loopback addresses as host candidates, so on a host (or network
namespace) whose only interface is loopback two peers find no candidate pair at all. We
replace aioice's address lookup once per process: with ``--ice-host`` the user's list is
used as is; otherwise the machine's addresses, and 127.0.0.1 when there is nothing else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import Any

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

from vamp_cli.errors import VampError

_original_get_host_addresses: Callable[[bool, bool], list[str]] = aioice.ice.get_host_addresses


def restrict_host_addresses(hosts: Sequence[str]) -> None:
    """Make ICE gather host candidates on ``hosts`` only (all usable addresses when empty)."""
    chosen: list[str] = []
    for host in hosts:
        try:
            chosen.append(str(ipaddress.ip_address(host)))
        except ValueError:
            raise VampError(f"--ice-host {host!r} is not an IP address (e.g. 127.0.0.1)") from None

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        if chosen:
            return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]
        found = _original_get_host_addresses(use_ipv4, use_ipv6)
        return found or (["127.0.0.1"] if use_ipv4 else ["::1"])

    aioice.ice.get_host_addresses = get_host_addresses


def parse_ice_server(url: str) -> dict[str, Any]:
    """``--ice-server`` value to RTCIceServer shape: ``stun:host:port`` or
    ``turn:user:pass@host:port`` (credentials optional)."""
    scheme, _, rest = url.partition(":")
    if scheme not in ("stun", "stuns", "turn", "turns") or not rest:
        raise VampError(
            f"--ice-server {url!r} must look like stun:HOST:PORT or turn:USER:PASS@HOST:PORT"
        )
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        username, _, credential = creds.partition(":")
        return {"urls": f"{scheme}:{host}", "username": username, "credential": credential}
    return {"urls": url}


def rtc_configuration(servers: Sequence[dict[str, Any]]) -> RTCConfiguration:
    """An explicit ICE server list, always: aiortc would fall back to a public STUN server
    when given none, and an unreachable one stalls every offer for 5 seconds."""
    ice = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in servers
        if isinstance(s, dict) and "urls" in s
    ]
    return RTCConfiguration(iceServers=ice)
