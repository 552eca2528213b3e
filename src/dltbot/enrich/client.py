"""The one HTTP client for outbound requests: metadata APIs, pages, link checks.

Entry URLs come from an untrusted list, so requests for them are guarded: unless
`enrich.allow_private`, a host that is (or resolves to) a loopback, private, link-local or
otherwise non-public address is never connected to, checked after DNS resolution and again on
every redirect hop. The configured API base URLs are trusted and skip the guard. Every host
gets its own spacing and concurrency limit, and a Retry-After is honoured for the host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from multidict import CIMultiDict

MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 3600.0  # a longer Retry-After is read as an hour
MAX_WAIT = 30.0  # a host asking for a longer pause is skipped this pass, not waited for


class PrivateAddressError(OSError):
    """The host is, or resolves only to, an address that is not on the public internet."""


def is_public(address: str) -> bool:
    """Tell whether an IP address is a public unicast one (not loopback, private, link-local,
    multicast, reserved, unspecified, or an IPv4-mapped form of those)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


class GuardedResolver(AbstractResolver):
    """Resolve with the system resolver (or `inner`), keeping only public addresses."""

    def __init__(
        self, inner: AbstractResolver | None = None, public: Callable[[str], bool] = is_public
    ) -> None:
        self._inner = inner or ThreadedResolver()
        self._public = public

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        public = [item for item in found if self._public(item["host"])]
        if not public:
            raise PrivateAddressError(f"{host} resolves to a non-public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


@dataclass(slots=True)
class Response:
    """What one request (and its redirects) came to."""

    url: str  # the last URL requested
    status: int | None = None  # None: no HTTP answer (see `error`)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    redirects: list[tuple[int, str]] = field(default_factory=list)  # (status, target) hops
    error: str = ""  # why there is no answer, for people
    # dns (the name does not exist), dns-temporary, timeout, connect, guard, redirects,
    # scheme, deferred (the host asked us to wait: not asked this time), other
    error_kind: str = ""
    wait: float = 0.0  # for deferred: seconds until the host may be asked again
    truncated: bool = False  # the body was longer than asked for

    @property
    def permanent_target(self) -> str | None:
        """Where the URL now lives when every redirect was permanent (301, 308)."""
        if self.redirects and all(status in (301, 308) for status, _ in self.redirects):
            return self.redirects[-1][1]
        return None


@dataclass(slots=True)
class _Host:
    gate: asyncio.Semaphore
    next_at: float = 0.0  # the earliest start of the next request


class Http:
    """Outbound HTTP with one User-Agent, per-host spacing and the private-address guard."""

    def __init__(
        self,
        user_agent: str,
        *,
        timeout: float = 20.0,
        allow_private: bool = False,
        host_spacing: float = 1.0,
        host_concurrency: int = 2,
        concurrency: int = 8,
        clock: Any = time.monotonic,
        resolver: AbstractResolver | None = None,
        public: Callable[[str], bool] = is_public,
    ) -> None:
        """`resolver` and `public` replace the system's DNS and the notion of a public
        address (tests: names mapped to loopback, without a DNS server)."""
        self.user_agent = user_agent
        self.timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self.allow_private = allow_private
        self.host_spacing = host_spacing
        self.host_concurrency = host_concurrency
        self.clock = clock
        self.resolver = resolver
        self.public = public
        self._all = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, _Host] = {}
        self._spacing: dict[str, float] = {}
        self._guarded: aiohttp.ClientSession | None = None
        self._trusted: aiohttp.ClientSession | None = None
        self.requests = 0  # made so far (benchmarks, tests)

    def set_spacing(self, prefix: str, seconds: float) -> None:
        """Space requests to URLs under `prefix` by `seconds` (arXiv asks for 3), apart
        from other requests to the same host (an API)."""
        self._spacing[prefix] = seconds

    def _session(self, trusted: bool) -> aiohttp.ClientSession:
        if trusted or self.allow_private:
            if self._trusted is None:
                self._trusted = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(resolver=self.resolver),
                    timeout=self.timeout,
                    headers={"User-Agent": self.user_agent},
                )
            return self._trusted
        if self._guarded is None:
            connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.resolver, self.public))
            self._guarded = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, headers={"User-Agent": self.user_agent}
            )
        return self._guarded

    async def close(self) -> None:
        for session in (self._guarded, self._trusted):
            if session is not None:
                await session.close()
        self._guarded = self._trusted = None

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_size: int = 2_000_000,
        trusted: bool = False,
    ) -> Response:
        """GET a URL, following up to MAX_REDIRECTS redirects (each hop checked)."""
        response = Response(url)
        for _ in range(MAX_REDIRECTS + 1):
            response.url = url
            refused = self._refuse(url, trusted)
            if refused:
                response.status, response.headers = None, {}
                response.error, response.error_kind = refused
                return response
            await self._one(url, headers or {}, max_size, trusted, response)
            location = response.headers.get("Location")
            if response.status not in (301, 302, 303, 307, 308) or not location:
                return response
            url = urljoin(url, location)
            response.redirects.append((response.status, url))
        response.status, response.error, response.error_kind = (
            None,
            "too many redirects",
            "redirects",
        )
        return response

    async def post(self, url: str, form: Mapping[str, str], *, trusted: bool = False) -> Response:
        """POST a form (a WebSub ping); redirects are not followed."""
        response = Response(url)
        refused = self._refuse(url, trusted)
        if refused:
            response.error, response.error_kind = refused
            return response
        await self._one(url, {}, 64_000, trusted, response, form)
        return response

    def _refuse(self, url: str, trusted: bool) -> tuple[str, str] | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return f"not an http(s) URL: {parts.scheme or '?'}:", "scheme"
        if trusted or self.allow_private:
            return None
        host = parts.hostname
        try:
            ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return None  # a name: the resolver checks what it resolves to
        if not self.public(host):  # an address literal never reaches the resolver
            return f"not fetched: {host} is not a public address", "guard"
        return None

    async def _one(
        self,
        url: str,
        headers: Mapping[str, str],
        max_size: int,
        trusted: bool,
        out: Response,
        form: Mapping[str, str] | None = None,  # POST it, when given
    ) -> None:
        prefix = max((p for p in self._spacing if url.startswith(p)), key=len, default=None)
        host_key = prefix or urlsplit(url).netloc.lower()
        host = self._hosts.get(host_key)
        if host is None:
            host = self._hosts[host_key] = _Host(asyncio.Semaphore(self.host_concurrency))
        spacing = self._spacing[prefix] if prefix else self.host_spacing
        async with host.gate, self._all:
            now = self.clock()
            if host.next_at - now > MAX_WAIT:  # a Retry-After from this host
                out.status, out.error, out.error_kind = None, "host asked to wait", "deferred"
                out.wait = host.next_at - now
                return
            start = max(now, host.next_at)
            host.next_at = start + spacing
            if start > now:
                await asyncio.sleep(start - now)
            self.requests += 1
            try:
                async with self._session(trusted).request(
                    "GET" if form is None else "POST", url, headers=dict(headers),
                    data=None if form is None else dict(form), allow_redirects=False,
                ) as reply:  # fmt: skip
                    out.status = reply.status
                    out.headers = CIMultiDict(reply.headers)
                    body = bytearray()
                    async for chunk in reply.content.iter_chunked(65536):
                        body += chunk
                        if len(body) > max_size:
                            out.truncated = True
                            del body[max_size:]
                            break
                    out.body = bytes(body)
                    out.error = out.error_kind = ""
            except aiohttp.ClientConnectorDNSError as error:
                out.status = None
                cause = error.os_error
                if isinstance(cause, PrivateAddressError):
                    out.error, out.error_kind = f"not fetched: {cause}", "guard"
                elif isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_NONAME:
                    out.error, out.error_kind = "unknown host", "dns"
                else:
                    out.error, out.error_kind = f"DNS lookup failed: {cause}", "dns-temporary"
            except TimeoutError:
                out.status, out.error, out.error_kind = None, "timed out", "timeout"
            except aiohttp.ClientConnectorError as error:
                out.status, out.error, out.error_kind = None, f"cannot connect: {error}", "connect"
            except (aiohttp.ClientError, ValueError, UnicodeError) as error:
                out.status = None
                out.error, out.error_kind = f"{type(error).__name__}: {error}", "other"
            wait = retry_after(out.headers) if out.status in (429, 503) else None
            if wait:
                host.next_at = max(host.next_at, self.clock() + wait)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Read a Retry-After given in seconds (an HTTP date is read as a minute)."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    return 60.0
