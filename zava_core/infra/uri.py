"""MongoDB connection strings, parsed once: split as PyMongo splits them, without resolving anything
(SRV lookups are the doctor's DNS step), with a problem that names the cause and the fix.
Configuration checks MONGODB_URI through it; the doctor describes and connects with its parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pymongo.errors import ConfigurationError, InvalidURI

from zava_core.errors import ErrorCode, ZavaError
from zava_core.infra.redaction import redact, uri_secrets

ENCODE_HINT = "URL-encode it: `python -m zava_ops encode-password` prints the encoded form to paste into the URI"



@dataclass(frozen=True)
class UriParts:
    scheme: str
    username: str | None
    has_password: bool
    hosts: tuple[tuple[str, int | None], ...]
    options: dict[str, Any]
    masked: str

    @property
    def srv(self) -> bool:
        return self.scheme == "mongodb+srv://"

    @property
    def wants_tls(self) -> bool:
        explicit = self.options.get("tls", self.options.get("ssl"))
        return bool(explicit) if explicit is not None else self.srv  # SRV URIs default to TLS

    @property
    def is_atlas(self) -> bool:
        return any(host.endswith(".mongodb.net") for host, _ in self.hosts)

    @property
    def auth_source(self) -> str:
        return str(self.options.get("authsource") or "admin")


_SECRET_OPTION = re.compile(r"(authMechanismProperties=)[^&]*", re.IGNORECASE)


class UriProblem(ZavaError, ValueError):
    code = ErrorCode.INVALID_CONFIG

    def __init__(self, detail: str, cause: str, fix: str) -> None:
        super().__init__(detail)
        self.detail, self.cause, self.fix = detail, cause, fix


def parse_connection_string(uri: str) -> UriParts:
    """Split the URI as PyMongo does, without resolving anything (SRV lookups are the DNS step)."""
    from pymongo.uri_parser import parse_userinfo, split_hosts, split_options

    scheme = next((s for s in ("mongodb+srv://", "mongodb://") if uri.startswith(s)), None)
    if scheme is None:
        raise UriProblem("does not start with mongodb:// or mongodb+srv://", "not a MongoDB connection string",
                         "copy the string from Atlas (Connect > Drivers) or write mongodb://host:27017")
    rest = uri[len(scheme):]
    host_and_db, _, query = rest.partition("?")
    authority = host_and_db.partition("/")[0]
    userinfo, at, hosts_text = authority.rpartition("@")
    if "@" not in authority and "@" in rest:
        # An unencoded '/' or '?' in the password ends the host part early; quote nothing of it back.
        raise UriProblem(
            "the password contains an unencoded '/' or '?'",
            "the URI's host part ends at the first '/' or '?', which here falls inside the credentials",
            ENCODE_HINT,
        )
    if authority.count("@") > 1:
        raise UriProblem(
            "the user name or password contains an unencoded '@'",
            "everything after the first '@' is read as the host, so the password is cut short",
            ENCODE_HINT,
        )
    username = password = None
    if at:
        try:
            username, password = parse_userinfo(userinfo)
        except InvalidURI:
            raise UriProblem(
                "the user name or password contains a character that must be URL-encoded (: / ? # [ ] @ %)",
                "special characters in the credentials are read as parts of the URI", ENCODE_HINT,
            ) from None
    try:
        hosts = split_hosts(hosts_text, default_port=None if scheme == "mongodb+srv://" else 27017)
        options = dict(split_options(query)) if query else {}
    except (InvalidURI, ConfigurationError, ValueError, OSError) as exc:
        raise UriProblem(f"malformed: {redact(str(exc), uri_secrets(uri))}", "a host, port or option PyMongo rejects",
                         "fix the part named above (options are case-insensitive name=value pairs after '?')") from None
    if scheme == "mongodb+srv://" and (len(hosts) != 1 or hosts[0][1] is not None):
        raise UriProblem("a mongodb+srv:// string names exactly one host and no port",
                         "SRV strings name the cluster; DNS supplies the hosts and ports",
                         "use the cluster's host name only, or switch to mongodb://host1:port,host2:port")
    masked_userinfo = ""
    if at:
        masked_userinfo = userinfo.partition(":")[0] + (":****" if password else "") + "@"
    masked = scheme + masked_userinfo + uri[len(scheme) + len(userinfo) + len(at):]
    masked = _SECRET_OPTION.sub(r"\1***", masked)  # AWS session tokens and the like
    return UriParts(scheme, username, bool(password), tuple(hosts), options, masked)


def describe_parts(parts: UriParts) -> str:
    user = f"user {parts.username!r} (password set, masked)" if parts.username and parts.has_password else (
        f"user {parts.username!r} (no password)" if parts.username else "no credentials")
    shown = {k: ("***" if k == "authmechanismproperties" else v) for k, v in parts.options.items()}
    options = ", ".join(f"{k}={v}" for k, v in shown.items()) or "none"
    return f"{parts.masked}  [{user}; options: {options}]"
