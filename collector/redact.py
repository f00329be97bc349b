"""``redact_url``: a URL fit to print, log or return, with its credentials masked.

Connection URLs carry passwords (``redis://:s3cret@host``, ``rediss://user:pw@host``,
``postgresql://app:pw@db/runwatch?sslpassword=...``); a startup banner, a log line or a health
answer must never show them. Everything else — scheme, host, port, path — stays readable.

>>> redact_url("redis://default:s3cret@cache.internal:6380/0")
'redis://default:***@cache.internal:6380/0'
>>> redact_url("postgresql://db/runwatch?user=app&password=s3cret")
'postgresql://db/runwatch?user=app&password=***'
>>> redact_text('connection to "postgresql://app:pw@db/x" failed')   # URLs inside a message
'connection to "postgresql://app:***@db/x" failed'
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

MASK = "***"
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
# query parameters that carry a secret in the URLs people use (redis-py, libpq, SQLAlchemy, S3 presigning)
SECRET_PARAMETERS = frozenset(
    {"password", "passwd", "pass", "pwd", "sslpassword", "secret", "token", "access_token", "api_key", "apikey"}
    | {"x-amz-signature", "x-amz-credential", "x-amz-security-token", "signature", "sig"}
)


def redact_url(url: str) -> str:
    """``url`` with its password masked (a lone user name too: it is often a token) and secret query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK  # not even a URL: show nothing of it
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hostport}" if colon else f"{MASK}@{hostport}"
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in SECRET_PARAMETERS for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='')}={MASK if name.lower() in SECRET_PARAMETERS else quote(value, safe='/:')}"
                for name, value in pairs
            )
    if (netloc, query) == (parts.netloc, parts.query):
        return url  # nothing secret (and urlunsplit would respell some URLs: unix:/// → unix:/)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """``text`` (an exception message, a log line) with every URL in it redacted."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
