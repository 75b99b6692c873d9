"""ZAVA_AUTH=oidc end to end, offline: a local identity provider (discovery + JWKS on 127.0.0.1, keys generated
here) signs real JWTs, and the customer-sales server over Streamable HTTP accepts or refuses them."""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pymongo import MongoClient
from serving import serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_servers.auth import oidc
from mcp_servers.customer_sales.server import build_server
from mcp_servers.serving import runner
from zava_core.infra.config import ServingSettings, Settings

pytestmark = pytest.mark.integration

AUDIENCE = "api://zava-mcp"
SKU = "PTDR000001"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                         "clientInfo": {"name": "oidc-test", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class IdentityProvider:
    """Discovery and JWKS served from memory: `publish` changes what the next fetch sees (rotation)."""

    issuer: str = ""
    keys: dict[str, Any] = field(default_factory=dict)  # kid -> private key
    published: list[str] = field(default_factory=list)
    jwks_fetches: int = 0
    discovery_fetches: int = 0

    def add_key(self, kid: str, kind: str = "rsa") -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048) if kind == "rsa" \
            else ec.generate_private_key(ec.SECP256R1())
        self.published.append(kid)

    def jwks(self) -> dict:
        out = []
        for kid in self.published:
            public = self.keys[kid].public_key()
            rsa_key = isinstance(public, rsa.RSAPublicKey)
            algorithm = jwt.algorithms.RSAAlgorithm if rsa_key else jwt.algorithms.ECAlgorithm
            out.append({**algorithm.to_jwk(public, as_dict=True), "kid": kid, "use": "sig"})
        return {"keys": out}

    def sign(self, kid: str = "k1", *, algorithm: str | None = None, headers: dict | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 300, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        key = self.keys[kid]
        algorithm = algorithm or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid, **(headers or {})})

    def app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            self.discovery_fetches += 1
            return JSONResponse({"issuer": self.issuer, "jwks_uri": f"{self.issuer}/jwks"})

        async def jwks(request: Request) -> JSONResponse:
            self.jwks_fetches += 1
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/.well-known/openid-configuration", discovery), Route("/jwks", jwks)])


@pytest.fixture
async def idp() -> AsyncIterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.add_key("k1")
    provider.add_key("e1", "ec")
    async with serving(provider.app()) as base:
        provider.issuer = base
        yield provider


def oidc_settings(seeded: Settings, provider: IdentityProvider, **serving_options: Any) -> Settings:
    return replace(seeded, serving=ServingSettings(auth="oidc", oidc_issuer=provider.issuer, oidc_audience=AUDIENCE,
                                                   **serving_options))


