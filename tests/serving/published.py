"""Published releases for serving tests: `gold/release_candidate` rows written with
`Catalog.write` and a manifest published with `publish_release` (real Delta tables)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pyarrow as pa

from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.landing import doc_id
from lakehouse.releases import ReleaseManifest, domain_summary, publish_release
from lakehouse.tables import GOLD_RELEASE_CANDIDATE


def candidate_rows(counts: dict[str, int], offset: int = 0) -> list[dict[str, object]]:
    """Candidate rows: `counts[domain]` documents per domain, doc ids unique per record."""
    rows = []
    for domain, count in counts.items():
        uri = f"file:///landing/{domain}/part-0.jsonl.gz"
        for record in range(offset, offset + count):
            text = f"{domain} document {record}: " + "words " * (record % 7 + 1)
            rows.append(
                {
                    "doc_id": doc_id(uri, record),
                    "batch_id": "b1",
                    "source": domain,
                    "source_domain": domain,
                    "license": "CC0-1.0",
                    "source_uri": uri,
                    "source_record": record,
                    "text": text,
                    "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
                    "lang": "en",
                    "quality_score": 0.5 + (record % 5) / 10,
                    "domain": domain,
                    "domain_prob": 0.9,
                    "domain_quality_rank": 0.5,
                    "tokens": len(text.split()),
                    "weight": 1.0 + (record % 3) / 2,
                }
            )
    return rows


def publish(
    catalog: Catalog,
    commit: CommitInfo,
    name: str,
    parts: list[dict[str, int]],
) -> pa.Table:
    """Write one candidate file per entry of `parts` (domain → documents), publish release
    `name` on the resulting version, and return all its rows."""
    tables = []
    offset = 0
    version = 0
    for index, counts in enumerate(parts):
        rows = candidate_rows(counts, offset)
        offset += max(counts.values(), default=0)
        table = pa.Table.from_pylist(rows, GOLD_RELEASE_CANDIDATE.schema)
        version = catalog.write(GOLD_RELEASE_CANDIDATE, table, commit, overwrite=index == 0)
        tables.append(table)
    rows = pa.concat_tables(tables)
    manifest = ReleaseManifest(
        name=name,
        published_at=datetime(2026, 11, 20, tzinfo=UTC),
        run_id=commit.run_id,
        recipe_sha256=commit.recipe_sha256,
        code_version=commit.code_version,
        candidate_version=version,
        pinned_tables={GOLD_RELEASE_CANDIDATE.key: version},
        documents=rows.num_rows,
        tokens=sum(rows["tokens"].to_pylist()),
        weighted_tokens=0.0,
        domains=domain_summary(rows, {}),
        review={},
    )
    publish_release(catalog, manifest, commit)
    return rows
