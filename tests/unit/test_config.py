"""Settings.from_env: defaults, the documented aliases, and one-line errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from zava_core.errors import ZavaError
from zava_core.infra.config import EMBEDDING_BACKENDS, ConfigError, Settings


def load(**env: str) -> Settings:
    return Settings.from_env(env, dotenv=False)


def config_error(**env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(**env)
    message = str(info.value)
    assert "\n" not in message, f"the message must be one line: {message!r}"
    return message


# --- defaults and aliases ----------------------------------------------------------------------


def test_defaults_from_an_empty_environment() -> None:
    settings = load()
    assert settings.mongodb_uri is None
    assert settings.uses_embedded_engine
    assert settings.mongodb_database == "zava"
    assert settings.embedding_backend == "static"
    assert settings.azure_openai_deployment_name == "text-embedding-3-small"
    assert settings.read_only is False
    assert settings.head_office is False
    assert settings.log_level == "INFO"
    assert settings.tokens_file is None


def test_blank_values_fall_back_to_the_defaults() -> None:
    settings = load(MONGODB_URI="  ", MONGODB_DATABASE=" ", ZAVA_EMBEDDING_BACKEND="", ZAVA_LOG_LEVEL="")
    assert settings.mongodb_uri is None
    assert settings.mongodb_database == "zava"
    assert settings.embedding_backend == "static"
    assert settings.log_level == "INFO"


def test_mongodb_connection_string_is_an_alias_of_mongodb_uri() -> None:
    uri = "mongodb://db.example.com:27017/?replicaSet=rs0"
    settings = load(MONGODB_CONNECTION_STRING=uri)
    assert settings.mongodb_uri == uri
    assert not settings.uses_embedded_engine


def test_mongodb_uri_wins_over_the_alias() -> None:
    settings = load(MONGODB_URI="mongodb://primary:27017/", MONGODB_CONNECTION_STRING="mongodb://alias:27017/")
    assert settings.mongodb_uri == "mongodb://primary:27017/"


def test_explicit_values_are_read() -> None:
    settings = load(
        MONGODB_URI="mongodb+srv://user:pw@cluster0.example.net/?retryWrites=true",
        MONGODB_DATABASE="zava_dev",
        ZAVA_EMBEDDING_BACKEND="Azure-OpenAI",
        AZURE_OPENAI_ENDPOINT="https://example.openai.azure.com",
        AZURE_OPENAI_DEPLOYMENT_NAME="embed-small",
        ZAVA_READ_ONLY="yes",
        ZAVA_HEAD_OFFICE="ON",
        ZAVA_LOG_LEVEL="debug",
        ZAVA_DATA_DIR="/tmp/zava-data",
    )
    assert settings.mongodb_uri.startswith("mongodb+srv://")
    assert settings.mongodb_database == "zava_dev"
    assert settings.embedding_backend == "azure-openai"
    assert settings.azure_openai_endpoint == "https://example.openai.azure.com"
    assert settings.azure_openai_deployment_name == "embed-small"
    assert settings.read_only is True
    assert settings.head_office is True
    assert settings.log_level == "DEBUG"
    assert settings.data_dir == Path("/tmp/zava-data")


@pytest.mark.parametrize("backend", EMBEDDING_BACKENDS)
def test_every_documented_backend_is_accepted(backend: str) -> None:
    assert load(ZAVA_EMBEDDING_BACKEND=backend).embedding_backend == backend


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("true", True), ("no", False), ("off", False),
                                                ("0", False)])
def test_booleans(text: str, expected: bool) -> None:
    assert load(ZAVA_READ_ONLY=text).read_only is expected


# --- malformed values --------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["http://db.example.com:27017", "mongo://localhost", "localhost:27017"])
def test_bad_uri_scheme(uri: str) -> None:
    message = config_error(MONGODB_URI=uri)
    assert "MONGODB_URI" in message
    assert "mongodb://" in message


def test_malformed_uri_is_reported_without_its_password() -> None:
    message = config_error(MONGODB_URI="mongodb://admin:Sup3rSecret@db.example.com:99999/")
    assert "MONGODB_URI" in message
    assert "Sup3rSecret" not in message


def test_unencoded_at_sign_in_password_gets_the_encoding_hint() -> None:
    message = config_error(MONGODB_URI="mongodb://admin:p@ssw0rd@db.example.com:27017/")
    assert message.startswith("MONGODB_URI")
    assert "'@'" in message and "URL-encode" in message and "encode-password" in message
    assert "p@ssw0rd" not in message and "ssw0rd" not in message


def test_a_well_formed_uri_gets_no_hint() -> None:
    # The same password, URL-encoded, is accepted.
    settings = load(MONGODB_URI="mongodb://admin:p%40ssw0rd@db.example.com:27017/")
    assert settings.mongodb_uri == "mongodb://admin:p%40ssw0rd@db.example.com:27017/"


@pytest.mark.parametrize("name", ["zava.test", "zava test", "zava/test", 'za"va', "za$va", "x" * 64])
def test_bad_database_name(name: str) -> None:
    message = config_error(MONGODB_DATABASE=name)
    assert message.startswith("MONGODB_DATABASE=")


def test_longest_database_name_is_accepted() -> None:
    assert load(MONGODB_DATABASE="x" * 63).mongodb_database == "x" * 63


def test_unknown_backend() -> None:
    message = config_error(ZAVA_EMBEDDING_BACKEND="word2vec")
    assert message.startswith("ZAVA_EMBEDDING_BACKEND=")
    assert all(backend in message for backend in EMBEDDING_BACKENDS)


@pytest.mark.parametrize("name", ["ZAVA_READ_ONLY", "ZAVA_HEAD_OFFICE"])
@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_bad_boolean(name: str, value: str) -> None:
    message = config_error(**{name: value})
    assert message.startswith(f"{name}=")
    assert value in message


def test_bad_log_level() -> None:
    message = config_error(ZAVA_LOG_LEVEL="verbose")
    assert message.startswith("ZAVA_LOG_LEVEL=")


@pytest.mark.parametrize("name", ["OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"])
def test_bad_http_url(name: str) -> None:
    message = config_error(**{name: "ftp://example.com"})
    assert message.startswith(f"{name}=")


def test_a_bad_setting_reaches_callers_as_a_zava_error_with_its_one_line() -> None:
    # The servers turn every ZavaError into the one-line tool error a caller reads, and the CLIs print
    # it: a bad setting found late (the embedder's key at the first search) must be one of them.
    with pytest.raises(ZavaError) as caught:
        load(MONGODB_URI="http://db.example.com:27017")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("MONGODB_URI")
