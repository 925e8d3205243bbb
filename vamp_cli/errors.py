"""Errors a user can act on. The CLI prints their message, never a traceback."""

from __future__ import annotations


class VampError(Exception):
    """An error with a message meant for the user (one clear sentence, with the fix)."""

    exit_code = 1
