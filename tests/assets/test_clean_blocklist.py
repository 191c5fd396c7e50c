import gzip
import json
from pathlib import Path

import dagster as dg
import pytest

from assets.clean import SILVER_BOILERPLATE_LINES_KEY, SILVER_DOCUMENTS_KEY, SILVER_SIGNALS_KEY
from assets.resources import LakehouseResource
from dagster_project.runs import pending_batches, run_batch
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.review import add_to_blocklist
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    OPS_REJECTIONS,
    REVIEW_BLOCKLIST,
    SILVER_DOCUMENTS,
)
from tests.landing_files import INGEST_ASSETS, write_jsonl_gz, write_recipe
from tests.spark_cluster import spark

__all__ = ["spark"]

# The clean stage's quality rules off, so every synthetic note survives them.
LENIENT_CLEAN = """\
clean:
  tokenizer: whitespace
  language: {allow: [en], min_score: 0}
  gopher_quality: {enabled: false}
  gopher_repetition: {enabled: false}
  c4: {enabled: false}
  fineweb: {enabled: false}
"""


SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "landing"


@pytest.fixture
def man_pages(landing: Path) -> Path:
    """Ten English man pages in the notes source, the fourth one with a spam line added."""
    path = next(iter(sorted((SAMPLE / "manpages_en").glob("*.jsonl.gz"))))
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for _, line in zip(range(10), handle, strict=False)]
    records[3]["text"] += "\nOrder CHEAP-PILLS online today, shipped in a plain box.\n"
    write_jsonl_gz(landing / "notes" / "part-1.jsonl.gz", records)
    return landing


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The test recipe with lenient clean rules."""
    path = write_recipe(tmp_path, landing)
    path.write_text(path.read_text() + LENIENT_CLEAN)
    return path


def test_the_next_clean_run_applies_a_reviewers_blocked_term(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    catalog: Catalog,
    commit: CommitInfo,
    man_pages: Path,
    spark,
) -> None:
    add_to_blocklist(catalog, "term", "cheap-pills", "ana", commit, note="spam")
    (batch,) = pending_batches(instance, lakehouse)
    clean_keys = [SILVER_DOCUMENTS_KEY, SILVER_SIGNALS_KEY, SILVER_BOILERPLATE_LINES_KEY]
    outcome = run_batch(instance, lakehouse, batch, [*INGEST_ASSETS, *clean_keys])
    assert outcome.success, outcome.error
    assert outcome.checks["silver/documents:conservation"] is True
    (entry,) = [stage for stage in outcome.stages if stage.stage == "clean"]
    assert entry.rows_in == 60 and entry.rows_out + entry.rows_rejected == 60
    rejected = catalog.read(OPS_REJECTIONS, where={"stage": "clean"}).to_pylist()
    (blocked,) = [row for row in rejected if row["rule"] == "blocklist"]
    detail = json.loads(blocked["detail"])
    assert (detail["kind"], detail["value"], detail["added_by"]) == ("term", "cheap-pills", "ana")
    spam = catalog.read(BRONZE_DOCUMENTS, columns=["doc_id", "text"])
    (spam_id,) = [row["doc_id"] for row in spam.to_pylist() if "CHEAP-PILLS" in row["text"]]
    assert blocked["doc_id"] == spam_id
    silver = catalog.read(SILVER_DOCUMENTS, where={"batch_id": batch})
    assert spam_id not in silver["doc_id"].to_pylist()
    # The overlay version the run applied is pinned in the silver commit, for audits.
    history = catalog.history(SILVER_DOCUMENTS, limit=1)[0]
    assert history.input_versions[REVIEW_BLOCKLIST.key] == catalog.version(REVIEW_BLOCKLIST)
