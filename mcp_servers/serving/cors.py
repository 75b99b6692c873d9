"""CORS for browser-based MCP clients (a web host's page calling /mcp from its own origin).

The allowed origins are the ones the Host/Origin check already accepts (`ZAVA_ALLOWED_ORIGINS`, or the loopback
origins when the server listens on loopback): a preflight from one of them is answered, one from anywhere else
is refused with a line that names the setting. Responses to an allowed origin carry the headers a browser needs
to read them: the session id, the protocol version and the 401 challenge. Bearer tokens travel in a header,
never in cookies, so credentials are not allowed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_METHODS = b"GET, POST, DELETE, OPTIONS"
ALLOWED_HEADERS = ("authorization", "content-type", "accept", "last-event-id", "mcp-session-id",
                   "mcp-protocol-version")
EXPOSED_HEADERS = b"Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"
MAX_AGE_S = b"600"


def origin_allowed(origin: str, allowed: Sequence[str]) -> bool:
    """The SDK's rule for ZAVA_ALLOWED_ORIGINS entries: an exact origin, or `scheme://host:*` for any port."""
    return any(origin == pattern or (pattern.endswith(":*") and origin.startswith(pattern[:-1])
                                     and origin[len(pattern) - 1:].isdigit())
               for pattern in allowed)


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == name), None)


class Cors:
    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.origins = tuple(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = origin_allowed(origin, self.origins)
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method") is not None:
            await self._preflight(scope, send, origin, allowed)
            return
        if not allowed:  # no CORS headers: the browser keeps the answer from the page (and the Origin check refuses)
            await self.app(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self._granted(origin),
                                                  (b"access-control-expose-headers", EXPOSED_HEADERS)]}
            await send(message)

        await self.app(scope, receive, with_cors)

    def _granted(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]

    async def _preflight(self, scope: Scope, send: Send, origin: str, allowed: bool) -> None:
        asked = [h.strip().lower() for h in (_header(scope, b"access-control-request-headers") or "").split(",")
                 if h.strip()]
        unknown = [h for h in asked if h not in ALLOWED_HEADERS]
        if not allowed or unknown:
            reason = (f"origin {origin} is not allowed: add it to ZAVA_ALLOWED_ORIGINS" if not allowed else
                      f"request headers not allowed: {', '.join(unknown)}")
            body = json.dumps({"error": "cors_refused", "error_description": reason}).encode()
            await send({"type": "http.response.start", "status": 403, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                (b"vary", b"Origin")]})
            await send({"type": "http.response.body", "body": body})
            return
        headers = [*self._granted(origin), (b"access-control-allow-methods", ALLOWED_METHODS),
                   (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
                   (b"access-control-max-age", MAX_AGE_S), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
