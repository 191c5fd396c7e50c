"""The `ops/plans` table: planned recipe changes and who approved, rejected or applied them.

Every status change appends one row, so the table is the plan's history; a plan's current
status is its newest row. Only a proposed plan can be approved or rejected, only an approved
one applied.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.planner import PlanResult
from lakehouse.tables import OPS_PLANS

PLANNER = "planner"
_STATUS_OF = {"plan": "proposed", "clarify": "clarify", "reject": "rejected"}


class PlanStoreError(ValueError):
    """A plan id that is unknown, or a status change its current status does not allow."""


@dataclass(frozen=True)
class StoredPlan:
    """A plan as its newest row in ops/plans holds it."""

    plan_id: str
    request: str
    status: str
    patches: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    reason: str
    recipe_path: str
    recipe_sha256: str
    by: str
    at: datetime
    parent_plan_id: str | None
    applied_recipe: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self) | {"at": self.at.isoformat(timespec="seconds")}


def _commit(plan_id: str, recipe_sha256: str) -> CommitInfo:
    return CommitInfo(
        run_id=plan_id, stage="plan", recipe_sha256=recipe_sha256, code_version="planner"
    )


def _append(catalog: Catalog, row: dict[str, Any]) -> None:
    table = pa.Table.from_pylist([row], schema=OPS_PLANS.schema)
    catalog.write(OPS_PLANS, table, _commit(row["plan_id"], row["recipe_sha256"]))


def record_plan(
    catalog: Catalog,
    plan_id: str,
    result: PlanResult,
    recipe_path: str,
    recipe_sha256: str,
    parent_plan_id: str | None = None,
) -> StoredPlan:
    """Append the planner's answer as the plan's first row (proposed, clarify or rejected).

    The same request on the same recipe has the same plan id: asked again, the plan is
    returned as it stands (approved stays approved), with no new row.
    """
    if catalog.exists(OPS_PLANS):
        table = catalog.read(OPS_PLANS, columns=["plan_id"])
        if pc.any(pc.equal(table["plan_id"], plan_id)).as_py():
            return current_plan(catalog, plan_id)
    answer = result.as_dict()
    row = {
        "plan_id": plan_id,
        "request": result.request,
        "status": _STATUS_OF[result.status],
        "patches": json.dumps(answer["patches"], default=str),
        "questions": json.dumps(answer["questions"], default=str),
        "reason": answer["reason"],
        "recipe_path": recipe_path,
        "recipe_sha256": recipe_sha256,
        "by": PLANNER,
        "at": datetime.now(UTC),
        "parent_plan_id": parent_plan_id,
        "applied_recipe": None,
    }
    _append(catalog, row)
    return _stored(row)


def _stored(row: dict[str, Any]) -> StoredPlan:
    return StoredPlan(
        **{
            **row,
            "patches": json.loads(row["patches"]),
            "questions": json.loads(row["questions"]),
        }
    )


def plan_history(catalog: Catalog, plan_id: str) -> list[StoredPlan]:
    """Every row of one plan, oldest first; PlanStoreError when there is none."""
    table = catalog.read(OPS_PLANS)
    rows = table.filter(pc.equal(table["plan_id"], plan_id)).to_pylist()
    if not rows:
        raise PlanStoreError(f'no plan {plan_id!r} in ops/plans (`funnel plan "…"` makes one)')
    return [_stored(row) for row in sorted(rows, key=lambda row: row["at"])]


def list_plans(catalog: Catalog) -> list[StoredPlan]:
    """Every plan as its newest row holds it, most recently changed first."""
    if not catalog.exists(OPS_PLANS):
        return []
    newest: dict[str, dict[str, Any]] = {}
    for row in sorted(catalog.read(OPS_PLANS).to_pylist(), key=lambda row: row["at"]):
        newest[row["plan_id"]] = row
    return [_stored(row) for row in sorted(newest.values(), key=lambda r: r["at"], reverse=True)]


def current_plan(catalog: Catalog, plan_id: str) -> StoredPlan:
    """The plan as its newest row holds it."""
    return plan_history(catalog, plan_id)[-1]


def _transition(
    catalog: Catalog,
    plan_id: str,
    status: str,
    by: str,
    allowed_from: Sequence[str],
    applied_recipe: str | None = None,
) -> StoredPlan:
    if not by.strip():
        raise PlanStoreError("say who decides: --by NAME")
    plan = current_plan(catalog, plan_id)
    if plan.status not in allowed_from:
        raise PlanStoreError(
            f"plan {plan_id} is {plan.status}; only a {' or '.join(allowed_from)} plan can be "
            f"{status}"
        )
    row = {
        **plan.as_dict(),
        "patches": json.dumps(plan.patches, default=str),
        "questions": json.dumps(plan.questions, default=str),
        "status": status,
        "by": by.strip(),
        "at": datetime.now(UTC),
        "applied_recipe": applied_recipe or plan.applied_recipe,
    }
    _append(catalog, row)
    return _stored(row)


def approve_plan(catalog: Catalog, plan_id: str, by: str) -> StoredPlan:
    """Mark a proposed plan approved by `by`."""
    return _transition(catalog, plan_id, "approved", by, ("proposed",))


def reject_plan(catalog: Catalog, plan_id: str, by: str) -> StoredPlan:
    """Mark a proposed (or clarify) plan rejected by `by`."""
    return _transition(catalog, plan_id, "rejected", by, ("proposed", "clarify"))


def mark_applied(catalog: Catalog, plan_id: str, by: str, recipe_file: str) -> StoredPlan:
    """Mark an approved plan applied, with the recipe file it was written to."""
    return _transition(catalog, plan_id, "applied", by, ("approved",), recipe_file)


def _base_stem(path: Path) -> str:
    return re.sub(r"\.v\d+$", "", path.stem)


def write_plan_recipe(recipe_path: str | Path, plan: StoredPlan, recipe: dict[str, Any]) -> Path:
    """Write the plan's recipe as a new versioned file next to the old one (`<name>.vN.yaml`,
    N the next free number) and return its path; the file's first lines name the plan."""
    old = Path(recipe_path).resolve()
    stem = _base_stem(old)
    taken = [
        int(match.group(1))
        for other in old.parent.glob(f"{stem}.v*.yaml")
        if (match := re.fullmatch(rf"{re.escape(stem)}\.v(\d+)\.yaml", other.name))
    ]
    target = old.parent / f"{stem}.v{max(taken, default=0) + 1}.yaml"
    header = (
        f"# {target.name}: {old.name} changed by {plan.plan_id}, approved by {plan.by}\n"
        f"# request: {plan.request}\n"
    )
    body = yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True)
    with target.open("x", encoding="utf-8") as handle:
        handle.write(header + body)
    return target
