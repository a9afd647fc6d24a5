"""URL identity: one canonical form for every way an article's URL is written.

>>> canonical_url("HTTPS://WWW.Example.com:443/a/b/?utm_source=x&id=3#top")
'https://www.example.com/a/b?id=3'
>>> canonical_url("https://www-example-com.cdn.ampproject.org/c/s/www.example.com/amp/x/")
'https://www.example.com/amp/x'
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_CACHE = ".cdn.ampproject.org"
# Already plain: lower-case http(s), a lower-case host with no port or user, a path
# and nothing else. For these the result is the same string minus trailing slashes.
_PLAIN = re.compile(r"https?://[a-z0-9][a-z0-9.\-]*(?:/[^?#;\s\\@]*)?")


def _unwrap_amp_cache(scheme: str, host: str, path: str, query: str) -> str | None:
    """``https://www-x-com.cdn.ampproject.org/c/s/www.x.com/p`` -> ``https://www.x.com/p``."""
    if not host.endswith(_AMP_CACHE):
        return None
    parts = path.split("/", 4)  # ['', 'c'|'v'|'i', 's'?, host, rest]
    if len(parts) < 3 or parts[1] not in ("c", "v", "i"):
        return None
    if parts[2] == "s":
        inner_scheme, rest = "https", "/".join(parts[3:])
    else:
        inner_scheme, rest = "http", "/".join(parts[2:])
    if not rest:
        return None
    return f"{inner_scheme}://{rest}" + (f"?{query}" if query else "")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, default port, ``utm_*`` or trailing slash.

    Text that is not an absolute URL is returned stripped, unchanged otherwise.
    """
    url = url.strip()
    if _PLAIN.fullmatch(url):
        scheme, _, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        if not host.endswith(_AMP_CACHE):
            return f"{scheme}://{host}/{path.rstrip('/')}" if slash else f"{scheme}://{host}/"
        inner = _unwrap_amp_cache(scheme, host, slash + path, "")
        if inner is not None:
            return canonical_url(inner)
    try:
        s = urlsplit(url)
        port = s.port
    except ValueError:
        return url
    scheme = s.scheme.lower()
    host = (s.hostname or "").lower()
    if not scheme or not host:
        return url
    inner = _unwrap_amp_cache(scheme, host, s.path, s.query)
    if inner is not None:
        return canonical_url(inner)
    netloc = host
    if s.username or s.password:
        netloc = f"{s.username or ''}{':' + s.password if s.password else ''}@{host}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = s.path.rstrip("/") or "/"
    query = s.query
    if query and "utm_" in query.lower():
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, v) for k, v in pairs if not k.lower().startswith("utm_")])
    return urlunsplit((scheme, netloc, path, query, ""))
