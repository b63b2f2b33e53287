"""Who may use a server: a token (required off loopback), the Origin of browser requests, and the Host header
(so that a web page elsewhere cannot reach a loopback server by DNS rebinding)."""
from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(18)


def _host_name(host_header: str) -> str:
    """'example:8765' -> 'example'; '[::1]:8765' -> '::1'."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


@dataclass
class AccessPolicy:
    """``token``: None on loopback (no token needed); else every page, API call and socket must carry it
    (``?token=`` or the ``X-Affect-Token`` header). ``allowed_origins``: extra browser origins allowed
    besides the server's own (``http://host:port``)."""

    bind_host: str = "127.0.0.1"
    token: str | None = None
    allowed_origins: frozenset[str] = field(default_factory=frozenset)

    def token_ok(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def host_ok(self, host_header: str | None) -> bool:
        """On loopback only loopback names are accepted as Host (DNS-rebinding guard); with a token any."""
        if self.token is not None or not is_loopback(self.bind_host):
            return True
        return host_header is not None and is_loopback(_host_name(host_header))

    def origin_ok(self, origin: str | None, host_header: str | None) -> bool:
        """Requests without Origin (programs, not browsers) pass; a browser's must be this server's own
        origin or one allowed with ``--allow-origin``."""
        if origin is None:
            return True
        origin = origin.rstrip("/").lower()
        if origin in {o.rstrip("/").lower() for o in self.allowed_origins}:
            return True
        if host_header is None:
            return False
        return origin in (f"http://{host_header.lower()}", f"https://{host_header.lower()}")

    def refusal(self, token: str | None, origin: str | None, host_header: str | None) -> str | None:
        """Why a request is refused, or None when it may proceed."""
        if not self.host_ok(host_header):
            return f"host {host_header!r} is not this server's loopback address"
        if not self.origin_ok(origin, host_header):
            return f"origin {origin} may not use this server (start it with --allow-origin {origin} to allow it)"
        if not self.token_ok(token):
            return "missing or wrong token: open the address printed when the server started (it ends in ?token=...)"
        return None


def access_policy(host: str, token: str | None, origins: Sequence[str], warn: Callable[[str], None]) -> AccessPolicy:
    """Loopback: no token unless given. Anything else: a token always (random unless given), and a warning."""
    if not is_loopback(host):
        token = token or new_token()
        warn(f"listening on {host}: other machines can reach this server; every page and socket needs the token")
    return AccessPolicy(bind_host=host, token=token, allowed_origins=frozenset(origins))
