"""The review page's routes: each reads the app's `ReviewDesk` and answers one request."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from dagster_project.review_app.auth import check_csrf
from dagster_project.review_app.desk import ReviewDesk
from lakehouse.releases import review_gate
from lakehouse.review import ReviewError, add_to_blocklist, record_decision, review_progress

DESK = "funnel_review_desk"


def register_routes(app: Flask, desk: ReviewDesk) -> None:
    """Attach `desk` and the page's routes to `app`."""
    app.extensions[DESK] = desk
    app.add_url_rule("/", "index", index, methods=["GET"])
    app.add_url_rule("/doc/<int:position>", "document", document, methods=["GET"])
    app.add_url_rule("/doc/<int:position>/decision", "decide", decide, methods=["POST"])
    app.add_url_rule("/blocklist", "block", block, methods=["POST"])
    app.add_url_rule("/report", "report", report, methods=["GET"])
    app.add_url_rule("/api/progress", "progress_json", progress_json, methods=["GET"])


def _desk() -> ReviewDesk:
    return current_app.extensions[DESK]


def index() -> BaseResponse:
    """Redirect to the first document still waiting for a decision."""
    desk = _desk()
    rows = desk.queue_rows()
    position = desk.first_pending(rows) if rows else None
    return redirect(url_for("document", position=position or 0))


def document(position: int) -> Any:
    """One queued document with its scores, provenance and decision form."""
    return _desk().page(position)


def decide(position: int) -> Any:
    """Record the reviewer's decision on a queued document, then go to the next pending one."""
    desk = _desk()
    check_csrf(desk.csrf)
    rows = desk.queue_rows()
    if not 0 <= position < len(rows):
        abort(404, f"the queue has no position {position}")
    try:
        with desk.writes:
            record_decision(
                desk.catalog,
                rows[position]["doc_id"],
                request.form.get("decision", ""),
                g.reviewer,
                desk.commit(),
                reason=request.form.get("reason"),
                note=request.form.get("note"),
            )
    except ReviewError as problem:
        return desk.page(position, error=str(problem), status=400)
    following = desk.first_pending(rows, after=position)
    return redirect(url_for("document", position=position if following is None else following))


def block() -> Any:
    """Add a URL, domain or source to the blocklist, then go back to the document."""
    desk = _desk()
    check_csrf(desk.csrf)
    position = request.form.get("position", "0")
    back = int(position) if position.isdigit() else 0
    try:
        with desk.writes:
            add_to_blocklist(
                desk.catalog,
                request.form.get("kind", ""),
                request.form.get("value", ""),
                g.reviewer,
                desk.commit(),
                note=request.form.get("note"),
            )
    except ReviewError as problem:
        return desk.page(back, error=str(problem), status=400)
    return redirect(url_for("document", position=back))


def report() -> Any:
    """Progress, reasons and the release gate's verdict."""
    desk = _desk()
    progress = review_progress(desk.catalog)
    return render_template(
        "report.html",
        progress=progress,
        verdict=review_gate(progress, desk.min_rate),
        min_rate=desk.min_rate,
        reviewer=g.reviewer,
    )


def progress_json() -> Any:
    """Progress and the gate's verdict as JSON."""
    desk = _desk()
    progress = review_progress(desk.catalog)
    verdict = review_gate(progress, desk.min_rate)
    return progress.as_dict() | {"gate_passed": verdict.passed, "problems": verdict.problems}