def http_args() -> argparse.Namespace:
    return argparse.Namespace(transport="http", host="127.0.0.1", port=8000, store=None, head_office=False,
                              read_only=False, stateless=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stock_of(settings: Settings, sku: str) -> dict[str, int]:
    client = MongoClient(settings.mongodb_uri)
    try:
        docs = client[settings.mongodb_database].inventory.find({"product_id": f"prod_{sku}", "deleted": False})
        return {d["store_id"]: d["stock_level"] for d in docs}
    finally:
        client.close()


@pytest.mark.anyio
async def test_verified_claims_carry_the_scope(seeded, idp) -> None:
    settings = oidc_settings(seeded, idp)
    stock = stock_of(settings, SKU)
    app = runner.http_app(runner.build_for_transport(build_server, settings, http_args()), "http", "127.0.0.1")
    async with serving(app) as base:
        for token, expected in ((idp.sign(zava_store="seattle"), ["store_seattle"]),
                                (idp.sign("e1", zava_store="Tacoma"), ["store_tacoma"]),  # ES256, a display name
                                (idp.sign(zava_store="head-office"), sorted(stock))):
            http = httpx2.AsyncClient(headers=bearer(token), timeout=30)
            async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
                result = await client.call_tool("get_inventory", {"sku": SKU})
                assert not result.is_error, result.content
                rows = result.structured_content["stores"]
                assert [(r["store_id"], r["stock_level"]) for r in rows] == [(s, stock[s]) for s in expected]
        # The SDK publishes RFC 9728 metadata naming the identity provider, and a 401 points to it.
        async with httpx2.AsyncClient(timeout=30) as http:
            metadata = (await http.get(f"{base}/.well-known/oauth-protected-resource/mcp")).json()
            assert metadata["authorization_servers"] == [idp.issuer]
            assert metadata["resource"] == "http://127.0.0.1:8000/mcp"
            refused = await http.post(f"{base}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
            assert refused.status_code == 401
            assert "resource_metadata=" in refused.headers["www-authenticate"]
            assert f"sign in with {idp.issuer}" in refused.json()["error"]["message"], "no tokens CLI hint"
    assert idp.discovery_fetches == 1 and idp.jwks_fetches == 1, "keys were fetched once and cached"


@pytest.mark.anyio
async def test_bad_tokens_are_refused_with_a_reason(seeded, idp) -> None:
    settings = oidc_settings(seeded, idp)
    now = int(time.time())
    stranger = IdentityProvider(issuer=idp.issuer)
    stranger.add_key("k1")  # same kid as the real one, another key: the signature cannot verify
    stranger.add_key("k9")  # a kid the provider never published
    unsigned = jwt.encode({"iss": idp.issuer, "aud": AUDIENCE, "exp": now + 300, "zava_store": "seattle"}, None,
                          algorithm="none")
    public_pem = idp.keys["k1"].public_key().public_bytes(encoding=Encoding.PEM,
                                                          format=PublicFormat.SubjectPublicKeyInfo)
    cases = {
        "expired": (idp.sign(zava_store="seattle", exp=now - settings.serving.oidc_clock_skew_s - 60,
                             iat=now - 900), 401, "the token has expired: get a new one from the identity provider"),
        "not yet valid": (idp.sign(zava_store="seattle", nbf=now + 600), 401, "not valid yet"),
        "wrong audience": (idp.sign(zava_store="seattle", aud="api://someone-else"), 401, "audience"),
        "wrong issuer": (idp.sign(zava_store="seattle", iss="https://evil.example"), 401, "issuer"),
        "no expiry": (idp.sign(zava_store="seattle", exp=None), 401, "exp"),
        "wrong key": (stranger.sign("k1", zava_store="seattle"), 401, "signature"),
        "unknown key": (stranger.sign("k9", zava_store="seattle"), 401, "does not publish"),
        "alg none": (unsigned, 401, "algorithm"),
        # The public key used as an HMAC secret: the classic algorithm confusion.
        "alg confusion": (_hs256(public_pem, {"iss": idp.issuer, "aud": AUDIENCE, "exp": now + 300,
                                              "zava_store": "seattle"}), 401, "algorithm"),
        "not a jwt": ("zava_not-a-jwt", 401, "well-formed"),
        "no claim": (idp.sign(), 403, "no 'zava_store' claim"),
        "unknown store": (idp.sign(zava_store="atlantis"), 403, "names no store"),
        "list without a map": (idp.sign(zava_store=["seattle", "tacoma"]), 403, "ZAVA_OIDC_ROLE_MAP"),
    }
    app = runner.http_app(runner.build_for_transport(build_server, settings, http_args()), "http", "127.0.0.1")
    async with serving(app) as base, httpx2.AsyncClient(timeout=30) as http:
        assert (await http.post(f"{base}/mcp", json=INITIALIZE,
                                headers={**MCP_HEADERS, **bearer(idp.sign(zava_store="seattle"))})).status_code == 200
        # Expired within the allowed clock skew: accepted, as the verifier decided (the SDK used to refuse it
        # with a bare 401, explained in the static tokens' words).
        skewed = idp.sign(zava_store="seattle", exp=now - settings.serving.oidc_clock_skew_s // 2, iat=now - 900)
        within = await http.post(f"{base}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **bearer(skewed)})
        assert within.status_code == 200, within.text
        for name, (token, status, reason) in cases.items():
            answer = await http.post(f"{base}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **bearer(token)})
            assert answer.status_code == status, name
            message = answer.json()["error"]["message"]
            assert reason in message and "\n" not in message, (name, message)
            assert "mcp_servers.tokens" not in message, (name, message)  # OIDC tokens come from the provider
            assert "atlantis" not in message.lower(), "a 403 never quotes a claim's value"
            assert reason.split("'")[0] in answer.headers["www-authenticate"], name
            if status == 403:
                assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
        metrics = (await http.get(f"{base}/metrics")).text
        assert 'zava_auth_failures_total{reason="forbidden"}' in metrics


def _hs256(secret: bytes, claims: dict) -> str:
    # PyJWT refuses to sign with a PEM as an HMAC key, so the token is put together by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


@pytest.mark.anyio
async def test_key_rotation_mid_run_and_refetch_bounds(seeded, idp, monkeypatch) -> None:
    monkeypatch.setattr(oidc, "REFETCH_MIN_INTERVAL_S", 0.0)
    settings = oidc_settings(seeded, idp, oidc_jwks_url=f"{idp.issuer}/jwks")  # no discovery this time
    app = runner.http_app(runner.build_for_transport(build_server, settings, http_args()), "http", "127.0.0.1")
    async with serving(app) as base, httpx2.AsyncClient(timeout=30) as http:
        async def status(token: str) -> int:
            answer = await http.post(f"{base}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **bearer(token)})
            return answer.status_code

        old = idp.sign("k1", zava_store="seattle")
        assert await status(old) == 200
        assert idp.jwks_fetches == 1 and idp.discovery_fetches == 0
        idp.add_key("k2")  # the provider rotates: a new key is published and tokens are signed with it
        idp.published.remove("k1")
        assert await status(idp.sign("k2", zava_store="seattle")) == 200
        assert idp.jwks_fetches == 2, "an unknown kid re-read the keys once"
        assert await status(idp.sign("k2", zava_store="kirkland")) == 200
        assert idp.jwks_fetches == 2, "a known kid is served from the cache"


@pytest.mark.anyio
async def test_unknown_kids_do_not_hammer_the_provider(idp) -> None:
    keys = oidc.JwksCache(idp.issuer)  # the default interval between re-reads
    assert await keys.key_for("k1") is not None
    for kid in ("nope-1", "nope-2", "nope-3"):
        assert await keys.key_for(kid) is None
    assert idp.jwks_fetches == 1, "unknown kids within the interval did not re-read the keys"


@pytest.mark.anyio
async def test_role_map_and_a_discovery_document_for_another_issuer(seeded, idp) -> None:
    settings = oidc_settings(seeded, idp, oidc_store_claim="groups",
                             oidc_role_map=(("zava-hq", "head-office"), ("zava-everett", "everett")))
    app = runner.http_app(runner.build_for_transport(build_server, settings, http_args()), "http", "127.0.0.1")
    async with serving(app) as base:
        token = idp.sign(groups=["staff", "zava-everett"])
        http = httpx2.AsyncClient(headers=bearer(token), timeout=30)
        async with http, Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client:
            rows = (await client.call_tool("get_inventory", {"sku": SKU})).structured_content["stores"]
            assert [r["store_id"] for r in rows] == ["store_everett"]
        async with httpx2.AsyncClient(timeout=30) as raw:
            both = await raw.post(f"{base}/mcp", json=INITIALIZE,
                                  headers={**MCP_HEADERS, **bearer(idp.sign(groups=["zava-hq", "zava-everett"]))})
            assert both.status_code == 403 and "2 identities" in both.json()["error"]["message"]
            # A plain "head-office" group is not mapped: head office only through the table's explicit entry.
            plain = await raw.post(f"{base}/mcp", json=INITIALIZE,
                                   headers={**MCP_HEADERS, **bearer(idp.sign(groups=["head-office"]))})
            assert plain.status_code == 403
    # A discovery document naming another issuer than the one configured is refused (OpenID Discovery 4.3).
    keys = oidc.JwksCache(idp.issuer + "/")
    with pytest.raises(ValueError, match="names issuer"):
        await keys.key_for("k1")
