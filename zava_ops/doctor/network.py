"""DNS, TCP and TLS: the layers of a connection, in the order they are made, each with a short timeout."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from zava_core.infra.uri import UriParts
from zava_ops.doctor.report import (
    IP_ACCESS_LIST_FIX,
    Report,
    T,
)

# -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    address: str


async def _in_daemon_thread(fn: Callable[[], T], timeout: float) -> T:
    """Run a blocking call that has no timeout of its own (getaddrinfo), abandoning it after `timeout`.

    A daemon thread, not the default executor: asyncio.run() waits for executor threads at exit,
    so one stuck resolver call would hold the process for as long as the system resolver retries.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result, error = fn(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop closed after we gave up
            loop.call_soon_threadsafe(deliver, result, error)

    threading.Thread(target=run, daemon=True).start()
    return await asyncio.wait_for(future, timeout)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


async def _srv_hosts(parts: UriParts, timeout: float, report: Report) -> list[tuple[str, int]] | None:
    import dns.exception
    import dns.resolver

    fqdn = parts.hosts[0][0]
    service = parts.options.get("srvservicename") or "mongodb"
    name = f"_{service}._tcp.{fqdn}"
    try:
        answer = await _in_daemon_thread(lambda: dns.resolver.resolve(name, "SRV", lifetime=timeout), timeout + 1)
    except dns.resolver.NXDOMAIN:
        report.fail("DNS", f"no SRV record {name}",
                    "the cluster's host name is misspelt, or the cluster was deleted",
                    "copy the connection string again (Atlas: Connect > Drivers)")
        return None
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoAnswer, TimeoutError) as exc:
        report.fail("DNS", f"SRV lookup of {name} failed: {type(exc).__name__}",
                    "your DNS resolver does not answer SRV queries (some corporate, VPN or ISP resolvers do not)",
                    "use another resolver (such as 1.1.1.1 or 8.8.8.8), or the standard mongodb://host1,host2,host3 "
                    "string (Atlas offers it under Connect > Drivers for older driver versions)")
        return None
    return [(str(record.target).rstrip("."), int(record.port)) for record in answer]


