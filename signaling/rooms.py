"""Who is in which vamp: the server's only shared state, kept pure so it can be tested alone.

A socket is in at most one vamp; members keep their join order; an empty vamp is removed
at once, so nothing a client does leaves state behind after it leaves or disconnects.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Left:
    """`sid` left `vamp`; `remaining` are the members still there (to be told)."""

    sid: str
    vamp: str
    remaining: tuple[str, ...]


@dataclass(frozen=True)
class Joined:
    """`sid` is in `vamp` with `others` (in join order); `previous` if it left another vamp."""

    vamp: str
    others: tuple[str, ...]
    previous: Left | None
    rejoined: bool
    """True when the socket was already in this vamp (nothing changed)."""

    @property
    def size(self) -> int:
        return len(self.others) + 1


@dataclass(frozen=True)
class Full:
    """The vamp already has `max_peers` members; the socket stays where it was."""

    vamp: str
    max_peers: int


@dataclass
class Rooms:
    """The vamps and their members."""

    _members: dict[str, dict[str, None]] = field(default_factory=dict)
    """vamp -> its members as an insertion-ordered set."""
    _vamp_of: dict[str, str] = field(default_factory=dict)

    def vamp_of(self, sid: str) -> str | None:
        return self._vamp_of.get(sid)

    def members(self, vamp: str) -> tuple[str, ...]:
        return tuple(self._members.get(vamp, ()))

    @property
    def vamp_count(self) -> int:
        return len(self._members)

    @property
    def member_count(self) -> int:
        return len(self._vamp_of)

    def join(self, sid: str, vamp: str, *, max_peers: int) -> Joined | Full:
        """Put `sid` in `vamp`, leaving its previous vamp; refused when the vamp is full."""
        current = self._vamp_of.get(sid)
        if current == vamp:
            others = tuple(m for m in self._members[vamp] if m != sid)
            return Joined(vamp, others, previous=None, rejoined=True)
        members = self._members.get(vamp, {})
        if len(members) >= max_peers:
            return Full(vamp, max_peers)
        previous = self.leave(sid)
        others = tuple(members)
        self._members.setdefault(vamp, {})[sid] = None
        self._vamp_of[sid] = vamp
        return Joined(vamp, others, previous=previous, rejoined=False)

    def leave(self, sid: str) -> Left | None:
        """Take `sid` out of its vamp; None when it was in none."""
        vamp = self._vamp_of.pop(sid, None)
        if vamp is None:
            return None
        members = self._members[vamp]
        del members[sid]
        if not members:
            del self._members[vamp]
        return Left(sid, vamp, tuple(members))
