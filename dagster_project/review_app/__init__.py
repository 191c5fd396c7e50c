"""The review page: people approve, reject (with a reason) or flag the queued documents.

A Flask app over the lakehouse, served by waitress (`funnel review serve`). It binds to
127.0.0.1 unless told otherwise, and bound anywhere else it refuses to start without an access
token. With a token, every request must carry it: `Authorization: Bearer TOKEN`, or once as
`?token=TOKEN`, which the page keeps in an HTTP-only cookie. Several reviewers can share one
server, each with their own token (`--reviewers FILE`): the token says who decided. Forms carry
a per-server CSRF token.
Every decision is appended to `review/decisions` through `lakehouse/review.py`.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, abort, g, redirect, render_template, request, url_for
from jinja2 import DictLoader
from werkzeug.wrappers import Response as BaseResponse

from dagster_project.review_app.pages import DOCUMENT, LAYOUT, MESSAGE, REPORT
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.provenance import NotFoundError, trace
from lakehouse.recipe import LoadedRecipe
from lakehouse.releases import review_gate
from lakehouse.review import (
    ReviewError,
    add_to_blocklist,
    blocklist,
    latest_decisions,
    record_decision,
    review_progress,
    review_queue,
)
from lakehouse.storage import code_version
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, REVIEW_DECISIONS, REVIEW_QUEUE

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


def create_app(
    catalog: Catalog,
    recipe: LoadedRecipe,
    reviewer: str,
    token: str | None = None,
    reviewer_tokens: Mapping[str, str] | None = None,
) -> Flask:
    """The review page's Flask app for one lakehouse and recipe.

    Decisions are recorded as `reviewer`'s, or, with `reviewer_tokens` (reviewer name → access
    token), as the reviewer's whose token the request carries.
    """
    tokens = {secret: name for name, secret in (reviewer_tokens or {}).items()}
    if len(tokens) != len(reviewer_tokens or {}):
        raise ReviewServerError("two reviewers share one access token; give each their own")
    if token:
        tokens.setdefault(token, reviewer)
    if any(not secret for secret in tokens):
        raise ReviewServerError("an access token is empty; give every reviewer a token")
    app = Flask(__name__)
    app.jinja_loader = DictLoader(
        {
            "layout.html": LAYOUT,
            "document.html": DOCUMENT,
            "report.html": REPORT,
            "message.html": MESSAGE,
        }
    )
    csrf = secrets.token_urlsafe(32)
    session_id = uuid.uuid4().hex[:12]
    writes = threading.Lock()
    min_rate = recipe.recipe.release.min_approval_rate

    def commit() -> CommitInfo:
        inputs = {REVIEW_QUEUE.key: catalog.version(REVIEW_QUEUE) or 0}
        return CommitInfo(
            run_id=f"review:{session_id}",
            stage="review",
            recipe_sha256=recipe.sha256,
            code_version=code_version(),
            input_versions=inputs,
        )

    def _holder(offered: str) -> str | None:
        """The reviewer whose token `offered` is (compared in constant time), or None."""
        found = None
        for secret, name in tokens.items():
            if hmac.compare_digest(offered, secret):
                found = name
        return found

    @app.before_request
    def _authorize() -> BaseResponse | None:
        g.reviewer = reviewer
        if not tokens:
            return None
        offered = request.args.get("token")
        if offered is not None and _holder(offered) is not None:
            response = redirect(request.path)
            response.set_cookie(TOKEN_COOKIE, offered, httponly=True, samesite="Strict")
            return response
        header = request.headers.get("Authorization", "")
        for candidate in (header.removeprefix("Bearer "), request.cookies.get(TOKEN_COOKIE, "")):
            name = _holder(candidate) if candidate else None
            if name is not None:
                g.reviewer = name
                return None
        return Response(
            "access token required: open the page with ?token=TOKEN or send "
            "'Authorization: Bearer TOKEN'\n",
            status=401,
            mimetype="text/plain",
        )

    def _check_csrf() -> None:
        if not hmac.compare_digest(request.form.get("csrf", ""), csrf):
            abort(403, "the form is stale or forged: reload the page and decide again")

    def _queue_rows() -> list[dict[str, Any]]:
        return review_queue(catalog).to_pylist()

    def _first_pending(rows: list[dict[str, Any]], after: int = -1) -> int | None:
        decided = set(latest_decisions(catalog)) if catalog.exists(REVIEW_DECISIONS) else set()
        pending = [row["position"] for row in rows if row["doc_id"] not in decided]
        later = [position for position in pending if position > after]
        return (later or pending or [None])[0]

    def _page(position: int, error: str | None = None, status: int = 200) -> Any:
        rows = _queue_rows()
        if not rows:
            progress = review_progress(catalog)
            return (
                render_template(
                    "message.html",
                    message="nothing to review: review/queue is empty; run `make run` first",
                    progress=progress,
                    min_rate=min_rate,
                    reviewer=g.reviewer,
                ),
                404,
            )
        if not 0 <= position < len(rows):
            abort(404, f"the queue has positions 0 to {len(rows) - 1}")
        item = rows[position]
        doc = catalog.read(
            GOLD_RELEASE_CANDIDATE, item["candidate_version"], where={"doc_id": item["doc_id"]}
        ).to_pylist()
        if not doc:
            abort(404, f"document {item['doc_id']} is not in the candidate it was sampled from")
        history = sorted(
            catalog.read(REVIEW_DECISIONS, where={"doc_id": item["doc_id"]}).to_pylist(),
            key=lambda row: row["decided_at"],
        )
        provenance, provenance_error = None, ""
        try:
            provenance = trace(catalog, item["doc_id"])
        except NotFoundError as missing:
            provenance_error = str(missing)
        progress = review_progress(catalog)
        known = sorted(
            (set(progress.reject_reasons) | set(progress.flag_reasons)) - {"(no reason)"}
        )
        return (
            render_template(
                "document.html",
                position=position,
                item=item,
                doc=doc[0],
                latest=history[-1] if history else None,
                history=history,
                provenance=provenance,
                provenance_error=provenance_error,
                progress=progress,
                min_rate=min_rate,
                reviewer=g.reviewer,
                known_reasons=known,
                blocked=blocklist(catalog),
                csrf=csrf,
                error=error,
            ),
            status,
        )

    @app.get("/")
    def index() -> BaseResponse:
        rows = _queue_rows()
        position = _first_pending(rows) if rows else None
        return redirect(url_for("document", position=position or 0))

    @app.get("/doc/<int:position>")
    def document(position: int) -> Any:
        return _page(position)

    @app.post("/doc/<int:position>/decision")
    def decide(position: int) -> Any:
        _check_csrf()
        rows = _queue_rows()
        if not 0 <= position < len(rows):
            abort(404, f"the queue has no position {position}")
        try:
            with writes:
                record_decision(
                    catalog,
                    rows[position]["doc_id"],
                    request.form.get("decision", ""),
                    g.reviewer,
                    commit(),
                    reason=request.form.get("reason"),
                    note=request.form.get("note"),
                )
        except ReviewError as problem:
            return _page(position, error=str(problem), status=400)
        following = _first_pending(rows, after=position)
        return redirect(url_for("document", position=position if following is None else following))

    @app.post("/blocklist")
    def block() -> Any:
        _check_csrf()
        position = request.form.get("position", "0")
        back = int(position) if position.isdigit() else 0
        try:
            with writes:
                add_to_blocklist(
                    catalog,
                    request.form.get("kind", ""),
                    request.form.get("value", ""),
                    g.reviewer,
                    commit(),
                    note=request.form.get("note"),
                )
        except ReviewError as problem:
            return _page(back, error=str(problem), status=400)
        return redirect(url_for("document", position=back))

    @app.get("/report")
    def report() -> Any:
        progress = review_progress(catalog)
        return render_template(
            "report.html",
            progress=progress,
            verdict=review_gate(progress, min_rate),
            min_rate=min_rate,
            reviewer=g.reviewer,
        )

    @app.get("/api/progress")
    def progress_json() -> Any:
        progress = review_progress(catalog)
        verdict = review_gate(progress, min_rate)
        return progress.as_dict() | {"gate_passed": verdict.passed, "problems": verdict.problems}

    return app


def serve(app: Flask, host: str, port: int, threads: int = 4) -> None:
    """Serve the app with waitress until interrupted."""
    from waitress import serve as waitress_serve

    waitress_serve(app, host=host, port=port, threads=threads)
