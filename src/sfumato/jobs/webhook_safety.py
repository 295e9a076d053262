"""Where a webhook may be sent. A URL is resolved once, the address is checked, and the request is then
sent to that very address (Host header and TLS SNI keep the name), so a DNS answer that changes between the
check and the connection (DNS rebinding) cannot point a delivery at an internal service."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud instance-metadata endpoints: refused even when private destinations are allowed (nobody's webhook
# receiver lives there, and they hand out credentials); only an explicit allow-host entry lets one through.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure wire server (a public address, hence listed)
    )
)

# getaddrinfo's signature, injectable so tests can make any name resolve anywhere.
Resolver = Callable[[str, int], list[str]]


class DestinationRefused(Exception):
    """The destination is not allowed: a final failure, never retried."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def classify_address(address: str | IPAddress) -> str | None:
    """Why an address is not a public destination ('loopback', 'private', ...), or None when it is."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 reaches 127.0.0.1: judge the IPv4 address inside (also 6to4 and NAT64-style).
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        # Everything else that is not publicly routable: carrier-grade NAT (100.64/10), documentation...
        (not ip.is_global, "a non-public address"),
    )
    return next((why for bad, why in checks if bad), None)


@dataclass(frozen=True)
class PinnedTarget:
    """The request to send: the URL with the checked IP in place of the name, and what keeps the name."""

    url: httpx.URL
    address: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DestinationGuard:
    allow_private: bool = False
    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = system_resolver

    def pin(self, url: str) -> PinnedTarget:
        """Resolve once and check the address that will be connected to. Raises DestinationRefused for
        a forbidden address, OSError when the name does not resolve (a network error: retried)."""
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise DestinationRefused(f"{url!r} is not an http(s) URL")
        host = parsed.host.lower()
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = self.resolver(host, port)
        if not addresses:
            raise OSError(f"{host} did not resolve to any address")
        address = addresses[0].split("%", 1)[0]  # drop an IPv6 zone id
        allowed_by_name = host in self.allow_hosts or address in self.allow_hosts
        why = classify_address(address)
        if why and not allowed_by_name:
            metadata = why == "a cloud metadata address"
            if metadata or not self.allow_private:
                fix = "add the host to SFUMATO_WEBHOOK_ALLOW_HOSTS" + (
                    "" if metadata else " or set SFUMATO_WEBHOOK_ALLOW_PRIVATE=true"
                )
                raise DestinationRefused(f"refused: {host} resolves to {address}, {why}; {fix} to allow it")
        extensions: dict[str, Any] = {}
        is_literal = _is_ip(host)
        if parsed.scheme == "https" and not is_literal:
            # Certificate checked against the name, while the socket goes to the checked address.
            extensions["sni_hostname"] = host
        return PinnedTarget(
            url=parsed.copy_with(host=address),
            address=address,
            headers={"host": parsed.netloc.decode("ascii")},
            extensions=extensions,
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
