"""`funnel models train` and `funnel models status`: the versioned heads the score stage uses."""

from __future__ import annotations

import argparse
import json
from typing import Any

from assets.resources import LakehouseResource, default_recipe_path
from lakehouse.artifacts import current_model
from lakehouse.catalog import Catalog
from lakehouse.model_versions import MODEL_VERSION_COLUMNS, stale_batches
from lakehouse.storage import resolve_root

EXIT_OK, EXIT_FAILED = 0, 1
_METRICS = ("held_out_auc", "held_out_ece", "unseen_source_auc")


def model_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One row per head: its current model version, when and on what it was trained, metrics."""
    rows = []
    for name in MODEL_VERSION_COLUMNS:
        current = current_model(catalog.root, name, catalog.storage_options)
        if current is None:
            rows.append({"model": name, "version": None, "trained_at": None, "batches": None})
            continue
        record = current.record
        bronze = record.get("training_set", {}).get("bronze/documents", {})
        training = record.get("training", {})
        rows.append(
            {
                "model": name,
                "version": current.model_version,
                "trained_at": record.get("trained_at"),
                "batches": len(bronze.get("batches", {})),
                **{key: training.get(key) for key in _METRICS if key in training},
            }
        )
    return rows


def print_model_status(catalog: Catalog) -> None:
    """The one-line-per-head summary `funnel run` and `funnel models status` end with."""
    for row in model_rows(catalog):
        if row["version"] is None:
            print(f"model {row['model']}: never trained (funnel models train)")
        else:
            print(f"model {row['model']}: {row['version']} trained {row['trained_at']}")
    for stale in stale_batches(catalog):
        older = ", ".join(f"{head} {version}" for head, version in stale.scored_with.items())
        print(
            f"stale: batch {stale.batch_id} scored by {older}, not the current model "
            f"(funnel run --batch {stale.batch_id} scores it again)"
        )


def command_models_status(args: argparse.Namespace) -> int:
    """Print the current model of each head and the batches an older model scored."""
    catalog = Catalog(resolve_root(args.root))
    if args.json:
        stale = {item.batch_id: item.scored_with for item in stale_batches(catalog)}
        print(json.dumps({"models": model_rows(catalog), "stale_batches": stale}, indent=2))
    else:
        print_model_status(catalog)
    return EXIT_OK


def command_models_train(args: argparse.Namespace) -> int:
    """Train the heads again on every batch ingested so far; they become the current models."""
    from dagster_project.runs import prepare_instance, train_models

    lakehouse = LakehouseResource(root=resolve_root(args.root), recipe_path=args.recipe)
    lakehouse.recipe()
    with prepare_instance(lakehouse.root) as instance:
        outcome = train_models(instance, lakehouse)
    catalog = lakehouse.catalog()
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": outcome.run_id,
                    "success": outcome.success,
                    "error": outcome.error,
                    "models": model_rows(catalog),
                },
                indent=2,
            )
        )
    else:
        print(f"models run {outcome.run_id}  {'SUCCESS' if outcome.success else 'FAILED'}")
        if outcome.error:
            print(f"error: {outcome.error}")
        print_model_status(catalog)
    return EXIT_OK if outcome.success else EXIT_FAILED


def register(commands: Any) -> None:
    """Add `models train` and `models status` to the `funnel` parser."""
    models = commands.add_parser(
        "models", help="the versioned quality and domain heads", description="the model heads"
    )
    sub = models.add_subparsers(dest="models_command", required=True, metavar="COMMAND")
    train = sub.add_parser(
        "train", help="train the heads again on every ingested batch (new model versions)"
    )
    train.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
    train.set_defaults(handler=command_models_train)
    status = sub.add_parser(
        "status", help="current model versions and the batches an older model scored"
    )
    status.set_defaults(handler=command_models_status)
    for parser in (train, status):
        parser.add_argument("--json", action="store_true", help="print JSON")
