"""Identity from the organisation's identity provider (`ZAVA_AUTH=oidc`): bearer JWTs verified here.

A token is accepted only when its signature (RS256 or ES256, by a key from the provider's JWKS), `iss`, `aud`,
`exp` and `nbf` (within the configured clock skew) all check out. The identity then comes from one claim
(`ZAVA_OIDC_STORE_CLAIM`, default `zava_store`), never from anything else the client sends:
- without a role map, the claim names one store (`seattle`, `Seattle`, `store_seattle`), or is exactly the
  head-office value (`ZAVA_OIDC_HEAD_OFFICE_VALUE`, default `head-office`);
- with `ZAVA_OIDC_ROLE_MAP` (`zava-seattle=seattle,zava-hq=head-office`), a string or list claim (roles,
  groups) is mapped through the table; unmapped values are ignored, and values mapping to two identities
  are refused (a caller is one store or head office).
A bad token is a 401, a good token without an identity we serve a 403, each with a one-line reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx2
import jwt
from mcp.server.auth.provider import AccessToken
from pymongo.errors import PyMongoError

from mcp_servers.auth.bearer_tokens import caller_token, refuse
from zava_core.errors import ZavaError
from zava_core.infra.config import ServingSettings
from zava_core.scope import Identity

log = logging.getLogger("zava.oidc")

ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}  # accepted algorithm -> the key type it needs
HEAD_OFFICE = "head-office"  # what a role map points at for head office
KEYS_TTL_S = 3600.0  # keys are re-read at least this often
REFETCH_MIN_INTERVAL_S = 30.0  # an unknown `kid` re-reads the keys, at most this often
FETCH_TIMEOUT_S = 5.0

StoreCheck = Callable[[str], Awaitable[str]]  # a store's name -> its key (`seattle`); raises ZavaError if unknown


class IdentityRefused(Exception):
    """A valid token that names no identity we serve (a 403)."""


def identity_from_claims(claims: Mapping[str, Any], claim: str, head_office_value: str = HEAD_OFFICE,
                         role_map: tuple[tuple[str, str], ...] = ()) -> Identity:
    """The caller's identity from the verified claims; raises IdentityRefused with the reason."""
    value = claims.get(claim)
    if value is None:
        raise IdentityRefused(f"the token has no '{claim}' claim: the identity provider must add it "
                              "(a store name, or the head-office value)")
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise IdentityRefused(f"the '{claim}' claim must be a string or a list of strings")
    if role_map:
        mapping = dict(role_map)
        named = {mapping[item] for item in values if item in mapping}
        if not named:
            raise IdentityRefused(f"no value of the '{claim}' claim is mapped to a store (ZAVA_OIDC_ROLE_MAP)")
        if len(named) > 1:
            raise IdentityRefused(f"the '{claim}' claim maps to {len(named)} identities ({', '.join(sorted(named))}):"
                                  " a caller is one store or head office")
        (target,) = named
        return Identity(head_office=True) if target == HEAD_OFFICE else Identity(head_office=False, store=target)
    if len(values) != 1 or not values[0].strip():
        raise IdentityRefused(f"the '{claim}' claim holds {len(values)} values: name one store, or map roles "
                              "with ZAVA_OIDC_ROLE_MAP")
    if values[0] == head_office_value:
        return Identity(head_office=True)
    return Identity(head_office=False, store=values[0].strip())


