"""The serving settings (ZAVA_AUTH, ZAVA_OIDC_*, ZAVA_TOKEN_STORE, ZAVA_ALLOWED_*, ZAVA_LOG_FORMAT, ZAVA_METRICS):
defaults, parsing, and one-line errors that name the variable."""

from __future__ import annotations

import pytest

from zava_core.infra.config import ConfigError, Settings

OIDC = {"ZAVA_AUTH": "oidc", "ZAVA_OIDC_ISSUER": "https://login.example.com/tenant/v2.0",
        "ZAVA_OIDC_AUDIENCE": "api://zava"}


def load(**env: str) -> Settings:
    return Settings.from_env(env, dotenv=False)


def error(**env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(**env)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_defaults_keep_todays_tokens() -> None:
    serving = load().serving
    assert (serving.auth, serving.token_store, serving.log_format, serving.metrics) == ("tokens", "file", "text", True)
    assert serving.oidc_store_claim == "zava_store" and serving.oidc_head_office_value == "head-office"
    assert serving.allowed_hosts == () and serving.otlp_endpoint is None


def test_oidc_settings_are_read() -> None:
    serving = load(**OIDC, ZAVA_OIDC_ROLE_MAP="zava-sea = seattle, zava-hq=head-office", ZAVA_OIDC_CLOCK_SKEW="30",
                   ZAVA_OIDC_STORE_CLAIM="groups", ZAVA_ALLOWED_HOSTS="zava.example.com, zava.example.com:443",
                   ZAVA_TOKEN_STORE="MongoDB", ZAVA_LOG_FORMAT="json", ZAVA_METRICS="0",
                   OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318").serving
    assert serving.oidc_role_map == (("zava-sea", "seattle"), ("zava-hq", "head-office"))
    assert serving.oidc_clock_skew_s == 30 and serving.oidc_store_claim == "groups"
    assert serving.allowed_hosts == ("zava.example.com", "zava.example.com:443")
    assert (serving.token_store, serving.log_format, serving.metrics) == ("mongodb", "json", False)
    assert serving.otlp_endpoint == "http://127.0.0.1:4318"


@pytest.mark.parametrize(("env", "names"), [
    ({"ZAVA_AUTH": "oidc"}, "ZAVA_OIDC_ISSUER"),
    ({"ZAVA_AUTH": "oidc", "ZAVA_OIDC_ISSUER": "https://x.example"}, "ZAVA_OIDC_AUDIENCE"),
    ({"ZAVA_AUTH": "saml"}, "ZAVA_AUTH"),
    ({**OIDC, "ZAVA_OIDC_ISSUER": "login.example.com"}, "ZAVA_OIDC_ISSUER"),
    ({**OIDC, "ZAVA_OIDC_JWKS_URL": "ftp://keys"}, "ZAVA_OIDC_JWKS_URL"),
    ({**OIDC, "ZAVA_OIDC_CLOCK_SKEW": "3600"}, "ZAVA_OIDC_CLOCK_SKEW"),
    ({**OIDC, "ZAVA_OIDC_CLOCK_SKEW": "-5"}, "ZAVA_OIDC_CLOCK_SKEW"),
    ({**OIDC, "ZAVA_OIDC_ROLE_MAP": "zava-sea"}, "ZAVA_OIDC_ROLE_MAP"),
    ({"ZAVA_TOKEN_STORE": "redis"}, "ZAVA_TOKEN_STORE"),
    ({"ZAVA_LOG_FORMAT": "xml"}, "ZAVA_LOG_FORMAT"),
    ({"ZAVA_METRICS": "maybe"}, "ZAVA_METRICS"),
    ({"ZAVA_PUBLIC_URL": "zava.example.com"}, "ZAVA_PUBLIC_URL"),
])
def test_wrong_values_fail_in_one_line_naming_the_variable(env, names) -> None:
    assert names in error(**env)


def test_request_state_keys_are_secrets() -> None:
    key = "k" * 40
    settings = load(ZAVA_REQUEST_STATE_KEYS=f"{key}, {'n' * 32}")
    assert settings.serving.request_state_keys == (key, "n" * 32)
    assert key not in repr(settings) and "(2 keys)" in repr(settings)
    short = error(ZAVA_REQUEST_STATE_KEYS=f"{key},tooshort-secret")
    assert "ZAVA_REQUEST_STATE_KEYS" in short and "tooshort-secret" not in short
