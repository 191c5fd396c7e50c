"""Who may use the review page: loopback binding, allowed hosts, reviewer tokens, CSRF on forms.

A request whose `Host` (or, on a write, whose `Origin`) names a host the server was not told
about is refused with 403 before anything else, so a page on another site that points its own
name at 127.0.0.1 (DNS rebinding) cannot drive the reviewer's browser against this server.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Response, abort, g, redirect, request
from werkzeug.wrappers import Response as BaseResponse

TOKEN_COOKIE = "funnel_review_token"
LOOPBACK_NAMES = {"localhost"}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})
MIN_TOKEN_CHARS = 16
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ReviewServerError(ValueError):
    """The review page cannot be served as asked; the message says what to change."""


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (127.0.0.0/8, ::1) or `localhost`."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_token_off_loopback(host: str, tokens: Collection[str]) -> None:
    """Refuse (ReviewServerError) to serve on a non-loopback address without strong tokens.

    Off loopback every access token must be non-blank and at least MIN_TOKEN_CHARS long.
    """
    if is_loopback(host):
        return
    if not tokens:
        raise ReviewServerError(
            f"refusing to serve the review page on {host} without an access token: pass "
            "--token or set FUNNEL_REVIEW_TOKEN (or bind to 127.0.0.1)"
        )
    if any(len(token.strip()) < MIN_TOKEN_CHARS for token in tokens):
        raise ReviewServerError(
            f"refusing to serve the review page on {host} with an access token shorter than "
            f"{MIN_TOKEN_CHARS} characters; make one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        )


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names a request may address: loopback, the bound address (unless a wildcard like
    0.0.0.0, which names no host) and `extra` (the names reviewers reach the server by)."""
    named = {bound} if bound not in WILDCARD_ADDRESSES else set()
    return LOOPBACK_HOSTS | {_host_name(name) for name in (*named, *extra)}


def _host_name(host: str) -> str:
    """`host` without brackets or port, lower-cased ('' when it cannot be parsed)."""
    try:
        return urlsplit(f"//{host.strip()}").hostname or ""
    except ValueError:
        return ""


def check_host(hosts: frozenset[str]) -> BaseResponse | None:
    """Before each request: 403 unless `Host` (and `Origin` or `Referer` on a write) is allowed."""
    if _host_name(request.host) not in hosts:
        return _forbidden(f"this server does not answer to host {request.host!r}")
    if request.method in WRITE_METHODS:
        origin = request.headers.get("Origin") or request.headers.get("Referer")
        if origin is not None and _origin_host(origin) not in hosts:
            return _forbidden(f"a form posted from {origin!r} is not accepted here")
    return None


def _origin_host(origin: str) -> str:
    try:
        return urlsplit(origin).hostname or ""
    except ValueError:
        return ""


def _forbidden(message: str) -> Response:
    return Response(message + "\n", status=403, mimetype="text/plain")


def _same_secret(offered: str, secret: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (never raises)."""
    return hmac.compare_digest(
        offered.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass")
    )


@dataclass(frozen=True)
class ReviewerTokens:
    """Access tokens and whose they are; no tokens means the page is open (loopback only)."""

    reviewer: str
    """Who decides when the page is open, or when the single `--token` is used."""
    names: Mapping[str, str]
    """Access token → reviewer name."""

    @classmethod
    def build(
        cls, reviewer: str, token: str | None, reviewer_tokens: Mapping[str, str] | None
    ) -> ReviewerTokens:
        """The tokens of `reviewer_tokens` (name → token) and `token` (as `reviewer`'s)."""
        names = {secret: name for name, secret in (reviewer_tokens or {}).items()}
        if len(names) != len(reviewer_tokens or {}):
            raise ReviewServerError("two reviewers share one access token; give each their own")
        if token:
            names.setdefault(token, reviewer)
        if any(not secret.strip() for secret in names):
            raise ReviewServerError("an access token is blank; give every reviewer a token")
        return cls(reviewer, names)

    def holder(self, offered: str) -> str | None:
        """The reviewer whose token `offered` is (compared in constant time), or None."""
        found = None
        for secret, name in self.names.items():
            if _same_secret(offered, secret):
                found = name
        return found


def authorize(tokens: ReviewerTokens) -> BaseResponse | None:
    """Before each request: set `g.reviewer`, or answer 401 without a valid token.

    A valid `?token=` is moved into an HTTP-only cookie and dropped from the address.
    """
    g.reviewer = tokens.reviewer
    if not tokens.names:
        return None
    offered = request.args.get("token")
    if offered is not None and tokens.holder(offered) is not None:
        response = redirect(request.path)
        response.set_cookie(TOKEN_COOKIE, offered, httponly=True, samesite="Strict")
        return response
    header = request.headers.get("Authorization", "")
    for candidate in (header.removeprefix("Bearer "), request.cookies.get(TOKEN_COOKIE, "")):
        name = tokens.holder(candidate) if candidate else None
        if name is not None:
            g.reviewer = name
            return None
    return Response(
        "access token required: open the page with ?token=TOKEN or send "
        "'Authorization: Bearer TOKEN'\n",
        status=401,
        mimetype="text/plain",
    )


def check_csrf(expected: str) -> None:
    """Abort with 403 unless the posted form carries the server's CSRF token."""
    if not _same_secret(request.form.get("csrf", ""), expected):
        abort(403, "the form is stale or forged: reload the page and decide again")
