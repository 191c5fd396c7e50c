"""`funnel plan`: a request in plain language → a recipe change, then approval, then a run.

    funnel plan "keep German too and require at least 30 words" [--recipe PATH] [--json] [--dry-run]
    funnel plan --answer PLAN_ID "2"
    funnel plan approve PLAN_ID --by NAME
    funnel plan reject PLAN_ID --by NAME
    funnel plan show PLAN_ID

Exit 0 for a plan (and for approve/reject/show), 2 for clarify, reject and bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from assets.resources import default_recipe_path
from lakehouse.catalog import Catalog
from lakehouse.planner import PlannerError, PlanResult, answer_clarify, plan_id, plan_request
from lakehouse.plans import (
    PlanStoreError,
    StoredPlan,
    approve_plan,
    current_plan,
    plan_history,
    record_plan,
    reject_plan,
)
from lakehouse.recipe import load_recipe

EXIT_OK, EXIT_USAGE = 0, 2


def reruns(catalog: Catalog, patches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages a run with the patches re-runs (the first one a patched section belongs to,
    and every stage after it), each with its batches and the time the ledger's history says
    it takes (None when it was never timed)."""
    from assets.stages import STAGES
    from lakehouse.ledger import FUNNEL_STAGES, ledger_entries, stage_seconds

    sections = {patch["path"].split(".")[0] for patch in patches}
    touched = [index for index, stage in enumerate(FUNNEL_STAGES) if stage in sections]
    if not touched:
        return []
    entries = ledger_entries(catalog) if catalog.exists("ops/ledger") else []
    batches = len({entry.batch_id for entry in entries})
    seconds = stage_seconds(catalog)
    found = []
    # What a run re-runs are the declared stages (the release is published behind the review
    # gate, never by a run); a whole-table stage runs once, a partitioned one per batch.
    declared = {stage.name: stage for stage in STAGES}
    for stage in FUNNEL_STAGES[min(touched) :]:
        if stage not in declared:
            continue
        runs = batches if declared[stage].partitioned else 1
        per_run = seconds.get(stage)
        estimate = round(per_run * runs, 1) if per_run is not None else None
        found.append({"stage": stage, "batches": runs, "estimated_seconds": estimate})
    return found


def dry_run(catalog: Catalog, loaded: Any, patches: list[dict[str, Any]]) -> dict[str, Any]:
    """What the plan's rule-setting patches would newly keep or drop, from stored signals, and
    which stages a run with the plan re-runs, for how long."""
    from lakehouse.ledger import committed_batches
    from lakehouse.planner import rule_overrides
    from lakehouse.tables import SILVER_SIGNALS
    from lakehouse.whatif import WhatIfError, what_if

    overrides = rule_overrides(patches)
    other = [p["path"] for p in patches if p["path"] not in overrides]
    planned = {"needs_rerun": other, "reruns": reruns(catalog, patches)}
    if not overrides:
        return {"available": False, "reason": "no patch is a rule setting"} | planned
    versions = committed_batches(catalog, "clean", SILVER_SIGNALS)
    if not versions:
        return {
            "available": False,
            "reason": "silver/signals has not been written yet: run the clean stage first",
        } | planned
    try:
        report = what_if(catalog, loaded, versions, overrides)
    except WhatIfError as error:
        return {"available": False, "reason": str(error)} | planned
    return {"available": True, "whatif": report.as_dict()} | planned


def _print_answer(
    stored: StoredPlan, result: PlanResult | None, dry: dict[str, Any] | None
) -> None:
    status = {"proposed": "plan", "rejected": "reject"}.get(stored.status, stored.status)
    print(f"{status}  {stored.plan_id}  ({stored.status})")
    print(f"request: {stored.request}")
    for number, patch in enumerate(stored.patches, 1):
        print(f"  {number}. {patch['path']}: {patch['old']!r} -> {patch['new']!r}")
        print(f"     from {patch['source']!r}: {patch['reason']}")
    for question in stored.questions:
        print(f"question: {question['phrase']!r}: {question['ambiguity']}")
        for number, option in enumerate(question["options"], 1):
            values = ", ".join(repr(value) for value in option["values"]) or "a value"
            print(f"  {number}. {option['path']} = {values}   ({option['meaning']})")
    if stored.reason:
        print(f"reason: {stored.reason}")
    if stored.status == "clarify":
        print(f'answer with: funnel plan --answer {stored.plan_id} "1" (or more words)')
    elif stored.status == "proposed":
        print(f"approve with: funnel plan approve {stored.plan_id} --by NAME")
    if dry is not None:
        if not dry["available"]:
            print(f"dry run: not available: {dry['reason']}")
        else:
            report = dry["whatif"]
            print(
                f"dry run (silver/signals, {report['documents']} documents): kept "
                f"{report['kept_before']} -> {report['kept_after']} (newly kept "
                f"{report['newly_kept']}, newly dropped {report['newly_dropped']})"
            )
            for change in report["changes"]:
                print(
                    f"  {change['key']}: +{change['newly_kept']} kept, "
                    f"-{change['newly_dropped']} dropped"
                )
            for row in report["by_source"]:
                if row["newly_kept"] or row["newly_dropped"]:
                    print(
                        f"  source {row['source']}: +{row['newly_kept']} kept, "
                        f"-{row['newly_dropped']} dropped"
                    )
        if dry.get("needs_rerun"):
            print("  not from stored signals (the stage re-runs): " + ", ".join(dry["needs_rerun"]))
        for rerun in dry.get("reruns", []):
            took = rerun["estimated_seconds"]
            print(
                f"  re-runs {rerun['stage']} on {rerun['batches']} batch(es): "
                + (f"about {took:.0f} s from the ledger's history" if took else "never timed")
            )


