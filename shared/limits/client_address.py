"""Whom a request comes from, as the per-address limits count it: an address from the
X-Forwarded-For header, chosen so that a client cannot choose it.

Azure's front ends append to X-Forwarded-For the address of the peer they accepted the
connection from; whatever a client sent in the header stays on the left, so the left-most
entry is the client's to choose, and any limit keyed on it is evaded by changing it. Behind a
Static Web Apps linked backend the list ends with an internal hop of Azure's own (a private
fd00:: address, e.g. "8.23.191.142:52987, [fd00::d63d:…]:64909", reported in
https://github.com/geoffrich/svelte-adapter-azure-swa/pull/71), and Front Door documents that
it appends the client's address it saw (learn.microsoft.com/azure/frontdoor/
front-door-http-headers-protocol: X-Forwarded-For, X-Azure-SocketIP). So the address counted
is the right-most one outside private ranges: the first that Azure's own network did not
add. The local host appends the TCP peer's address the same way (127.0.0.1 in tests: with
nothing but internal entries, the right-most is used). X-Azure-ClientIP and X-Client-IP are
not used: Front Door documents that a client can overwrite the client IP it reports, and
App Service sets neither in every set-up.

An IPv6 client is counted by its /64: one household or phone is given a whole /64, and
counting single addresses would let it walk through 2**64 of them.
"""

from __future__ import annotations

import ipaddress

# Counted together: requests whose header is missing or holds no address at all.
UNKNOWN = "unknown"
# The hops of a provider's own network (and this machine's), skipped from the right: private
# IPv4 ranges, carrier-grade NAT, unique-local and link-local IPv6, loopback.
_INTERNAL = tuple(
    ipaddress.ip_network(net)
    for net in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "127.0.0.0/8",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)


def client_address(forwarded_for: str | None) -> str:
    """The key that per-address limits count this request under (never logged)."""
    addresses = [a for a in (_address(part) for part in (forwarded_for or "").split(",")) if a]
    if not addresses:
        return UNKNOWN
    chosen = next((a for a in reversed(addresses) if not _is_internal(a)), addresses[-1])
    if chosen.version == 6:
        return str(ipaddress.ip_network(f"{chosen}/64", strict=False))
    return str(chosen)


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return any(address in net for net in _INTERNAL if net.version == address.version)


def _address(entry: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = entry.strip()
    if text.startswith("["):  # [v6]:port
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # v4:port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
