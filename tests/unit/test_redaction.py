"""Redaction helpers: connection-string credentials and configured secrets never reach logs or output."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from zava_core.infra.config import Settings
from zava_core.infra.redaction import (
    display_uri,
    install_log_redaction,
    redact,
    redact_uri,
    settings_secrets,
    uri_secrets,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://alice:secret@db.example.com:27017/zava", "mongodb://***@db.example.com:27017/zava"),
        ("mongodb+srv://alice:secret@cluster0.example.net/?retryWrites=true",
         "mongodb+srv://***@cluster0.example.net/?retryWrites=true"),
        ("mongodb://alice:p@ss@w0rd@db.example.com:27017/", "mongodb://***@db.example.com:27017/"),
        ("mongodb://db.example.com:27017/zava", "mongodb://db.example.com:27017/zava"),
    ],
)
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_redact_uri_inside_text_masks_every_connection_string() -> None:
    text = ("cannot reach mongodb://bob:hunter2@a.example.com:27017/ nor "
            "mongodb+srv://carol:pa@ss@b.example.net/x (timeout)")
    redacted = redact_uri(text)
    for secret in ("hunter2", "bob", "carol", "pa@ss"):
        assert secret not in redacted
    assert "a.example.com:27017" in redacted and "b.example.net/x (timeout)" in redacted
    assert redacted.startswith("cannot reach mongodb://***@")


@pytest.mark.parametrize(
    ("uri", "password"),
    [
        ("mongodb://zava:pa ss-word@127.0.0.1:27017/", "pa ss-word"),
        ("mongodb://zava:pa'ss\"word@h:1,h2:2/zava?replicaSet=rs0", "pa'ss\"word"),
        ("mongodb+srv://zava:tab\tbed@cluster0.example.net/", "tab\tbed"),
        ("mongodb://zava:p%40ss%2Fw0rd@db.example.com/", "p@ss/w0rd"),
        ("mongodb://zava:plus+sign@db.example.com/", "plus sign"),
    ],
)
def test_uri_secrets_holds_the_password_as_written_and_decoded(uri: str, password: str) -> None:
    found = uri_secrets(uri)
    assert password in found
    raw = uri.split("://", 1)[1].rpartition("@")[0].partition(":")[2]
    assert raw in found


@pytest.mark.parametrize("uri", [None, "", "mongodb://db.example.com:27017/zava", "mongodb://@h/",
                                 "http://user:pw@example.com/"])
def test_uri_secrets_of_a_uri_without_credentials_is_empty(uri: str | None) -> None:
    assert uri_secrets(uri) == ()


def test_a_configured_password_is_masked_where_the_pattern_cannot_delimit_it() -> None:
    uri = "mongodb://zava:pa ss\"wo'rd@127.0.0.1:27017/"
    text = f"cannot reach MongoDB at {uri}: timed out; retrying with password=pa ss\"wo'rd"
    assert "pa ss" in redact_uri(text)  # the pattern alone stops at the space
    masked = redact(text, uri_secrets(uri))
    assert "pa ss" not in masked and "wo'rd" not in masked
    assert masked.startswith("cannot reach MongoDB at mongodb://***@127.0.0.1:27017/: timed out")


def test_secrets_are_masked_in_their_url_encoded_forms_too() -> None:
    key = "sk-live key/with+marks"
    for form in (key, "sk-live%20key%2Fwith%2Bmarks", "sk-live+key%2Fwith%2Bmarks"):
        assert redact(f"Incorrect API key provided: {form}.", [key]) == "Incorrect API key provided: ***."


def test_very_short_secrets_are_not_masked_everywhere() -> None:
    # A three-letter password would mask every "abc" in every log line; the URI pattern still covers URIs.
    assert redact("abc is fine; mongodb://u:abc@h/", ["abc"]) == "abc is fine; mongodb://***@h/"


def test_display_uri_keeps_hosts_and_options() -> None:
    uri = "mongodb://zava:pa ss@h1:27017,h2:27018/zava?replicaSet=rs0&tls=true"
    assert display_uri(uri) == "mongodb://***@h1:27017,h2:27018/zava?replicaSet=rs0&tls=true"


def test_settings_secrets_and_repr_hide_the_uri_password_and_the_api_keys() -> None:
    settings = replace(Settings(), mongodb_uri="mongodb://zava:pa ss-1234@db.example.com/",
                       openai_api_key="sk-openai-5678", azure_openai_api_key="azure-9012")
    secrets = settings_secrets(settings)
    assert {"pa ss-1234", "sk-openai-5678", "azure-9012"} <= set(secrets)
    shown = repr(settings)
    for secret in ("pa ss-1234", "sk-openai-5678", "azure-9012"):
        assert secret not in shown
    assert "mongodb://***@db.example.com/" in shown and "openai_api_key='***'" in shown
    assert "openai_base_url=None" in shown  # everything else is still shown


@pytest.fixture
def restore_record_factory() -> Iterator[Callable[..., logging.LogRecord]]:
    original = logging.getLogRecordFactory()
    try:
        yield original
    finally:
        logging.setLogRecordFactory(original)


def test_log_redaction_masks_messages_arguments_and_tracebacks_for_handlers_added_later(
        restore_record_factory: Callable[..., logging.LogRecord]) -> None:
    secret = "pa ss-4321"
    settings = replace(Settings(), mongodb_uri=f"mongodb://zava:{secret}@h/", openai_api_key="sk-k3y")
    install_log_redaction(settings)
    install_log_redaction(settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a handler of its own, as uvicorn adds after start-up
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("zava.test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connecting with %s to %s using %s", secret, "mongodb://u:x@h/", "sk-k3y")
        try:
            raise RuntimeError(f"login failed for password {secret}")
        except RuntimeError:
            logger.exception("database error")
        logger.error("a malformed call with %s and %d", secret)  # must not raise here
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert secret not in output and "sk-k3y" not in output
    assert "WARNING connecting with *** to mongodb://***@h/ using ***" in output
    assert "RuntimeError: login failed for password ***" in output  # the traceback is kept, masked
    assert "a malformed call with %s and %d ('***',)" in output
    # Installed twice, it wraps the original factory once.
    assert getattr(logging.getLogRecordFactory(), "unmasked", None) is restore_record_factory


def test_log_arguments_keep_their_type_so_formatters_that_unpack_them_work(
        restore_record_factory: Callable[..., logging.LogRecord]) -> None:
    # uvicorn's access formatter unpacks record.args itself: (client, method, path, version, status as %d).
    install_log_redaction(replace(Settings(), mongodb_uri="mongodb://zava:s3cret-pw@h/"))
    token = "zava_" + "A1b2-C3d4_" * 4
    record = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/mcp?token={token}&pw=s3cret-pw", "1.1", 401), None)
    assert isinstance(record.args, tuple) and record.args[4] == 401
    _, method, path, _, status = record.args
    assert f"{method} {path} {status}" == "POST /mcp?token=zava_***&pw=*** 401"
    assert record.getMessage() == '127.0.0.1:5000 - "POST /mcp?token=zava_***&pw=*** HTTP/1.1" 401'
    # A dict of arguments, and an object whose repr (not str) shows a secret.

    class Holder:
        def __repr__(self) -> str:
            return "Holder(password='s3cret-pw')"

    named = logging.getLogger("zava.test").makeRecord("zava.test", logging.INFO, __file__, 1, "%(a)s %(n)d %(h)r",
                                                      ({"a": "s3cret-pw", "n": 7, "h": Holder()},), None)
    assert named.getMessage() == "*** 7 \"Holder(password='***')\""


@pytest.mark.parametrize(("text", "shown"), [
    ("GET /sse?access_token=zava_Xy9-abcdefghijklmnopqrstuvwx HTTP/1.1", "GET /sse?access_token=zava_*** HTTP/1.1"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig-nature", "Authorization: Bearer ***"),
    ("zava_mcp is a package name, zava_ alone too", "zava_mcp is a package name, zava_ alone too"),
])
def test_bearer_tokens_are_masked_wherever_they_appear(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_secrets_learnt_while_running_are_masked_in_later_log_records(
        restore_record_factory: Callable[..., logging.LogRecord]) -> None:
    from zava_core.infra import redaction

    learnt = "engine-pw-" + "q" * 20
    install_log_redaction(Settings())
    before = logging.getLogger("zava.test").makeRecord("zava.test", logging.INFO, __file__, 1, "pw %s", (learnt,), None)
    redaction.remember_secrets([learnt])  # as db.resolve_uri does with the embedded engine's URI
    try:
        after = logging.getLogger("zava.test").makeRecord("zava.test", logging.INFO, __file__, 1, "pw %s %s",
                                                          (learnt, f"bare {learnt}"), None)
    finally:
        redaction._LEARNT.discard(learnt)
    assert learnt in before.getMessage()
    assert after.getMessage() == "pw *** bare ***"
