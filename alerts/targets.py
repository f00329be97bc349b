"""Where a channel may send: http(s) only, and never to an address that is not a receiver's.

A rules file names URLs that the collector then POSTs to, with secrets, from inside
its network. So the channel models check every target when the file is read, on the
host *as the resolver would read it*: ``2852039166``, ``0xA9FEA9FE``, ``0251.0376.0251.0376``,
``169.254.43518`` and ``[::ffff:169.254.169.254]`` are all 169.254.169.254, where cloud
metadata services hand out credentials.

=================================  ==========================================================
loopback (127/8, ::1, localhost)   allowed: a receiver on this machine (tests, local fakes,
                                   a relay next to the collector) is the operator's own
private (10/8, 172.16/12,          refused unless ``allow_private_targets: true`` is set, on
192.168/16, 100.64/10, fc00::/7…)  the channel or at the top of the file
link-local (169.254/16, fe80::/10) refused always: metadata services live there, no receiver
and metadata hosts                 does (``metadata.google.internal``, fd00:ec2::254, …)
unspecified, multicast, reserved   refused always: not a host to send to
a public address, any other name  allowed
=================================  ==========================================================

An IPv6 address that carries an IPv4 one (mapped ``::ffff:a.b.c.d``, compatible
``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) is judged by the worse
of the two. A host *name* is judged by its spelling only (it is not resolved here: the
answer could change by the time an alert is sent), so keep the rules file in trusted hands.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal
from urllib.parse import SplitResult, urlsplit

__all__ = ["Verdict", "check_host", "check_url", "classify_host"]

Verdict = Literal["loopback", "public", "name", "private", "link-local", "metadata", "not-a-host", "invalid"]

_METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)
_METADATA_IPS = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_PART = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")
_SEVERITY: dict[Verdict, int] = {
    "public": 0,
    "name": 0,
    "loopback": 0,
    "private": 1,
    "not-a-host": 2,
    "link-local": 3,
    "metadata": 4,
    "invalid": 5,
}


def check_url(url: str, *, schemes: tuple[str, ...] = ("http", "https"), allow_private: bool = False) -> str | None:
    """Why ``url`` may not be sent to, or ``None``. The reason names the host, never the rest (it may be secret)."""
    if any(c.isspace() or ord(c) < 0x20 or c == "\\" for c in url):
        return "has spaces, control characters or a backslash (which clients read differently)"
    try:
        parts: SplitResult = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "is not a valid URL (check the host and port)"
    if parts.scheme not in schemes:
        if schemes == ("http", "https"):
            return "must be an http:// or https:// URL"
        return "must start with " + " or ".join(f"{scheme}://" for scheme in schemes)
    if not parts.hostname:
        return "has no host"
    return check_host(parts.hostname, allow_private=allow_private)


def check_host(host: str, *, allow_private: bool = False) -> str | None:
    """Why ``host`` (as in a URL, brackets removed) may not be sent to, or ``None``."""
    verdict, address = classify_host(host)
    shown = host if address is None or address == host else f"{host} (= {address})"
    if verdict in ("public", "name", "loopback") or (verdict == "private" and allow_private):
        return None
    if verdict == "private":
        return (
            f"refused target {shown}: a private address; "
            "set allow_private_targets: true on the channel (or at the top of the file) to send inside your network"
        )
    if verdict == "link-local":
        return f"refused target {shown}: a link-local address, where cloud metadata services answer"
    if verdict == "metadata":
        return f"refused target {shown}: a cloud metadata service"
    if verdict == "not-a-host":
        return f"refused target {shown}: not an address a receiver has (unspecified, multicast or reserved)"
    return f"refused target {host!r}: not a valid host name or address"


def classify_host(host: str) -> tuple[Verdict, str | None]:
    """What ``host`` is, and the address it spells (``None`` for a name)."""
    name = host.strip().lower().removeprefix("[").removesuffix("]")
    name = name[:-1] if name.endswith(".") and not name.endswith("..") else name
    address = _address(name)
    if address is None:
        if name in _METADATA_NAMES:
            return "metadata", None
        if name == "localhost" or name.endswith(".localhost"):
            return "loopback", None
        if all(_IPV4_PART.match(label) for label in name.split(".")):
            return "invalid", None  # numeric but no address (999.1.1.1, 08.1.1.1): never a receiver's name
        return ("name" if _NAME.match(name) else "invalid"), None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _classify(address.ipv4_mapped), str(address.ipv4_mapped)  # ::ffff:a.b.c.d is a.b.c.d
    verdicts = [_classify(address), *(_classify(v4) for v4 in _embedded_ipv4(address))]
    return max(verdicts, key=_SEVERITY.__getitem__), str(address)


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a resolver reads in ``name``: IPv6, dotted quad, or inet_aton's other IPv4 forms."""
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name.split("%", 1)[0])  # a zone id (fe80::1%eth0) changes nothing
        except ValueError:
            return None
    parts = name.split(".")
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.match(p) for p in parts):
        return None
    try:
        numbers = [
            int(p, 16) if p.startswith("0x") else int(p, 8) if len(p) > 1 and p[0] == "0" else int(p) for p in parts
        ]
    except ValueError:
        return None  # '08' is no octal number: a resolver refuses it too
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = 0
    for n in leading:
        value = value << 8 | n
    return ipaddress.IPv4Address(value << 8 * (5 - len(numbers)) | last)


def _embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.sixtofour, *(address.teredo or ())]
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in net for net in _NAT64) or (int(address) >> 32 == 0 and int(address) > 1):
        found.append(low)  # NAT64, or the deprecated IPv4-compatible ::a.b.c.d
    return [a for a in found if a is not None]


def _classify(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Verdict:
    if address in _METADATA_IPS:
        return "metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_unspecified or address.is_multicast or address.is_reserved or _is_this_network(address):
        return "not-a-host"
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255"):
        return "not-a-host"
    return "public" if address.is_global else "private"


def _is_this_network(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return isinstance(address, ipaddress.IPv4Address) and int(address) >> 24 == 0  # 0.0.0.0/8
