"""Keeping secrets out of what people and models read: logs, error messages, CLI and tool output.

Two layers, because neither is enough alone. A pattern masks the credentials of any connection string
in a text, whoever configured it; but it cannot tell where a password holding a space or a quote ends,
and it knows nothing of API keys. So the secrets this process was configured with are also replaced
wherever they appear, as written, URL-decoded or URL-encoded (a provider quoting a key back, a library
printing a decoded password).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, ClassVar, Protocol
from urllib.parse import quote, quote_plus, unquote, unquote_plus


class Configured(Protocol):
    """What redaction reads of the settings (`config.Settings` is one): a protocol, so this module, which the
    configuration itself uses to show connection strings, does not import it back."""

    mongodb_uri: str | None
    api_key_fields: ClassVar[tuple[str, ...]]

MASK = "***"
# Shorter values would mask ordinary words and numbers everywhere; the URI pattern still covers them in URIs.
MIN_SECRET_LENGTH = 4

# Greedy up to the last "@" of the URI, so an unencoded "@" or "/" in a password is masked too
# (at worst it also masks an "@" further on: erring on the safe side).
_CREDENTIALS = re.compile(r"(mongodb(?:\+srv)?://)([^\s\"']*)@")
_SCHEMES = ("mongodb://", "mongodb+srv://")
# Bearer tokens wherever they appear: our own (`zava_` + 43 URL-safe characters, say in a query string of an
# access line) and whatever follows "Bearer " (a JWT, a provider's key in a header dump).
_TOKENS = re.compile(r"\b(zava_)[A-Za-z0-9_\-]{16,}|(?i:(bearer\s+))[A-Za-z0-9._~+/=\-]{8,}")


def redact_uri(text: str) -> str:
    """Mask the credentials of any connection string inside `text`."""
    return _CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def redact_tokens(text: str) -> str:
    """Mask bearer tokens inside `text`, keeping their prefix so a reader sees what was there."""
    return _TOKENS.sub(lambda m: f"{m.group(1) or m.group(2)}{MASK}", text)


def uri_secrets(uri: str | None) -> tuple[str, ...]:
    """The credentials inside a connection string: its user-info and password, raw and URL-decoded."""
    if not uri or not uri.startswith(_SCHEMES):
        return ()
    authority = uri.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    if "@" not in authority:
        # A password holding "/" or "?" unencoded: the user-info then reaches past the first "/".
        authority = uri.split("://", 1)[1]
    userinfo = authority.rpartition("@")[0]
    if not userinfo:
        return ()
    password = userinfo.partition(":")[2]
    return _variants((userinfo, password))


def settings_secrets(settings: Configured) -> tuple[str, ...]:
    """Every secret the settings hold: the MongoDB credentials and the embedding providers' API keys."""
    keys = (getattr(settings, name) for name in settings.api_key_fields)
    return (*uri_secrets(settings.mongodb_uri), *_variants(k for k in keys if k))


# Secrets learnt while running rather than configured: the embedded engine's own password (`db.resolve_uri`).
_LEARNT: set[str] = set()


def remember_secrets(values: Iterable[str]) -> None:
    """Mask `values` too in every log record this process makes from now on."""
    _LEARNT.update(v for v in values if len(v) >= MIN_SECRET_LENGTH)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets`, as written or URL-encoded, masked."""
    for secret in _masks(tuple(secrets)):
        text = text.replace(secret, MASK)
    return text


@lru_cache(maxsize=64)
def _masks(secrets: tuple[str, ...]) -> tuple[str, ...]:
    # Cached: every log record of a process asks for the same few secrets. Longest first, so a secret that
    # contains another is masked whole.
    return tuple(sorted(_variants(secrets, encoded=True), key=len, reverse=True))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every one of `secrets`, every connection string's credentials and every bearer token
    masked."""
    return redact_tokens(redact_uri(mask_secrets(text, secrets)))


def display_uri(uri: str) -> str:
    """A connection string fit to show: its credentials masked, hosts and options kept."""
    return redact(uri, uri_secrets(uri))


def _variants(values: Iterable[str], *, encoded: bool = False) -> tuple[str, ...]:
    found: set[str] = set()
    for value in values:
        forms = {value, unquote(value), unquote_plus(value)}
        if encoded:
            forms |= {f(form, safe="") for form in list(forms) for f in (quote, quote_plus)}
        found |= {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
    return tuple(sorted(found))


def scrub_record(record: logging.LogRecord, secrets: Iterable[str]) -> None:
    """Mask secrets in a log record's message, arguments, traceback and stack, in place.

    The arguments are masked one by one and keep their type where nothing needed masking: formatters such
    as uvicorn's access formatter unpack `record.args` themselves (and `%d` wants a number).
    """
    if isinstance(record.msg, str):
        record.msg = redact(record.msg, secrets)
    elif record.msg is not None:
        record.msg = redact(str(record.msg), secrets)
    if isinstance(record.args, dict):
        record.args = {key: _scrub_arg(value, secrets) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(_scrub_arg(value, secrets) for value in record.args)
    try:
        record.getMessage()
    except Exception:  # a malformed log call must not fail in a handler later: keep both parts, masked
        record.msg, record.args = f"{record.msg} {record.args!r}", None
    if record.exc_info:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact(record.exc_text, secrets)
    if record.stack_info:
        record.stack_info = redact(record.stack_info, secrets)


def _scrub_arg(value: Any, secrets: Iterable[str]) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value  # numbers carry no secret, and `%d`/`%.1f` need them as numbers
    if isinstance(value, str):
        return redact(value, secrets)
    for text in (_text(value, str), _text(value, repr)):  # the message may show either
        masked = redact(text, secrets)
        if masked != text:
            return masked
    return value


def _text(value: Any, show: Callable[[Any], str]) -> str:
    try:
        return show(value)
    except Exception:  # a broken __str__ must not break the caller's log call
        return f"<unprintable {type(value).__name__}>"


def install_log_redaction(settings: Configured) -> None:
    """Mask the configured secrets in every log record this process makes.

    At record creation rather than in a handler filter: uvicorn and the MCP SDK add handlers of their own
    after start-up, and every one of them must get masked records.
    """
    secrets = settings_secrets(settings)
    make = logging.getLogRecordFactory()
    make = getattr(make, "unmasked", make)  # installing twice replaces, never stacks

    def masked(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        scrub_record(record, (*secrets, *sorted(_LEARNT)))
        return record

    masked.unmasked = make  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked)
