"""IPv4 CIDR blocks as AWS accepts them.

VPC user guide, "VPC CIDR blocks": a VPC's IPv4 block and each subnet's are
between /16 and /28. An allow-list entry (a security-group rule, the EKS public
endpoint) is any valid block. Every block must be a network address (no host
bits set), with octets 0-255.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

VPC_PREFIXES = (16, 28)
SUBNET_PREFIXES = (16, 28)
ALB_SUBNET_MAX_PREFIX = 27
"""ELB user guide, "Subnets for your load balancer": each subnet needs at least a /27 and 8 free addresses."""

_SHAPE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})/(\d{1,2})$")
EVERYWHERE = ipaddress.IPv4Network("0.0.0.0/0")


def parse(text: str) -> ipaddress.IPv4Network:
    """The network ``text`` names; ``ValueError`` says what is wrong with it."""
    match = _SHAPE.match(text)
    if not match:
        raise ValueError("must be an IPv4 CIDR block such as 10.0.0.0/16")
    *octets, prefix = (int(part) for part in match.groups())
    for octet in octets:
        if octet > 255:
            raise ValueError(f"octet {octet} is above 255")
    if prefix > 32:
        raise ValueError(f"prefix /{prefix} is above /32")
    try:
        return ipaddress.IPv4Network(text, strict=True)
    except ValueError:
        network = ipaddress.IPv4Network(text, strict=False)
        raise ValueError(f"{text} has host bits set; the network is {network}") from None


def check_prefix(network: ipaddress.IPv4Network, bounds: tuple[int, int], what: str) -> None:
    """``ValueError`` unless the prefix length is within ``bounds`` (AWS's limits for ``what``)."""
    low, high = bounds
    if network.prefixlen < low:
        raise ValueError(f"/{network.prefixlen} is wider than AWS allows for {what}; allowed: /{low} to /{high}")
    if network.prefixlen > high:
        raise ValueError(f"/{network.prefixlen} is narrower than AWS allows for {what}; allowed: /{low} to /{high}")


def check_private_use(network: ipaddress.IPv4Network) -> None:
    """A VPC cannot use loopback, link-local, multicast, reserved or "this network" space."""
    for name, reserved in (
        ("'this network' (0.0.0.0/8)", ipaddress.IPv4Network("0.0.0.0/8")),
        ("loopback (127.0.0.0/8)", ipaddress.IPv4Network("127.0.0.0/8")),
        ("link-local (169.254.0.0/16)", ipaddress.IPv4Network("169.254.0.0/16")),
        ("multicast (224.0.0.0/4)", ipaddress.IPv4Network("224.0.0.0/4")),
        ("reserved (240.0.0.0/4)", ipaddress.IPv4Network("240.0.0.0/4")),
    ):
        if network.overlaps(reserved):
            raise ValueError(
                f"{network} overlaps {name} space; use a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
            )


def covers_everything(networks: Iterable[ipaddress.IPv4Network]) -> bool:
    """Whether the blocks together cover every IPv4 address (0.0.0.0/0 in pieces)."""
    return EVERYWHERE in ipaddress.collapse_addresses(networks)
