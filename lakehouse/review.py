"""Human review of a release candidate: the queue, the decisions people take, and what they block.

Decisions are appended to `review/decisions` and never rewritten: a second decision on the same
document is a new row, and the latest one (by `decided_at`) is the one that counts. Reviewers can
also block terms, URLs and sources; those land in `review/blocklist`, a recipe overlay that the
next clean run applies, each entry with who added it and when.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.tables import REVIEW_BLOCKLIST, REVIEW_DECISIONS, REVIEW_QUEUE

APPROVE, REJECT, FLAG = "approve", "reject", "flag"
DECISIONS = (APPROVE, REJECT, FLAG)
BLOCK_KINDS = ("term", "url", "source")
MAX_TEXT = 2000


class ReviewError(ValueError):
    """A decision or blocklist entry that cannot be recorded; the message says why."""


class StaleQueueError(ReviewError):
    """A decision made on a queue version that a newer one (a re-curate) has replaced."""


@dataclass(frozen=True)
class Decision:
    """One reviewer's verdict on one queued document."""

    doc_id: str
    queue_version: int
    reviewer: str
    decided_at: datetime
    decision: str
    reason: str | None = None
    note: str | None = None


def review_queue(catalog: Catalog, version: int | None = None) -> pa.Table:
    """The queue (latest version when None), in position order; empty when never written."""
    return catalog.read(REVIEW_QUEUE, version).sort_by("position")


def _clean(value: str | None, what: str) -> str | None:
    text = (value or "").strip()
    if len(text) > MAX_TEXT:
        raise ReviewError(f"{what} is {len(text)} characters long; at most {MAX_TEXT} allowed")
    return text or None


def record_decision(
    catalog: Catalog,
    doc_id: str,
    decision: str,
    reviewer: str,
    commit: CommitInfo,
    *,
    reason: str | None = None,
    note: str | None = None,
    queue_version: int | None = None,
) -> Decision:
    """Append a decision on a document of the latest queue; returns what was recorded.

    A rejection needs a reason; the document must be in the queue. `queue_version` is the
    queue version the reviewer saw: when a newer one has replaced it the decision is refused
    (`StaleQueueError`), since the reviewer judged the document in another queue's context.
    """
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    who = (reviewer or "").strip()
    if not who:
        raise ReviewError("a decision needs the reviewer's name")
    reason, note = _clean(reason, "reason"), _clean(note, "note")
    if decision == REJECT and not reason:
        raise ReviewError("a rejection needs a reason")
    latest = catalog.version(REVIEW_QUEUE)
    if latest is None:
        raise ReviewError("nothing to review: review/queue has not been written")
    if queue_version is not None and queue_version != latest:
        raise StaleQueueError(
            f"review/queue is now at version {latest}; this decision on {doc_id} was made on "
            f"version {queue_version}: reload the page and decide again"
        )
    if catalog.count(REVIEW_QUEUE, latest, where={"doc_id": doc_id}) == 0:
        raise ReviewError(f"document {doc_id} is not in review/queue@{latest}")
    recorded = Decision(doc_id, latest, who, datetime.now(UTC), decision, reason, note)
    row = {name: getattr(recorded, name) for name in REVIEW_DECISIONS.schema.names}
    catalog.write(REVIEW_DECISIONS, pa.Table.from_pylist([row], REVIEW_DECISIONS.schema), commit)
    return recorded


def latest_decisions(catalog: Catalog, version: int | None = None) -> dict[str, dict[str, Any]]:
    """doc_id → its latest decision row in `review/decisions` (latest version when None)."""
    rows = catalog.read(REVIEW_DECISIONS, version).to_pylist()
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda item: item["decided_at"]):
        latest[row["doc_id"]] = row
    return latest


