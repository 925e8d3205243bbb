"""Logging for the CLI: warnings and errors as one readable line on stderr."""

from __future__ import annotations

import logging

_NOISY = ("aioice", "aiortc", "socketio", "engineio", "aiohttp")


def setup_logging(level: str = "warning") -> None:
    """Log ``level`` and above from vamp; the libraries only say something at debug."""
    numeric = getattr(logging, level.upper(), logging.WARNING)
    logging.basicConfig(level=numeric, format="vamp: %(levelname)s: %(message)s")
    for name in _NOISY:
        logging.getLogger(name).setLevel(
            logging.DEBUG if numeric <= logging.DEBUG else logging.ERROR
        )
