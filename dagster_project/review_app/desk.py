"""The review desk: one lakehouse's queue, decisions and pages, shared by the routes."""

from __future__ import annotations

import secrets
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import abort, g, render_template

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.provenance import DocumentTrace, NotFoundError, trace
from lakehouse.recipe import LoadedRecipe
from lakehouse.review import blocklist, latest_decisions, review_progress, review_queue
from lakehouse.storage import code_version
from lakehouse.tables import GOLD_RELEASE_CANDIDATE, REVIEW_DECISIONS, REVIEW_QUEUE

Page = tuple[str, int]


@dataclass
class ReviewDesk:
    """The queue, decisions and rendering of one review server (one per app)."""

    catalog: Catalog
    recipe: LoadedRecipe
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    writes: threading.Lock = field(default_factory=threading.Lock)
    """Held while a decision or blocklist entry is written."""

    @property
    def min_rate(self) -> float:
        """The approval rate the release gate asks for."""
        return self.recipe.recipe.release.min_approval_rate

    def commit(self) -> CommitInfo:
        """Commit metadata of a decision written now: this server's session, the queue version."""
        inputs = {REVIEW_QUEUE.key: self.catalog.version(REVIEW_QUEUE) or 0}
        return CommitInfo(
            run_id=f"review:{self.session_id}",
            stage="review",
            recipe_sha256=self.recipe.sha256,
            code_version=code_version(),
            input_versions=inputs,
        )

    def queue_version(self) -> int | None:
        """The latest review/queue version (None before the first queue)."""
        return self.catalog.version(REVIEW_QUEUE)

    def queue_rows(self, version: int | None = None) -> list[dict[str, Any]]:
        """The queued documents of a queue version (latest when None), in queue order."""
        return review_queue(self.catalog, version).to_pylist()

    def first_pending(self, rows: list[dict[str, Any]], after: int = -1) -> int | None:
        """The first undecided position after `after` (else the first undecided, else None)."""
        catalog = self.catalog
        decided = set(latest_decisions(catalog)) if catalog.exists(REVIEW_DECISIONS) else set()
        pending = [row["position"] for row in rows if row["doc_id"] not in decided]
        later = [position for position in pending if position > after]
        return (later or pending or [None])[0]

    def page(self, position: int, error: str | None = None, status: int = 200) -> Page:
        """The page of queue position `position` (404 outside the queue).

        The decision form carries the document's id and the queue version shown, so a decision
        reaches the document the reviewer read even if a re-curate reorders the queue meanwhile.
        """
        queue_version = self.queue_version()
        rows = self.queue_rows(queue_version)
        if not rows:
            return self._empty_queue_page()
        if not 0 <= position < len(rows):
            abort(404, f"the queue has positions 0 to {len(rows) - 1}")
        item = rows[position]
        doc = self.catalog.read(
            GOLD_RELEASE_CANDIDATE, item["candidate_version"], where={"doc_id": item["doc_id"]}
        ).to_pylist()
        if not doc:
            abort(404, f"document {item['doc_id']} is not in the candidate it was sampled from")
        progress = review_progress(self.catalog)
        known = sorted(
            (set(progress.reject_reasons) | set(progress.flag_reasons)) - {"(no reason)"}
        )
        history = self._history(item["doc_id"])
        provenance, provenance_error = self._provenance(item["doc_id"])
        html = render_template(
            "document.html",
            position=position,
            queue_version=queue_version,
            item=item,
            doc=doc[0],
            latest=history[-1] if history else None,
            history=history,
            provenance=provenance,
            provenance_error=provenance_error,
            progress=progress,
            min_rate=self.min_rate,
            reviewer=g.reviewer,
            known_reasons=known,
            blocked=blocklist(self.catalog),
            csrf=self.csrf,
            error=error,
        )
        return html, status

    def _empty_queue_page(self) -> Page:
        html = render_template(
            "message.html",
            message="nothing to review: review/queue is empty; run `make run` first",
            progress=review_progress(self.catalog),
            min_rate=self.min_rate,
            reviewer=g.reviewer,
        )
        return html, 404

    def _history(self, doc_id: str) -> list[dict[str, Any]]:
        """Every decision taken on `doc_id`, oldest first."""
        rows = self.catalog.read(REVIEW_DECISIONS, where={"doc_id": doc_id}).to_pylist()
        return sorted(rows, key=lambda row: row["decided_at"])

    def _provenance(self, doc_id: str) -> tuple[DocumentTrace | None, str]:
        """The document's trace, or why there is none."""
        try:
            return trace(self.catalog, doc_id), ""
        except NotFoundError as missing:
            return None, str(missing)
