"""Expected failures, raised by zava_core and turned into the MCP SDK's ToolError at the server edge.

zava_core never imports MCP; every message here is written for the caller (often an LLM): short, specific,
and saying what to do instead. Every kind carries a `code` from `ErrorCode`, defined once here: a tool's
error text starts with it (`not_found: no customer cust_999999; ...`), the `/metrics` outcome label is it,
and the README lists each with what a caller should do (`WHAT_TO_DO`). A client, a log or a metric can tell
out-of-scope from a bad argument from busy without reading the prose.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

ECHO_CHARS = 60  # of a caller's value quoted back in a message: enough to recognise it, never a flood


def echo(value: object) -> str:
    """A caller's value as a message quotes it: repr, cut to ECHO_CHARS with its length said."""
    text = repr(value)
    return text if len(text) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}... ({len(text):,} characters)"


class ErrorCode(StrEnum):
    INVALID_ARGUMENT = "invalid_argument"
    UNKNOWN_ARGUMENT = "unknown_argument"
    UNKNOWN_TOOL = "unknown_tool"
    NOT_FOUND = "not_found"
    OUT_OF_SCOPE = "out_of_scope"
    NO_IDENTITY = "no_identity"
    OUT_OF_STOCK = "out_of_stock"
    WRONG_STATE = "wrong_state"
    CONFLICT = "conflict"
    KEY_REUSED = "key_reused"
    NOT_CONFIRMED = "not_confirmed"
    BUSY = "busy"
    LIMIT_REACHED = "limit_reached"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    INVALID_CONFIG = "invalid_config"
    INTERNAL = "internal"


# What a caller (a model, a program) should do about each; the README's table is generated from this.
WHAT_TO_DO: dict[ErrorCode, str] = {
    ErrorCode.INVALID_ARGUMENT: "Fix the argument the message names (it says what is valid) and call again.",
    ErrorCode.UNKNOWN_ARGUMENT: "Leave the argument out or use the valid name suggested; nothing was run.",
    ErrorCode.UNKNOWN_TOOL: "Call a tool the server lists (the message suggests the closest, or the server "
                            "that offers it).",
    ErrorCode.NOT_FOUND: "The id, SKU or name matches nothing you may see: look it up with the tool the message "
                         "names, then call again.",
    ErrorCode.OUT_OF_SCOPE: "Your identity does not cover that store: ask about your own stores; do not retry.",
    ErrorCode.NO_IDENTITY: "Start the server with --store or --head-office, or send a bearer token.",
    ErrorCode.OUT_OF_STOCK: "Lower the quantity or pick another store (the message gives the stock).",
    ErrorCode.WRONG_STATE: "The order's status does not allow this: take the step the message names instead.",
    ErrorCode.CONFLICT: "Another write got there first: retry the same call (same idempotency key).",
    ErrorCode.KEY_REUSED: "That idempotency key or delivery reference was used for something else: use a new "
                          "one.",
    ErrorCode.NOT_CONFIRMED: "The user declined or did not answer: nothing changed; ask them before calling "
                             "again.",
    ErrorCode.BUSY: "Your previous aggregation is still running: wait for it, then call again.",
    ErrorCode.LIMIT_REACHED: "An allowance over time is used up (the till's lookups of other stores' customers): "
                             "wait the time the message gives; do not retry sooner.",
    ErrorCode.TIMEOUT: "The query ran past its time limit: narrow it ($match first, fewer stages) or use a typed "
                       "tool.",
    ErrorCode.UNAVAILABLE: "The database or the embedding provider did not answer: nothing changed; retry "
                           "shortly.",
    ErrorCode.INVALID_CONFIG: "The server's configuration is wrong (the message names the setting): fix it and "
                              "restart.",
    ErrorCode.INTERNAL: "An unexpected server error (details in the server log): report it; do not retry in a "
                        "loop.",
}


class ZavaError(Exception):
    """An expected failure with a message fit to show the caller; its kind's `code` says what it is.

    `quoted` is text the failure carries from the database (an engine's message about a stored value): the
    servers show it inside the untrusted-data fence, never as part of their own words; `str()` is the
    message alone.
    """

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL

    def __init__(self, message: str = "", *, quoted: str | None = None) -> None:
        super().__init__(message)
        self.quoted = quoted


class InvalidArgument(ZavaError):
    code = ErrorCode.INVALID_ARGUMENT


class UnknownArgument(InvalidArgument):
    """A tool was called with an argument it does not have (the server edge finds these)."""

    code = ErrorCode.UNKNOWN_ARGUMENT


class NotFound(ZavaError):
    code = ErrorCode.NOT_FOUND


class UnknownTool(NotFound):
    code = ErrorCode.UNKNOWN_TOOL


class TooLarge(InvalidArgument):
    """An answer beyond what one export may hold: the message says how large it would be and how to narrow it."""


class OutOfScope(ZavaError):
    """The caller's identity does not cover the store (or row) asked for."""

    code = ErrorCode.OUT_OF_SCOPE


class NoIdentity(OutOfScope):
    """No launch identity and no verified token: no data."""

    code = ErrorCode.NO_IDENTITY


class OutOfStock(ZavaError):
    code = ErrorCode.OUT_OF_STOCK


class Conflict(ZavaError):
    code = ErrorCode.CONFLICT


class LimitReached(ZavaError):
    """A caller's allowance over time is used up (till lookups of other stores' customers); it frees up by itself."""

    code = ErrorCode.LIMIT_REACHED


class Unavailable(ZavaError):
    """The database (or an embedding provider) cannot be reached."""

    code = ErrorCode.UNAVAILABLE


class InvalidTransition(Conflict):
    """The order's status does not allow this change (cancelled twice, shipped after delivery, ...)."""

    code = ErrorCode.WRONG_STATE


class IdempotencyMismatch(Conflict):
    """An idempotency key already used for a different request: the first request stands, nothing changed."""

    code = ErrorCode.KEY_REUSED


class NotConfirmed(ZavaError):
    """The user did not confirm a write (MCP elicitation): nothing was changed."""

    code = ErrorCode.NOT_CONFIRMED


class Busy(ZavaError):
    """Refused at once rather than queued: the caller's own work (or the process's) is still running."""

    code = ErrorCode.BUSY


class TimedOut(ZavaError):
    code = ErrorCode.TIMEOUT
