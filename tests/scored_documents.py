"""Scored documents for tests of the curate, review and release stages.

The score stage's output, `gold/scored_documents`, written directly with `Catalog.write`, plus
the matching `bronze/documents` rows so that a document's provenance can be traced.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow as pa

from assets.resources import LakehouseResource
from dagster_project.review_runs import run_curate
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.review import review_queue
from lakehouse.tables import BRONZE_DOCUMENTS, GOLD_SCORED_DOCUMENTS
from tests.recorded_outcomes import record_written

# Per domain: its source, sentences the documents are made of, and their quality scores.
DOMAINS = {
    "code": (
        "stdlib_python",
        "The function returns a list of parsed tokens and raises ValueError on bad input.",
        [0.95, 0.9, 0.82, 0.74, 0.66, 0.58, 0.41, 0.2],
    ),
    "legal": (
        "licenses",
        "Permission is hereby granted, free of charge, to any person obtaining a copy.",
        [0.92, 0.71, 0.55, 0.3],
    ),
    "prose": (
        "fortunes_en",
        "A journey of a thousand miles begins with a single step, or so they say.",
        [0.88, 0.77, 0.61, 0.52, 0.35, 0.12],
    ),
    "web": (
        "web_crawl",
        "Click here to read our latest article about gardening tips for the spring season.",
        [0.97, 0.86, 0.79, 0.69, 0.63, 0.57, 0.51, 0.45, 0.33, 0.25, 0.1, 0.05],
    ),
}
INGESTED_AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def doc_id(uri: str, record: int) -> str:
    """The funnel's doc id: sha256 of (source URI, record index), 32 hex chars."""
    return hashlib.sha256(f"{uri}\n{record}".encode()).hexdigest()[:32]


# The versions of the heads the rows were scored with (a model version is an artifact's sha256
# prefix).
QUALITY_MODEL_VERSION = "a1b2c3d4e5f6"
DOMAIN_MODEL_VERSION = "0f1e2d3c4b5a"


def scored_rows(batch_id: str = "b1") -> list[dict[str, object]]:
    """Rows of `gold/scored_documents` across four domains and the whole score range."""
    rows = []
    for domain, (source, sentence, scores) in DOMAINS.items():
        uri = f"file:///landing/{source}/{batch_id}.jsonl.gz"
        for record, score in enumerate(scores):
            text = " ".join([f"Document {record} of {domain}."] + [sentence] * (2 + record))
            rows.append(
                {
                    "doc_id": doc_id(uri, record),
                    "batch_id": batch_id,
                    "source": source,
                    "source_domain": domain,
                    "license": "CC0-1.0",
                    "source_uri": uri,
                    "source_record": record,
                    "text": text,
                    "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                    "text_chars": len(text),
                    "lang": "en",
                    "ingested_at": INGESTED_AT,
                    "quality_score": score,
                    "domain": domain,
                    "domain_prob": 0.9,
                    "encoder_tokens": 64,
                    "semantic_cluster": record % 3,
                    "quality_model_version": QUALITY_MODEL_VERSION,
                    "domain_model_version": DOMAIN_MODEL_VERSION,
                }
            )
    return rows


def write_scored(catalog: Catalog, commit: CommitInfo, batch_id: str = "b1") -> pa.Table:
    """Write the scored rows (and their bronze origin rows); returns the scored table."""
    rows = scored_rows(batch_id)
    scored = pa.Table.from_pylist(rows, GOLD_SCORED_DOCUMENTS.schema)
    bronze = pa.Table.from_pylist(
        [
            {
                "doc_id": row["doc_id"],
                "batch_id": batch_id,
                "source": row["source"],
                "domain": row["source_domain"],
                "license": row["license"],
                "source_uri": row["source_uri"],
                "source_record": row["source_record"],
                "source_id": f"r{row['source_record']}",
                "text": row["text"],
                "text_sha256": row["text_sha256"],
                "text_bytes": len(str(row["text"]).encode()),
                "ingested_at": INGESTED_AT,
            }
            for row in rows
        ],
        BRONZE_DOCUMENTS.schema,
    )
    version = catalog.write(BRONZE_DOCUMENTS, bronze, commit, replace={"batch_id": batch_id})
    record_written(catalog, "ingest", BRONZE_DOCUMENTS, batch_id, version, commit)
    version = catalog.write(GOLD_SCORED_DOCUMENTS, scored, commit, replace={"batch_id": batch_id})
    record_written(catalog, "score", GOLD_SCORED_DOCUMENTS, batch_id, version, commit)
    return scored


RECIPE = """\
name: review_test
landing: {landing}
sources:
  - {{name: stdlib_python, path: "stdlib_python/*", format: jsonl, domain: code, license: PSF-2.0}}
  - {{name: licenses, path: "licenses/*", format: jsonl, domain: legal, license: CC0-1.0}}
  - {{name: fortunes_en, path: "fortunes_en/*", format: jsonl, domain: prose, license: MIT}}
  - {{name: web_crawl, path: "web_crawl/*", format: jsonl, domain: web, license: CC0-1.0}}
curate:
  min_quality_score: 0.5
  target_token_shares: {{code: 0.4, web: 0.3, prose: 0.2, legal: 0.1}}
  max_weight: 3.0
review:
  sample_size: 12
  quality_buckets: [0.6, 0.8]
  near_threshold: 2
release:
  min_approval_rate: 0.75
"""


def write_review_recipe(folder: Path, landing: Path) -> Path:
    """A recipe whose sources are those of the scored rows, with curate/review/release set."""
    path = folder / "review_recipe.yaml"
    path.write_text(RECIPE.format(landing=landing))
    return path


def curate_and_queue(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, catalog: Catalog, commit: CommitInfo
) -> list[str]:
    """Scored documents written, curated and queued; the queued doc ids in queue order."""
    write_scored(catalog, commit)
    curated = run_curate(instance, lakehouse)
    assert curated is not None and curated.success, curated and curated.error
    return review_queue(catalog)["doc_id"].to_pylist()
