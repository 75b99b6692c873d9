"""Configuration from environment variables and an optional `.env` file.

Every setting the project reads is named here, once; `.env.sample` documents the same names.
A malformed value raises `ConfigError` whose message is one line naming the variable, so the
entry points can print it instead of a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import platformdirs

from zava_core.errors import ErrorCode, ZavaError
from zava_core.infra.redaction import MASK, display_uri, redact, uri_secrets

EMBEDDING_BACKENDS = ("static", "onnx-minilm", "openai", "azure-openai")
AUTH_MODES = ("tokens", "oidc")
TOKEN_STORES = ("file", "mongodb")
LOG_FORMATS = ("text", "json")
MAX_CLOCK_SKEW_S = 300
MIN_REQUEST_STATE_KEY_CHARS = 32  # the SDK stretches each into an AES-256 key and wants 32 bytes at least
_DB_NAME_FORBIDDEN = re.compile(r'[/\\. "$\x00]')
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ZavaError, ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""

    code = ErrorCode.INVALID_CONFIG


@dataclass(frozen=True)
class ServingSettings:
    """How the HTTP transports identify callers and what they publish (read from ZAVA_AUTH, ZAVA_OIDC_*,
    ZAVA_TOKEN_STORE, ZAVA_ALLOWED_*, ZAVA_PUBLIC_URL, ZAVA_LOG_FORMAT, ZAVA_METRICS, OTEL_EXPORTER_OTLP_ENDPOINT)."""

    auth: str = "tokens"
    token_store: str = "file"
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None  # else found through the issuer's discovery document
    oidc_store_claim: str = "zava_store"
    oidc_head_office_value: str = "head-office"
    # Claim values (roles, groups) -> a store name or the head-office value; empty: the claim names the store.
    oidc_role_map: tuple[tuple[str, str], ...] = ()
    oidc_clock_skew_s: int = 60
    allowed_hosts: tuple[str, ...] = ()  # Host values accepted (DNS rebinding); empty: loopback names on loopback
    allowed_origins: tuple[str, ...] = ()
    public_url: str | None = None  # the base URL clients use (published as the protected resource)
    log_format: str = "text"
    metrics: bool = True
    otlp_endpoint: str | None = None
    # Secrets shared by the replicas, sealing the state of a confirmation round (2026-07-28) so that any replica
    # can take the answer; the first seals, every one opens (rotation). Empty: a key of this process only.
    request_state_keys: tuple[str, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        shown["request_state_keys"] = f"({len(self.request_state_keys)} keys)" if self.request_state_keys else "()"
        return f"ServingSettings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServingSettings:
        auth = _choice(env, "ZAVA_AUTH", AUTH_MODES)
        issuer = env.get("ZAVA_OIDC_ISSUER", "").strip() or None
        audience = env.get("ZAVA_OIDC_AUDIENCE", "").strip() or None
        jwks = env.get("ZAVA_OIDC_JWKS_URL", "").strip() or None
        if auth == "oidc" and not (issuer and audience):
            raise ConfigError("ZAVA_AUTH=oidc needs ZAVA_OIDC_ISSUER and ZAVA_OIDC_AUDIENCE "
                              "(the identity provider's issuer URL and the audience its tokens carry for this server)")
        for name, value in (("ZAVA_OIDC_ISSUER", issuer), ("ZAVA_OIDC_JWKS_URL", jwks),
                            ("ZAVA_PUBLIC_URL", env.get("ZAVA_PUBLIC_URL", "").strip())):
            if value:
                _check_http_url(name, value)
        skew_text = env.get("ZAVA_OIDC_CLOCK_SKEW", "").strip() or "60"
        if not skew_text.isdigit() or int(skew_text) > MAX_CLOCK_SKEW_S:
            raise ConfigError(f"ZAVA_OIDC_CLOCK_SKEW={skew_text!r} must be whole seconds from 0 to {MAX_CLOCK_SKEW_S}")
        return cls(
            auth=auth, token_store=_choice(env, "ZAVA_TOKEN_STORE", TOKEN_STORES),
            oidc_issuer=issuer, oidc_audience=audience, oidc_jwks_url=jwks,
            oidc_store_claim=env.get("ZAVA_OIDC_STORE_CLAIM", "").strip() or "zava_store",
            oidc_head_office_value=env.get("ZAVA_OIDC_HEAD_OFFICE_VALUE", "").strip() or "head-office",
            oidc_role_map=_role_map(env.get("ZAVA_OIDC_ROLE_MAP", "")), oidc_clock_skew_s=int(skew_text),
            allowed_hosts=_list(env.get("ZAVA_ALLOWED_HOSTS", "")),
            allowed_origins=_list(env.get("ZAVA_ALLOWED_ORIGINS", "")),
            public_url=env.get("ZAVA_PUBLIC_URL", "").strip().rstrip("/") or None,
            log_format=_choice(env, "ZAVA_LOG_FORMAT", LOG_FORMATS),
            metrics=_bool(env, "ZAVA_METRICS") if env.get("ZAVA_METRICS", "").strip() else True,
            otlp_endpoint=env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or None,
            request_state_keys=_request_state_keys(env.get("ZAVA_REQUEST_STATE_KEYS", "")),
        )


@dataclass(frozen=True)
class Settings:
    mongodb_uri: str | None = None
    mongodb_database: str = "zava"
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("zava-mcp")))
    embedding_backend: str = "static"
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    openai_embedding_model: str = "text-embedding-3-small"
    azure_openai_endpoint: str | None = None
    azure_openai_api_key: str | None = None
    azure_openai_api_version: str = "2024-10-21"
    azure_openai_deployment_name: str = "text-embedding-3-small"
    read_only: bool = False
    store: str | None = None
    head_office: bool = False
    tokens_file: Path | None = None
    log_level: str = "INFO"
    serving: ServingSettings = field(default_factory=ServingSettings)
    # The fields whose values are secrets (besides the password inside mongodb_uri).
    api_key_fields: ClassVar[tuple[str, ...]] = ("openai_api_key", "azure_openai_api_key")

    def __repr__(self) -> str:
        # Settings end up in tracebacks and debug logs: show that a secret is set, never its value.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.mongodb_uri:
            shown["mongodb_uri"] = display_uri(self.mongodb_uri)
        for name in self.api_key_fields:
            if shown[name]:
                shown[name] = MASK
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    @property
    def tokens_path(self) -> Path:
        """Where the HTTP transports' bearer tokens are kept (ZAVA_TOKENS_FILE, else in the data dir)."""
        return self.tokens_file or self.data_dir / "tokens.json"

    @property
    def uses_embedded_engine(self) -> bool:
        return self.mongodb_uri is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Read settings; `environ` defaults to os.environ (plus `.env` from the working directory)."""
        if environ is None:
            if dotenv:
                _load_dotenv()
            environ = os.environ
        env = {k: v for k, v in environ.items() if v is not None}

        uri_name = next((n for n in ("MONGODB_URI", "MONGODB_CONNECTION_STRING") if env.get(n, "").strip()), None)
        uri = env[uri_name].strip() if uri_name else None
        if uri is not None:
            _check_mongodb_uri(uri, uri_name or "MONGODB_URI")
        database = env.get("MONGODB_DATABASE", "").strip() or "zava"
        if _DB_NAME_FORBIDDEN.search(database) or len(database) > 63:
            raise ConfigError(
                f"MONGODB_DATABASE={database!r} is not a valid database name "
                "(no spaces, dots, slashes, quotes or '$'; at most 63 characters)"
            )
        backend = env.get("ZAVA_EMBEDDING_BACKEND", "").strip().lower() or "static"
        if backend not in EMBEDDING_BACKENDS:
            raise ConfigError(
                f"ZAVA_EMBEDDING_BACKEND={backend!r} is not one of {', '.join(EMBEDDING_BACKENDS)}"
            )
        data_dir_text = env.get("ZAVA_DATA_DIR", "").strip()
        data_dir = Path(data_dir_text).expanduser() if data_dir_text else Settings().data_dir
        tokens_text = env.get("ZAVA_TOKENS_FILE", "").strip()
        log_level = env.get("ZAVA_LOG_LEVEL", "").strip().upper() or "INFO"
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"ZAVA_LOG_LEVEL={log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")
        for name in ("OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"):
            if env.get(name, "").strip():
                _check_http_url(name, env[name].strip())
        return cls(
            mongodb_uri=uri,
            mongodb_database=database,
            data_dir=data_dir,
            embedding_backend=backend,
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=env.get("OPENAI_BASE_URL", "").strip() or None,
            openai_embedding_model=env.get("OPENAI_EMBEDDING_MODEL", "").strip() or "text-embedding-3-small",
            azure_openai_endpoint=env.get("AZURE_OPENAI_ENDPOINT", "").strip() or None,
            azure_openai_api_key=env.get("AZURE_OPENAI_API_KEY") or None,
            azure_openai_api_version=env.get("AZURE_OPENAI_API_VERSION", "").strip() or "2024-10-21",
            azure_openai_deployment_name=env.get("AZURE_OPENAI_DEPLOYMENT_NAME", "").strip()
            or "text-embedding-3-small",
            read_only=_bool(env, "ZAVA_READ_ONLY"),
            store=env.get("ZAVA_STORE", "").strip() or None,
            head_office=_bool(env, "ZAVA_HEAD_OFFICE"),
            tokens_file=Path(tokens_text).expanduser() if tokens_text else None,
            log_level=log_level,
            serving=ServingSettings.from_env(env),
        )


def _load_dotenv() -> None:
    from dotenv import find_dotenv, load_dotenv

    path = find_dotenv(usecwd=True)
    if path:
        load_dotenv(path, override=False)


def _bool(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean: use 1/0, true/false, yes/no or on/off")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = env.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _list(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _request_state_keys(text: str) -> tuple[str, ...]:
    keys = _list(text)
    if any(len(key) < MIN_REQUEST_STATE_KEY_CHARS for key in keys):  # never echoed: they are secrets
        raise ConfigError(f"ZAVA_REQUEST_STATE_KEYS: each key must be at least {MIN_REQUEST_STATE_KEY_CHARS} "
                          "characters (make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return keys


def _role_map(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in _list(text):
        claim_value, _, identity = item.partition("=")
        if not claim_value.strip() or not identity.strip():
            raise ConfigError(f"ZAVA_OIDC_ROLE_MAP entry {item[:60]!r} must read CLAIM_VALUE=STORE "
                              "(or CLAIM_VALUE=head-office), entries separated by commas")
        pairs.append((claim_value.strip(), identity.strip()))
    return tuple(pairs)


def _check_mongodb_uri(uri: str, name: str) -> None:
    # The structure (scheme, credentials, hosts) through the one parser, which names the cause and the
    # fix; then PyMongo's own option validation, except for SRV strings, whose parsing resolves DNS
    # (left to the connection and `doctor`).
    from pymongo.errors import ConfigurationError, InvalidURI
    from pymongo.uri_parser import parse_uri

    from zava_core.infra.uri import UriProblem, parse_connection_string

    try:
        parse_connection_string(uri)
    except UriProblem as problem:
        raise ConfigError(f"{name} {problem.detail}: {problem.fix}") from None
    if uri.startswith("mongodb+srv://"):
        return
    try:
        parse_uri(uri)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        raise ConfigError(f"{name} is malformed: {redact(str(exc), uri_secrets(uri))}") from None


def _check_http_url(name: str, value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ConfigError(f"{name}={value!r} must be an http(s) URL such as https://example.openai.azure.com")
