"""What a running peer tells its user: one line per event, or one JSON object per line."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


class Reporter:
    """Prints events. Human lines carry a clock time; ``--json`` lines carry ``event``,
    ``time`` (Unix seconds), ``message`` (the human line) and the event's fields."""

    def __init__(self, json_mode: bool = False, out: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.out = out or sys.stdout

    def emit(self, event: str, text: str, **fields: Any) -> None:
        if self.json_mode:
            line = json.dumps(
                {"event": event, "time": round(time.time(), 3), "message": text, **fields}
            )
        else:
            line = f"{time.strftime('%H:%M:%S')} {text}"
        print(line, file=self.out, flush=True)

    def result(self, obj: dict[str, Any]) -> None:
        """The final object of a command: JSON with --json, ``key: value`` lines otherwise."""
        if self.json_mode:
            print(json.dumps(obj), file=self.out, flush=True)
        else:
            for key, value in obj.items():
                print(f"{key}: {value}", file=self.out, flush=True)