class JwksCache:
    """The provider's signing keys, by `kid`: read through discovery or `jwks_url`, cached for KEYS_TTL_S, and
    re-read when a token names a key we do not hold (rotation), at most every `refetch_min_interval_s`."""

    def __init__(self, issuer: str, jwks_url: str | None = None, *,
                 refetch_min_interval_s: float | None = None) -> None:
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.refetch_min_interval_s = REFETCH_MIN_INTERVAL_S if refetch_min_interval_s is None \
            else refetch_min_interval_s
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = 0.0  # monotonic; 0 = never
        self._lock = anyio.Lock()

    async def key_for(self, kid: str | None) -> jwt.PyJWK | None:
        stale = time.monotonic() - self._fetched_at > KEYS_TTL_S
        if stale or self._find(kid) is None:
            async with self._lock:
                since = time.monotonic() - self._fetched_at
                if (stale and since > KEYS_TTL_S) or (self._find(kid) is None and since >= self.refetch_min_interval_s):
                    await self._refresh()
        return self._find(kid)

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None:  # a token without `kid`: only a provider with a single key can be meant
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with httpx2.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as http:
            url = self.jwks_url or await self._discover(http)
            response = await http.get(url)
            response.raise_for_status()
            document = response.json()
        keys: dict[str | None, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if entry.get("use", "sig") != "sig" or entry.get("kty") not in ALGORITHMS.values():
                continue
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:  # one bad key must not hide the others
                log.warning("skipping signing key %s: %s", entry.get("kid"), exc)
        self._keys, self._fetched_at = keys, time.monotonic()
        log.info("read %d signing keys from %s", len(keys), url)

    async def _discover(self, http: httpx2.AsyncClient) -> str:
        response = await http.get(f"{self.issuer.rstrip('/')}/.well-known/openid-configuration")
        response.raise_for_status()
        discovery = response.json()
        if discovery.get("issuer") != self.issuer:  # OpenID Discovery 4.3: the document must name our issuer
            raise ValueError(f"the discovery document names issuer {str(discovery.get('issuer'))[:80]!r}")
        self.jwks_url = str(discovery["jwks_uri"])
        return self.jwks_url


class OidcVerifier:
    """The MCP SDK's TokenVerifier for JWTs from the identity provider; notes why a token is refused."""

    def __init__(self, serving: ServingSettings, *, keys: JwksCache | None = None) -> None:
        if not (serving.oidc_issuer and serving.oidc_audience):
            raise ValueError("OidcVerifier needs ZAVA_OIDC_ISSUER and ZAVA_OIDC_AUDIENCE")
        self.serving = serving
        self.keys = keys or JwksCache(serving.oidc_issuer, serving.oidc_jwks_url)
        self.store_check: StoreCheck | None = None  # set once the database is open (the server's lifespan)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await self._verified_claims(token)
        except jwt.PyJWTError as exc:
            refuse(_reason(exc))
            return None
        except (httpx2.HTTPError, ValueError, KeyError) as exc:
            log.warning("cannot read the identity provider's keys: %s", str(exc)[:200])
            refuse("the identity provider's signing keys cannot be read right now: try again shortly")
            return None
        try:
            identity = identity_from_claims(claims, self.serving.oidc_store_claim,
                                            self.serving.oidc_head_office_value, self.serving.oidc_role_map)
            if not identity.head_office and self.store_check is not None:
                identity = Identity(head_office=False, store=await self.store_check(identity.store or ""))
        except IdentityRefused as exc:
            refuse(str(exc), forbidden=True)
            return None
        except ZavaError:  # a store this database does not hold (the claim's value is not quoted back)
            refuse(f"the '{self.serving.oidc_store_claim}' claim names no store of this server: the identity "
                   "provider must give a store name (such as seattle) or the head-office value", forbidden=True)
            return None
        except PyMongoError as exc:
            log.warning("cannot check the token's store: %s", type(exc).__name__)
            refuse("the database is unavailable right now: try again shortly")
            return None
        subject = claims.get("sub")
        # The SDK refuses a token whose `expires_at` has passed, without a word: told the expiry plus the clock
        # skew we allow, it accepts what we accepted (a token that expired within the skew used to get a bare
        # 401, which the edge explained in the static tokens' terms).
        expires_at = int(claims["exp"]) + self.serving.oidc_clock_skew_s
        return caller_token(token, identity, client_id=str(claims.get("azp") or claims.get("client_id") or subject),
                            subject=subject, expires_at=expires_at, iss=claims.get("iss"))

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {str(algorithm)[:20]!r} is not accepted")
        key = await self.keys.key_for(header.get("kid"))
        if key is None:
            raise jwt.InvalidKeyError("signed by a key the identity provider does not publish")
        if key.key_type != ALGORITHMS[algorithm]:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm} does not match the {key.key_type} key")
        return jwt.decode(token, key.key, algorithms=[algorithm], audience=self.serving.oidc_audience,
                          issuer=self.serving.oidc_issuer, leeway=self.serving.oidc_clock_skew_s,
                          options={"require": ["exp", "iss", "aud"], "verify_nbf": True})


def _reason(exc: jwt.PyJWTError) -> str:
    """One line a caller can act on; never the token or its claims' values."""
    reasons: list[tuple[type[jwt.PyJWTError], str]] = [
        (jwt.ExpiredSignatureError, "the token has expired: get a new one from the identity provider"),
        (jwt.ImmatureSignatureError, "the token is not valid yet (nbf/iat in the future): check the clocks"),
        (jwt.InvalidAudienceError, "the token is for another audience: request one for this server"),
        (jwt.InvalidIssuerError, "the token comes from another issuer than this server trusts"),
        (jwt.MissingRequiredClaimError, f"the token lacks a required claim ({exc})"),
        (jwt.InvalidSignatureError, "the token's signature does not verify"),
        (jwt.InvalidAlgorithmError, f"the token's algorithm is refused: {exc} (RS256 or ES256 only)"),
        (jwt.InvalidKeyError, f"the token is {exc}"),
        (jwt.DecodeError, "the bearer token is not a well-formed JWT"),
    ]
    for kind, text in reasons:
        if isinstance(exc, kind):
            return text
    return "the token was refused"
