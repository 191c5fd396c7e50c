"""What a lake holds after the funnel ran, in a form two lakes can be compared by.

Two lakes fed the same landing files must hold the same rows whatever happened on the way:
kills, reruns, concurrent runs. Doc ids and batch ids differ between lakes whose landing folders
differ (ids hash the file's path; batches name their registration time), so documents are named
here by file name and record (`part-0.jsonl.gz#3`) and batches by their files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from assets.resources import LakehouseResource
from lakehouse.batches import batch_files
from lakehouse.catalog import Catalog
from lakehouse.ledger import ledger_entries
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    BRONZE_QUARANTINE,
    GOLD_RELEASE_CANDIDATE,
    GOLD_SCORED_DOCUMENTS,
    OPS_REJECTIONS,
    REVIEW_QUEUE,
    SILVER_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
    TableSpec,
)

PROJECT = Path(__file__).resolve().parents[1]
_DOCUMENT_TABLES = (
    BRONZE_DOCUMENTS,
    SILVER_DOCUMENTS,
    SILVER_UNIQUE_DOCUMENTS,
    GOLD_SCORED_DOCUMENTS,
    GOLD_RELEASE_CANDIDATE,
    REVIEW_QUEUE,
)


def _records(catalog: Catalog) -> dict[str, str]:
    """doc id → `file-name#record`, for every document ingest saw (kept or quarantined)."""
    names = {}
    for spec in (BRONZE_DOCUMENTS, BRONZE_QUARANTINE):
        if catalog.version(spec) is None:
            continue
        rows = catalog.read(spec, columns=["doc_id", "source_uri", "source_record"]).to_pylist()
        for row in rows:
            if row["doc_id"] is not None:
                names[row["doc_id"]] = f"{Path(row['source_uri']).name}#{row['source_record']}"
    return names


def _documents(catalog: Catalog, spec: TableSpec, names: dict[str, str]) -> list[str]:
    """Every document of the table's latest version, sorted (duplicates kept, so they show)."""
    if catalog.version(spec) is None:
        return []
    doc_ids = catalog.read(spec, columns=["doc_id"])["doc_id"].to_pylist()
    return sorted(names.get(doc_id, doc_id) for doc_id in doc_ids)


def lake_outcome(root: Path, recipe: Path) -> dict[str, Any]:
    """Rows of every funnel table, rejections and ledger counts, with batches named by files."""
    catalog = LakehouseResource(root=str(root), recipe_path=str(recipe)).catalog()
    names = _records(catalog)
    outcome: dict[str, Any] = {
        spec.key: _documents(catalog, spec, names) for spec in _DOCUMENT_TABLES
    }
    if catalog.version(GOLD_SCORED_DOCUMENTS) is not None:
        scored = catalog.read(GOLD_SCORED_DOCUMENTS, columns=["doc_id", "quality_score"])
        outcome["quality_scores"] = sorted(
            zip(
                [names.get(doc_id, doc_id) for doc_id in scored["doc_id"].to_pylist()],
                pc.round(scored["quality_score"], 4).to_pylist(),
                strict=True,
            )
        )
    if catalog.version(BRONZE_QUARANTINE) is not None:
        quarantine = catalog.read(BRONZE_QUARANTINE, columns=["source_uri", "reason"]).to_pylist()
        outcome["quarantine"] = sorted(
            Counter((Path(row["source_uri"]).name, row["reason"]) for row in quarantine).items()
        )
    if catalog.version(OPS_REJECTIONS) is not None:
        rejected = catalog.read(OPS_REJECTIONS, columns=["stage", "doc_id", "rule"]).to_pylist()
        outcome["rejections"] = sorted(
            (row["stage"], names.get(row["doc_id"], row["doc_id"]), row["rule"]) for row in rejected
        )
    files = {}
    ledger = []
    for entry in ledger_entries(catalog):
        if entry.batch_id not in files:
            files[entry.batch_id] = tuple(
                sorted(Path(item.uri).name for item in batch_files(catalog, entry.batch_id))
            )
        counts = (entry.rows_in, entry.rows_out, entry.rows_rejected, entry.rows_quarantined)
        ledger.append((entry.stage, files[entry.batch_id], *counts, entry.balanced))
    outcome["ledger"] = sorted(ledger)
    return outcome


def duplicated(outcome: dict[str, Any]) -> dict[str, list[str]]:
    """Doc ids that occur more than once in a table of `outcome`, per table."""
    found = {}
    for spec in _DOCUMENT_TABLES:
        repeated = [doc for doc, count in Counter(outcome[spec.key]).items() if count > 1]
        if repeated:
            found[spec.key] = repeated
    return found


def funnel_process(
    root: Path, recipe: Path, home: Path, *arguments: str, log: Path | None = None
) -> subprocess.Popen[str]:
    """A real `funnel ARGUMENTS` process on `root`, in its own process group (so the whole tree
    can be killed at once, as when a machine dies)."""
    env = os.environ | {"DAGSTER_HOME": str(home), "FUNNEL_LINEAGE": "off"}
    command = [sys.executable, "-m", "dagster_project.cli", "--root", str(root), *arguments]
    if arguments and arguments[0] in ("run", "ui"):
        command += ["--recipe", str(recipe)]
    output = log.open("a") if log is not None else subprocess.PIPE
    return subprocess.Popen(
        command,
        cwd=PROJECT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.3) -> None:
    """Poll `condition` until it holds; fail the test saying what never happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
