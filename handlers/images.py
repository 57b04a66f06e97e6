"""Image URLs of a request -> image blocks, fetched before conversion, with no SSRF.

A chat request may name `http(s)` image URLs; the upstream only takes base64, so the proxy
fetches them, all of a request's at once (bounded), before the sync conversion runs. Each
fetch is capped in size (the body is streamed and dropped past the cap), time and redirects
(followed by hand, each hop checked again), and its bytes are checked like a data URL's
(cli_bridge/images.py).

No SSRF: the proxy runs beside things a client must not reach (cloud metadata, localhost
services). Unless `--image-url-allow-private`, every connection goes through a network
backend that resolves the host itself, keeps only public addresses, connects to one of those
IPs (so a DNS answer that changes between check and connect, DNS rebinding, changes nothing)
and checks the socket's peer address once more; TLS still verifies the name (SNI and the
certificate use the URL's host). The client ignores HTTP(S)_PROXY: a proxy would connect
where this check cannot see.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import httpcore
import httpx

from cli_bridge.errors import InvalidRequest
from cli_bridge.formats.openai_chat.turns import IMAGE_PARTS, ImageConverter
from cli_bridge.images import (
    BAD_URL,
    MAX_IMAGE_BYTES,
    TOO_LARGE,
    block_from_bytes,
    block_from_data_url,
    is_data_url,
    is_http_url,
    unsupported_url,
    url_of,
)
from cli_bridge.protocol.blocks import ImageBlock

from .config.settings import Settings

FETCH_TIMEOUT = 10.0  # seconds per image, all redirects included
MAX_REDIRECTS = 3
MAX_CONCURRENT = 4  # fetches at once per request
MAX_URL_IMAGES = 16  # per request
ACCEPT = "image/png, image/jpeg, image/gif, image/webp"
USER_AGENT = "claude-max-api-proxy (image fetch)"

# (host, port) -> the addresses it resolves to, as text.
Resolver: TypeAlias = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public(address: str) -> bool:
    """Whether an IP is one the public internet routes to: not loopback, private, link-local,
    multicast, reserved, unspecified, shared (CGNAT), documentation or the like. IPv6 forms
    that carry an IPv4 address (mapped, compatible, 6to4, NAT64) are judged by that one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in net for net in _CARRY_IPV4):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(str(embedded))
        if ip.teredo is not None or ip.is_site_local or ip in _LOCAL_NAT64:
            return False
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_private
    )


# IPv6 prefixes whose last 32 bits are an IPv4 address: well-known NAT64 (RFC 6052), and
# IPv4-compatible; the local-use NAT64 prefix (RFC 8215) is never public.
_CARRY_IPV4 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("::/96"))
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


class BlockedAddress(Exception):
    """The URL's host is (or resolves to, or connected to) a non-public address."""


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses, and to the very address it checked."""

    def __init__(self, resolver: Resolver) -> None:
        self._resolve = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._resolve(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        public = [a for a in addresses if is_public(a)]
        if not public:
            raise BlockedAddress(host)
        failure: Exception = httpcore.ConnectError(f"no address of {host} answered")
        for address in public:
            try:
                stream = await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
                continue
            peer = stream.get_extra_info("server_addr")
            if not isinstance(peer, tuple) or not is_public(str(peer[0])):
                await stream.aclose()
                raise BlockedAddress(host)
            return stream
        raise failure


_ssl_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _ssl_context  # built once: loading the CA bundle takes tens of ms
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context(trust_env=False)
    return _ssl_context


def _transport(allow_private: bool, resolver: Resolver) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=_tls(), trust_env=False)
    if not allow_private:
        # httpx has no public hook for the network backend: give its transport a pool with ours.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls(), network_backend=_PublicOnlyBackend(resolver)
        )
    return transport


def _unreachable(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=BAD_URL)


class ImageFetcher:
    """Fetches image URLs into checked image blocks; every failure is a 400 naming the part."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        resolver: Resolver = system_resolver,
        timeout: float = FETCH_TIMEOUT,
        max_bytes: int = MAX_IMAGE_BYTES,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._resolver = resolver

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=_transport(self.allow_private, self._resolver),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.timeout),
            headers={"Accept": ACCEPT, "User-Agent": USER_AGENT},
        )

    async def fetch(self, client: httpx.AsyncClient, url: str, param: str) -> ImageBlock:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(client, url, param)
        except (TimeoutError, httpx.TimeoutException):
            raise _unreachable(
                f"fetching the image URL took longer than {self.timeout:g} s", param
            ) from None
        except BlockedAddress:
            raise _unreachable(
                "the image URL's host is a loopback, private or otherwise non-public "
                "address; this proxy does not fetch those (see --image-url-allow-private)",
                param,
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise _unreachable(f"could not fetch the image URL: {error}", param) from None

    async def _follow(self, client: httpx.AsyncClient, url: str, param: str) -> ImageBlock:
        target = httpx.URL(url)
        for _ in range(self.max_redirects + 1):
            if target.scheme not in ("http", "https") or not target.host:
                raise unsupported_url(str(target), param)
            async with client.stream("GET", target) as response:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    target = target.join(location)
                    continue
                if response.status_code != 200:
                    raise _unreachable(f"the image URL answered HTTP {response.status_code}", param)
                body = await self._read(response, param)
                declared = response.headers.get("content-type")
                return block_from_bytes(body, declared, param, sniff_generic=True)
        raise _unreachable(f"the image URL redirected more than {self.max_redirects} times", param)

    async def _read(self, response: httpx.Response, param: str) -> bytes:
        """The body, refused as soon as it passes the cap (announced or streamed)."""
        too_big = InvalidRequest(
            f"the image at the URL is larger than {self.max_bytes} bytes",
            param=param,
            code=TOO_LARGE,
        )
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)


