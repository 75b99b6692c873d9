"""Expected failures, raised by zava_core and turned into the MCP SDK's ToolError at the server edge.

zava_core never imports MCP; every message here is written for the caller (often an LLM):
short, specific, and saying what to do instead.
"""

from __future__ import annotations

ECHO_CHARS = 60  # of a caller's value quoted back in a message: enough to recognise it, never a flood


def echo(value: object) -> str:
    """A caller's value as a message quotes it: repr, cut to ECHO_CHARS with its length said."""
    text = repr(value)
    return text if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}... ({len(text):,} characters)"


class ZavaError(Exception):
    """An expected failure with a message fit to show the caller.

    `quoted` is text the failure carries from the database (an engine's message about a stored value): the
    servers show it inside the untrusted-data fence, never as part of their own words; `str()` is the
    message alone.
    """

    def __init__(self, message: str = "", *, quoted: str | None = None) -> None:
        super().__init__(message)
        self.quoted = quoted


class InvalidArgument(ZavaError):
    pass


class NotFound(ZavaError):
    pass


class TooLarge(InvalidArgument):
    """An answer beyond what one export may hold: the message says how large it would be and how to narrow it."""


class OutOfScope(ZavaError):
    """The caller's identity does not cover the store (or row) asked for."""


class OutOfStock(ZavaError):
    pass


class Conflict(ZavaError):
    pass


class LimitReached(ZavaError):
    """A caller's allowance over time is used up (till lookups of other stores' customers); it frees up by itself."""


class Unavailable(ZavaError):
    """The database (or an embedding provider) cannot be reached."""


class InvalidTransition(Conflict):
    """The order's status does not allow this change (cancelled twice, shipped after delivery, ...)."""


class IdempotencyMismatch(Conflict):
    """An idempotency key already used for a different request: the first request stands, nothing changed."""
