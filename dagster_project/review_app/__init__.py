"""The review page: people approve, reject (with a reason) or flag the queued documents.

A Flask app over the lakehouse, served by waitress (`funnel review serve`). It binds to
127.0.0.1 unless told otherwise, and bound anywhere else it refuses to start without an access
token. With a token, every request must carry it: `Authorization: Bearer TOKEN`, or once as
`?token=TOKEN`, which the page keeps in an HTTP-only cookie. Several reviewers can share one
server, each with their own token (`--reviewers FILE`): the token says who decided. Forms carry
a per-server CSRF token. Requests must name an allowed host (`Host`, and `Origin` on writes),
which defeats DNS rebinding; every parameter is checked, and a bad one is answered with a 4xx.
Every decision is appended to `review/decisions` through `lakehouse/review.py`.

`auth` decides who may use the page, `desk` holds the queue and renders it, `routes` answers
the requests; `create_app` puts them together.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import partial

from flask import Flask
from jinja2 import DictLoader

from dagster_project.review_app.auth import (
    LOOPBACK_HOSTS,
    TOKEN_COOKIE,
    ReviewerTokens,
    ReviewServerError,
    allowed_hosts,
    authorize,
    check_host,
    is_loopback,
    require_token_off_loopback,
)
from dagster_project.review_app.desk import ReviewDesk
from dagster_project.review_app.pages import (
    DOCUMENT,
    DROPPED,
    LAYOUT,
    MESSAGE,
    PLANS,
    REPORT,
)
from dagster_project.review_app.routes import (
    PlanIdConverter,
    PositionConverter,
    register_routes,
)
from lakehouse.catalog import Catalog
from lakehouse.recipe import LoadedRecipe

__all__ = [
    "TOKEN_COOKIE",
    "ReviewServerError",
    "allowed_hosts",
    "create_app",
    "is_loopback",
    "require_token_off_loopback",
    "serve",
]

TEMPLATES = {
    "layout.html": LAYOUT,
    "document.html": DOCUMENT,
    "report.html": REPORT,
    "message.html": MESSAGE,
    "plans.html": PLANS,
    "dropped.html": DROPPED,
}
# Forms hold a decision, a reason and a note of at most a few KiB; anything larger is refused.
MAX_REQUEST_BYTES = 64 * 1024


def create_app(
    catalog: Catalog,
    recipe: LoadedRecipe,
    reviewer: str,
    token: str | None = None,
    reviewer_tokens: Mapping[str, str] | None = None,
    hosts: Collection[str] = LOOPBACK_HOSTS,
) -> Flask:
    """The review page's Flask app for one lakehouse and recipe.

    Decisions are recorded as `reviewer`'s, or, with `reviewer_tokens` (reviewer name → access
    token), as the reviewer's whose token the request carries. `hosts` are the host names
    requests may address (`allowed_hosts` builds them from the bound address).
    """
    tokens = ReviewerTokens.build(reviewer, token, reviewer_tokens)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.url_map.converters["position"] = PositionConverter
    app.url_map.converters["plan_id"] = PlanIdConverter
    app.jinja_loader = DictLoader(TEMPLATES)
    app.before_request(partial(check_host, frozenset(hosts)))
    app.before_request(partial(authorize, tokens))
    register_routes(app, ReviewDesk(catalog, recipe))
    return app


def serve(app: Flask, host: str, port: int, threads: int = 4) -> None:
    """Serve the app with waitress until interrupted."""
    from waitress import serve as waitress_serve

    waitress_serve(app, host=host, port=port, threads=threads)