def url_parts(messages: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """param (`messages.N.content.M`) -> http(s) URL, for every image part of a user message."""
    found: dict[str, str] = {}
    for i, message in enumerate(messages):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if isinstance(part, dict) and part.get("type") in IMAGE_PARTS:
                param = f"messages.{i}.content.{j}"
                url = url_of(part, param)
                if is_http_url(url):
                    found[param] = url
    return found


def converter(fetched: Mapping[str, ImageBlock]) -> ImageConverter:
    """The `image` callback of the chat converters: data URLs decoded here, http(s) URLs
    answered from `fetched` (what resolve_images fetched for that part)."""

    def convert(part: Mapping[str, Any], param: str) -> ImageBlock:
        url = url_of(part, param)
        if is_data_url(url):
            return block_from_data_url(url, param)
        if param in fetched:
            return fetched[param]
        if is_http_url(url):
            raise InvalidRequest("image URLs are accepted in user messages only", param=param)
        raise unsupported_url(url, param)

    return convert


async def resolve_images(
    messages: Sequence[Mapping[str, Any]],
    settings: Settings,
    *,
    fetcher: ImageFetcher | None = None,
) -> ImageConverter:
    """Fetch every http(s) image of `messages` concurrently; the converter (for these same
    `messages`: it knows the parts by param) answers those and decodes the data URLs.
    The first failure is the request's 400 (the other fetches are cancelled)."""
    return converter(await fetch_images(url_parts(messages), settings, fetcher=fetcher))


async def fetch_images(
    urls: Mapping[str, str], settings: Settings, *, fetcher: ImageFetcher | None = None
) -> dict[str, ImageBlock]:
    """param -> URL, fetched concurrently into param -> checked image block, for any surface
    (each finds its own image URLs). The first failure is the request's 400 (the other
    fetches are cancelled)."""
    if not urls:
        return {}
    if len(urls) > MAX_URL_IMAGES:
        param = list(urls)[MAX_URL_IMAGES]
        raise InvalidRequest(
            f"at most {MAX_URL_IMAGES} image URLs per request; send more as base64",
            param=param,
            code=BAD_URL,
        )
    fetcher = fetcher or ImageFetcher(allow_private=settings.image_url_allow_private)
    gate = asyncio.Semaphore(MAX_CONCURRENT)
    async with fetcher.client() as client:

        async def one(param: str, url: str) -> tuple[str, ImageBlock]:
            async with gate:
                return param, await fetcher.fetch(client, url, param)

        tasks = [asyncio.ensure_future(one(p, u)) for p, u in urls.items()]
        try:
            done = await asyncio.gather(*tasks)
        finally:  # on the first failure: stop the others before the client closes
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return dict(done)
