"""Who may use the review page: loopback binding, reviewer tokens, CSRF on forms."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Response, abort, g, redirect, request
from werkzeug.wrappers import Response as BaseResponse

TOKEN_COOKIE = "funnel_review_token"
LOOPBACK_NAMES = {"localhost"}


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


def require_token_off_loopback(host: str, token: str | None) -> None:
    """Refuse (ReviewServerError) to serve on a non-loopback address without an access token."""
    if not is_loopback(host) and not token:
        raise ReviewServerError(
            f"refusing to serve the review page on {host} without an access token: pass "
            "--token or set FUNNEL_REVIEW_TOKEN (or bind to 127.0.0.1)"
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
        if any(not secret for secret in names):
            raise ReviewServerError("an access token is empty; give every reviewer a token")
        return cls(reviewer, names)

    def holder(self, offered: str) -> str | None:
        """The reviewer whose token `offered` is (compared in constant time), or None."""
        found = None
        for secret, name in self.names.items():
            if hmac.compare_digest(offered, secret):
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
    if not hmac.compare_digest(request.form.get("csrf", ""), expected):
        abort(403, "the form is stale or forged: reload the page and decide again")
