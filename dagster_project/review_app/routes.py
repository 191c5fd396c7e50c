"""The review page's routes: each reads the app's `ReviewDesk` and answers one request."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response as BaseResponse

from dagster_project.review_app.auth import check_csrf
from dagster_project.review_app.desk import ReviewDesk
from lakehouse.plans import PlanStoreError, approve_plan, list_plans, reject_plan
from lakehouse.provenance import DOC_ID_PATTERN, dropped_examples
from lakehouse.recipe import RecipeError, load_recipe
from lakehouse.releases import review_gate
from lakehouse.review import (
    ReviewError,
    StaleQueueError,
    add_to_blocklist,
    record_decision,
    review_progress,
)

DESK = "funnel_review_desk"
POSITION_DIGITS = 9


class PlanIdConverter(BaseConverter):
    """A plan id in a URL, as `lakehouse.planner.plan_id` makes them."""

    regex = "plan-[0-9a-f]{12}"


class PositionConverter(BaseConverter):
    """A queue position in a URL: ASCII digits only (`²` or `٣` is no position: 404)."""

    regex = f"[0-9]{{1,{POSITION_DIGITS}}}"

    def to_python(self, value: str) -> int:
        """The position as an int."""
        return int(value)

    def to_url(self, value: Any) -> str:
        """The position as written in a URL."""
        return str(int(value))


def register_routes(app: Flask, desk: ReviewDesk) -> None:
    """Attach `desk` and the page's routes to `app`."""
    app.extensions[DESK] = desk
    app.add_url_rule("/", "index", index, methods=["GET"])
    app.add_url_rule("/doc/<position:position>", "document", document, methods=["GET"])
    app.add_url_rule("/doc/<position:position>/decision", "decide", decide, methods=["POST"])
    app.add_url_rule("/blocklist", "block", block, methods=["POST"])
    app.add_url_rule("/report", "report", report, methods=["GET"])
    app.add_url_rule("/api/progress", "progress_json", progress_json, methods=["GET"])
    app.add_url_rule("/dropped", "dropped", dropped, methods=["GET"])
    app.add_url_rule("/plans", "plans", plans, methods=["GET"])
    app.add_url_rule(
        "/plans/<plan_id:plan_id>/decision", "decide_plan", decide_plan, methods=["POST"]
    )


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
    """Record the reviewer's decision on a queued document, then go to the next pending one.

    The form names the document (`doc_id`) and the queue version it was shown from; the URL's
    position only says where the reviewer was. A decision made on a replaced queue is refused
    (409) with the newer queue's page, never recorded against whatever the position names now.
    """
    desk = _desk()
    check_csrf(desk.csrf)
    rows = desk.queue_rows()
    if not 0 <= position < len(rows):
        abort(404, f"the queue has no position {position}")
    doc_id = request.form.get("doc_id", "")
    if not DOC_ID_PATTERN.fullmatch(doc_id):
        abort(400, "the form names no document (doc_id): reload the page and decide again")
    seen = request.form.get("queue_version", "")
    if not (seen.isascii() and seen.isdigit() and len(seen) <= POSITION_DIGITS):
        abort(400, "the form names no queue version: reload the page and decide again")
    try:
        with desk.writes:
            record_decision(
                desk.catalog,
                doc_id,
                request.form.get("decision", ""),
                g.reviewer,
                desk.commit(),
                reason=request.form.get("reason"),
                note=request.form.get("note"),
                queue_version=int(seen),
            )
    except StaleQueueError as stale:
        return desk.page(position, error=str(stale), status=409)
    except ReviewError as problem:
        return desk.page(position, error=str(problem), status=400)
    following = desk.first_pending(rows, after=position)
    return redirect(url_for("document", position=position if following is None else following))


def block() -> Any:
    """Add a URL, domain or source to the blocklist, then go back to the document."""
    desk = _desk()
    check_csrf(desk.csrf)
    back = _form_position(desk)
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


def _form_position(desk: ReviewDesk) -> int:
    """The form's `position` (0 when absent); 400 unless it is a position of the queue."""
    value = request.form.get("position", "0")
    queued = len(desk.queue_rows())
    digits = value.isascii() and value.isdigit() and len(value) <= POSITION_DIGITS
    if not (digits and int(value) < max(queued, 1)):
        abort(400, f"position must be a queue position from 0 to {max(queued - 1, 0)}")
    return int(value)


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


def plans(error: str | None = None, status: int = 200) -> Any:
    """Every plan with its patches; proposed ones with their dry run and approve/reject."""
    from dagster_project.plan_cli import dry_run

    desk = _desk()
    items = []
    for plan in list_plans(desk.catalog):
        dry = None
        if plan.status == "proposed" and plan.patches:
            try:
                dry = dry_run(desk.catalog, load_recipe(plan.recipe_path), plan.patches)
            except RecipeError as gone:
                dry = {"available": False, "reason": str(gone), "needs_rerun": []}
        items.append({"plan": plan, "dry": dry})
    html = render_template(
        "plans.html",
        plans=items,
        progress=review_progress(desk.catalog),
        min_rate=desk.min_rate,
        reviewer=g.reviewer,
        csrf=desk.csrf,
        error=error,
    )
    return html, status


def decide_plan(plan_id: str) -> Any:
    """Approve or reject a proposed plan as the signed-in reviewer, then show the plans."""
    desk = _desk()
    check_csrf(desk.csrf)
    action = request.form.get("action", "")
    decide = {"approve": approve_plan, "reject": reject_plan}.get(action)
    if decide is None:
        abort(400, "action must be approve or reject")
    try:
        with desk.writes:
            decide(desk.catalog, plan_id, g.reviewer)
    except PlanStoreError as refused:
        return plans(error=str(refused), status=409)
    return redirect(url_for("plans"))


def dropped() -> Any:
    """Examples of what each stage dropped, per rule, with value and threshold."""
    desk = _desk()
    return render_template(
        "dropped.html",
        rules=dropped_examples(desk.catalog),
        progress=review_progress(desk.catalog),
        min_rate=desk.min_rate,
        reviewer=g.reviewer,
    )
