"""A per-socket event rate limit: a token bucket, plus a throttle on telling the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Admission(Enum):
    ADMIT = "admit"
    REFUSE_AND_TELL = "refuse-and-tell"
    """Refused; the client has not been told in the last `notice_interval` seconds."""
    REFUSE_QUIETLY = "refuse-quietly"
    """Refused; the client was told recently, so a flood is not answered by a flood."""


@dataclass
class EventRateLimit:
    """Admits `rate` events per second on average and bursts of up to `burst` events."""

    rate: float
    burst: int
    notice_interval: float = 1.0
    _tokens: float = field(init=False)
    _updated: float | None = field(default=None, init=False)
    _last_notice: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)

    def admit(self, now: float) -> Admission:
        """Account one event arriving at monotonic time `now`."""
        if self._updated is not None:
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return Admission.ADMIT
        if self._last_notice is None or now - self._last_notice >= self.notice_interval:
            self._last_notice = now
            return Admission.REFUSE_AND_TELL
        return Admission.REFUSE_QUIETLY