async def _resolve(host: str, port: int, timeout: float) -> str:
    if _is_ip(host):
        return host
    infos = await _in_daemon_thread(lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    return str(infos[0][4][0])


async def dns_step(parts: UriParts, timeout: float, report: Report) -> list[Endpoint] | None:
    if parts.srv:
        targets = await _srv_hosts(parts, timeout, report)
        if targets is None:
            return None
    else:
        targets = [(host, port or 27017) for host, port in parts.hosts]
    endpoints: list[Endpoint] = []
    for host, port in targets:
        try:
            endpoints.append(Endpoint(host, port, await _resolve(host, port, timeout)))
        except (OSError, TimeoutError) as exc:
            reason = "no answer from the resolver" if isinstance(exc, TimeoutError) else str(exc)
            cause = "the host name does not resolve: a typo in the connection string, or the server no longer exists"
            if parts.is_atlas:
                cause += " (a deleted or renamed Atlas cluster)"
            report.fail("DNS", f"{host}: {reason}", cause,
                        "check the host name in MONGODB_URI (Atlas: copy it again from Connect > Drivers)")
            return None
    if all(e.host == e.address for e in endpoints):
        report.ok("DNS", "IP addresses only: nothing to resolve")
    else:
        via = f"SRV {parts.hosts[0][0]} -> " if parts.srv else ""
        report.ok("DNS", via + ", ".join(e.host if e.host == e.address else f"{e.host} ({e.address})"
                                         for e in endpoints))
    return endpoints


def _tcp_connect(endpoint: Endpoint, timeout: float) -> float:
    started = time.perf_counter()
    with socket.create_connection((endpoint.address, endpoint.port), timeout=timeout):
        return (time.perf_counter() - started) * 1000


async def tcp_step(parts: UriParts, endpoints: list[Endpoint], timeout: float, report: Report) -> list[Endpoint]:
    reachable: list[Endpoint] = []
    timings: list[str] = []
    problems: list[tuple[Endpoint, OSError]] = []
    for endpoint in endpoints:
        try:
            millis = await anyio.to_thread.run_sync(_tcp_connect, endpoint, timeout)
            reachable.append(endpoint)
            timings.append(f"{endpoint.host}:{endpoint.port} ({millis:.0f} ms)")
        except OSError as exc:
            problems.append((endpoint, exc))
    if not problems:
        report.ok("TCP", "accepts connections: " + ", ".join(timings))
        return reachable
    endpoint, exc = problems[0]
    where = f"{endpoint.host}:{endpoint.port}"
    if isinstance(exc, ConnectionRefusedError):
        detail = f"{where}: connection refused"
        cause = "nothing listens on that port: the server is not running, or the port in the URI is wrong"
        fix = "start the server, or correct host:port in MONGODB_URI"
    elif isinstance(exc, TimeoutError):
        detail = f"{where}: no answer within {timeout:g} s"
        cause = ("a firewall drops the connection" + ("; for Atlas, your IP address is not on the project's IP "
                                                      "Access List" if parts.is_atlas else ""))
        fix = IP_ACCESS_LIST_FIX
    else:
        detail = f"{where}: {exc.strerror or exc}"
        cause = "the network path to the server is broken (no route, VPN, proxy)"
        fix = "check that this machine can reach the host (ping, traceroute, VPN)"
    if reachable:  # a replica set works while a majority (and the primary) is reachable
        report.add("TCP", "warn", f"{len(reachable)} of {len(endpoints)} hosts reachable; {detail}", cause=cause)
        return reachable
    report.fail("TCP", detail, cause, fix)
    return []


def _tls_context(parts: UriParts) -> ssl.SSLContext:
    options = parts.options
    context = ssl.create_default_context(cafile=options.get("tlscafile"))
    if options.get("tlscertificatekeyfile"):
        context.load_cert_chain(options["tlscertificatekeyfile"], password=options.get("tlscertificatekeyfilepassword"))
    insecure = bool(options.get("tlsinsecure"))
    if insecure or options.get("tlsallowinvalidhostnames"):
        context.check_hostname = False
    if insecure or options.get("tlsallowinvalidcertificates"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _tls_handshake(parts: UriParts, endpoint: Endpoint, timeout: float) -> str:
    context = _tls_context(parts)
    with socket.create_connection((endpoint.address, endpoint.port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=endpoint.host) as tls:
        cert = tls.getpeercert() or {}
        expires = f", certificate valid until {cert['notAfter']}" if cert.get("notAfter") else ""
        return f"{tls.version()} with {endpoint.host}:{endpoint.port}{expires}"


async def tls_step(parts: UriParts, endpoints: list[Endpoint], timeout: float, report: Report) -> bool:
    if not parts.wants_tls:
        if parts.is_atlas:
            report.fail("TLS", "tls=false, but Atlas accepts only TLS connections", None,
                        "remove tls=false (or ssl=false) from the connection string")
            return False
        report.add("TLS", "n/a", "the connection string does not ask for TLS (plain TCP)")
        return True
    endpoint = endpoints[0]
    try:
        report.ok("TLS", await anyio.to_thread.run_sync(_tls_handshake, parts, endpoint, timeout))
        return True
    except ssl.SSLCertVerificationError as exc:
        report.fail("TLS", f"certificate not trusted: {exc.verify_message}",
                    "the server's certificate does not chain to a CA this Python trusts (a private CA, a "
                    "self-signed certificate, a TLS-inspecting proxy, or an outdated CA store)",
                    "for a private CA add tlsCAFile=/path/ca.pem to the URI; for Atlas update the CA store "
                    "(pip install -U certifi; on macOS run 'Install Certificates.command' of python.org Python)")
    except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError, BrokenPipeError) as exc:
        cause = ("Atlas closes connections from addresses not on the project's IP Access List during the handshake"
                 if parts.is_atlas else "the server closed the connection: it may not accept TLS on this port")
        report.fail("TLS", f"handshake with {endpoint.host}:{endpoint.port} cut off ({type(exc).__name__})", cause,
                    IP_ACCESS_LIST_FIX if parts.is_atlas else "check the server's TLS settings, or drop tls=true")
    except TimeoutError:
        report.fail("TLS", f"no TLS answer from {endpoint.host}:{endpoint.port} within {timeout:g} s",
                    "the server does not speak TLS on this port, or a firewall holds the connection",
                    "drop tls=true if the server is plain TCP; for Atlas: " + IP_ACCESS_LIST_FIX)
    except ssl.SSLError as exc:
        report.fail("TLS", f"handshake failed: {exc.reason or exc}",
                    "the server answered, but not with TLS the client accepts (WRONG_VERSION_NUMBER: it is plain TCP)",
                    "drop tls=true for a plain server, or check tlsCertificateKeyFile and the server's TLS settings")
    except (FileNotFoundError, PermissionError) as exc:
        report.fail("TLS", f"{type(exc).__name__}: {exc}", "a TLS option names a file that cannot be read",
                    "check the tlsCAFile / tlsCertificateKeyFile paths in the URI")
    except OSError as exc:
        report.fail("TLS", f"{type(exc).__name__}: {exc}", "the connection failed during the TLS handshake",
                    "check the network path (VPN, proxy) and the server's TLS settings")
    return False