def command_plan(args: argparse.Namespace) -> int:
    """Plan a request, continue a clarify, or approve/reject/show a stored plan."""
    catalog = Catalog(args.root)
    words = list(args.words)
    try:
        if words and words[0] in ("approve", "reject", "show") and not args.answer:
            if len(words) != 2:
                print(f"error: usage: funnel plan {words[0]} PLAN_ID --by NAME", file=sys.stderr)
                return EXIT_USAGE
            return _decide(catalog, words[0], words[1], args)
        text = " ".join(words)
        loaded = load_recipe(args.recipe)
        parent = None
        if args.answer:
            parent = current_plan(catalog, args.answer)
            if parent.status != "clarify":
                print(f"error: plan {args.answer} is {parent.status}, not clarify", file=sys.stderr)
                return EXIT_USAGE
            result = answer_clarify(asdict(parent), text, loaded.recipe)
            identity = plan_id(f"{parent.request} → {text}", loaded.sha256, parent.plan_id)
        else:
            result = plan_request(text, loaded.recipe)
            identity = plan_id(result.request, loaded.sha256)
    except (PlannerError, PlanStoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    stored = record_plan(
        catalog,
        identity,
        result,
        str(loaded.path),
        loaded.sha256,
        parent.plan_id if parent else None,
    )
    dry = dry_run(catalog, loaded, stored.patches) if args.dry_run and stored.patches else None
    if args.dry_run and not stored.patches:
        dry = {"available": False, "reason": "the answer has no patches", "needs_rerun": []}
    if args.json:
        answer = result.as_dict() | {"plan_id": stored.plan_id, "stored_status": stored.status}
        if dry is not None:
            answer["dry_run"] = dry
        print(json.dumps(answer, indent=2, default=str))
    else:
        _print_answer(stored, result, dry)
    return EXIT_OK if result.status == "plan" else EXIT_USAGE


def _decide(catalog: Catalog, action: str, identity: str, args: argparse.Namespace) -> int:
    if action == "show":
        rows = [row.as_dict() for row in plan_history(catalog, identity)]
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
        else:
            _print_answer(current_plan(catalog, identity), None, None)
            for row in rows:
                print(f"  {row['at']}  {row['status']:9} by {row['by']}")
        return EXIT_OK
    if not args.by:
        print(f"error: funnel plan {action} needs --by NAME (who decides)", file=sys.stderr)
        return EXIT_USAGE
    decide = approve_plan if action == "approve" else reject_plan
    stored = decide(catalog, identity, args.by)
    if args.json:
        print(json.dumps(stored.as_dict(), indent=2, default=str))
    else:
        print(f"plan {stored.plan_id} {stored.status} by {stored.by} at {stored.as_dict()['at']}")
    return EXIT_OK


def plan_recipe(catalog: Catalog, identity: str) -> str:
    """Write an approved plan's recipe as a new versioned file naming the plan, and return the
    file's path. PlanStoreError unless the plan is approved. The plan is marked applied once
    the run with it succeeds (`mark_applied`)."""
    from lakehouse.planner import apply_patches
    from lakehouse.plans import write_plan_recipe

    plan = current_plan(catalog, identity)
    if plan.status != "approved":
        raise PlanStoreError(
            f"plan {identity} is {plan.status}; only an approved plan runs "
            f"(funnel plan approve {identity} --by NAME)"
        )
    loaded = load_recipe(plan.recipe_path)
    try:
        recipe = apply_patches(loaded.recipe, plan.patches)
    except PlannerError as error:
        raise PlanStoreError(f"plan {identity}: {error}") from error
    # The recipe names its plan, so every table version written with it does too.
    recipe = recipe.model_copy(update={"plan": identity})
    return str(write_plan_recipe(loaded.path, plan, recipe.model_dump()))


def register(commands: Any) -> None:
    """Add `plan` to the `funnel` parser."""
    help_text = "turn a request in plain language into a recipe change (plan, clarify, reject)"
    plan = commands.add_parser(
        "plan",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("words", nargs="*", help="the request, or: approve|reject|show PLAN_ID")
    plan.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
    plan.add_argument("--json", action="store_true", help="print JSON")
    plan.add_argument("--dry-run", action="store_true", help="count from stored signals")
    plan.add_argument("--answer", metavar="PLAN_ID", help="continue a clarify with an answer")
    plan.add_argument("--by", help="who approves or rejects")
    plan.set_defaults(handler=command_plan)
