"""URL checks shared by the issuer file, the public base URL and the FHIR server allowlist."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

_DEFAULT_PORTS = {"https": 443, "http": 80}
# RFC 3986 unreserved, sub-delims, ":", "/", "@" and IPv6 brackets: a URL with nothing encoded, no
# query, no fragment, no whitespace, no backslash, nothing a URL parser could read another way.
_PLAIN_URL = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:/@\[\]]+")
_DOT_SEGMENTS = frozenset({".", ".."})


def is_loopback_host(host: str | None) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_url(url: str) -> SplitResult | None:
    """Parse an absolute http(s) URL; None when it is not one (or has credentials)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return parts


def is_secure_url(url: str, *, allow_loopback_http: bool = True) -> bool:
    """https, or plain http to a loopback host when `allow_loopback_http`."""
    parts = split_url(url)
    if parts is None:
        return False
    if parts.scheme == "https":
        return True
    return allow_loopback_http and is_loopback_host(parts.hostname)


def effective_port(parts: SplitResult) -> int:
    """The port a URL connects to, filling in the scheme's default."""
    return parts.port or _DEFAULT_PORTS[parts.scheme]


def url_is_under(candidate: str, prefix: str) -> bool:
    """True when `candidate` has the scheme, host and port of `prefix` and a path under its path.

    Compared as parsed URLs, so `https://ehr.example.org.evil.test/keys/`, `https://ehr.example.org:444/keys/`
    and `https://ehr.example.org/keys-evil` are all outside `https://ehr.example.org/keys/`.
    `candidate` must be a plain URL: no query, fragment, userinfo, `%`-encoding, backslash or dot
    segment, so the server reads the path compared here, and a token cannot make a fresh URL out
    of parts the server ignores.
    """
    if not _PLAIN_URL.fullmatch(candidate):
        return False
    cand, pref = split_url(candidate), split_url(prefix)
    if cand is None or pref is None:
        return False
    if cand.scheme != pref.scheme or cand.hostname != pref.hostname:
        return False
    if effective_port(cand) != effective_port(pref):
        return False
    if _DOT_SEGMENTS.intersection(cand.path.split("/")):
        return False
    base = pref.path if pref.path.endswith("/") else pref.path + "/"
    return cand.path == pref.path or cand.path.startswith(base)


def normalise_base_url(url: str) -> str:
    """A URL without its trailing slash, for exact comparisons of server base URLs."""
    return url.rstrip("/")