@dataclass(frozen=True)
class ReviewProgress:
    """Where the review of one queue version stands (only the latest decision per document)."""

    queue_version: int | None
    decisions_version: int | None
    queued: int
    approved: int
    rejected: int
    flagged: int
    reject_reasons: dict[str, int] = field(default_factory=dict)
    flag_reasons: dict[str, int] = field(default_factory=dict)
    reviewers: list[str] = field(default_factory=list)

    @property
    def decided(self) -> int:
        """Queued documents with a decision."""
        return self.approved + self.rejected + self.flagged

    @property
    def pending(self) -> int:
        """Queued documents nobody has decided yet."""
        return self.queued - self.decided

    @property
    def approval_rate(self) -> float:
        """Approved share of the decided documents, 0-1 (0 when none is decided)."""
        return self.approved / self.decided if self.decided else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the derived counts."""
        return {
            "queue_version": self.queue_version,
            "decisions_version": self.decisions_version,
            "queued": self.queued,
            "decided": self.decided,
            "pending": self.pending,
            "approved": self.approved,
            "rejected": self.rejected,
            "flagged": self.flagged,
            "approval_rate": round(self.approval_rate, 6),
            "reject_reasons": self.reject_reasons,
            "flag_reasons": self.flag_reasons,
            "reviewers": self.reviewers,
        }


def review_progress(
    catalog: Catalog, queue_version: int | None = None, decisions_version: int | None = None
) -> ReviewProgress:
    """Counts of the queue's latest decisions, and reject and flag reasons aggregated."""
    queue_version = catalog.version(REVIEW_QUEUE) if queue_version is None else queue_version
    if decisions_version is None:
        decisions_version = catalog.version(REVIEW_DECISIONS)
    if queue_version is None:
        return ReviewProgress(None, decisions_version, 0, 0, 0, 0)
    queued = set(review_queue(catalog, queue_version)["doc_id"].to_pylist())
    latest = latest_decisions(catalog, decisions_version) if decisions_version is not None else {}
    counts: Counter[str] = Counter()
    rejects: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    reviewers = set()
    for doc_id, row in latest.items():
        if doc_id not in queued:
            continue
        counts[row["decision"]] += 1
        reviewers.add(row["reviewer"])
        if row["decision"] == REJECT:
            rejects[row["reason"] or "(no reason)"] += 1
        elif row["decision"] == FLAG:
            flags[row["reason"] or "(no reason)"] += 1
    return ReviewProgress(
        queue_version=queue_version,
        decisions_version=decisions_version,
        queued=len(queued),
        approved=counts[APPROVE],
        rejected=counts[REJECT],
        flagged=counts[FLAG],
        reject_reasons=dict(rejects.most_common()),
        flag_reasons=dict(flags.most_common()),
        reviewers=sorted(reviewers),
    )


def add_to_blocklist(
    catalog: Catalog,
    kind: str,
    value: str,
    added_by: str,
    commit: CommitInfo,
    note: str | None = None,
) -> dict[str, Any]:
    """Append a blocked term, URL (prefix) or source to the overlay; returns the row written."""
    if kind not in BLOCK_KINDS:
        raise ReviewError(f"a blocklist entry is one of {', '.join(BLOCK_KINDS)}, not {kind!r}")
    blocked = _clean(value, "blocked value")
    if not blocked:
        raise ReviewError(f"a blocked {kind} cannot be empty")
    who = (added_by or "").strip()
    if not who:
        raise ReviewError("a blocklist entry needs the reviewer's name")
    row = {
        "kind": kind,
        "value": blocked,
        "added_by": who,
        "added_at": datetime.now(UTC),
        "note": _clean(note, "note"),
    }
    catalog.write(REVIEW_BLOCKLIST, pa.Table.from_pylist([row], REVIEW_BLOCKLIST.schema), commit)
    return row


def blocklist(catalog: Catalog, version: int | None = None) -> list[dict[str, Any]]:
    """Every blocklist entry (latest version when None), oldest first."""
    rows = catalog.read(REVIEW_BLOCKLIST, version).to_pylist()
    return sorted(rows, key=lambda row: row["added_at"])
