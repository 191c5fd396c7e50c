from collections import Counter

import pytest

from benchmarks.quality.__main__ import pii_report
from benchmarks.quality.corpus import JUNK_KINDS, PII_FORMATS, Record, build, jaccard


@pytest.fixture(scope="module")
def corpus() -> list[Record]:
    return build(per_source=25, exact_copies=3, near_per_bucket=2, junk_per_kind=2)


def test_the_build_is_deterministic_and_labels_hold(corpus: list[Record]) -> None:
    again = build(per_source=25, exact_copies=3, near_per_bucket=2, junk_per_kind=2)
    assert [(r.doc_id, r.text) for r in again] == [(r.doc_id, r.text) for r in corpus]
    assert Counter(r.source for r in corpus if r.label == "clean") == {
        "package_docs": 25,
        "package_code": 25,
    }
    assert {r.junk_kind for r in corpus if r.label == "junk"} == set(JUNK_KINDS)
    by_id = {r.doc_id: r for r in corpus}
    order = [r.doc_id for r in corpus]
    for record in corpus:
        for span in [*record.pii, *record.decoys]:
            assert record.text[span["start"] : span["end"]] == span["value"]
        if record.original is not None:
            original = by_id[record.original]
            assert order.index(original.doc_id) < order.index(record.doc_id)
            assert jaccard(original.text, record.text) == pytest.approx(record.jaccard)
    near = sorted(r.jaccard for r in corpus if r.label == "near_duplicate")
    assert near[0] >= 0.5 and near[-1] < 1.0 and len(near) == 10


def test_pii_goals_on_the_subset(corpus: list[Record]) -> None:
    report = pii_report(corpus)
    assert set(report["per_kind"]) == set(PII_FORMATS)
    for kind, rates in report["per_kind"].items():
        assert rates["recall"] >= 0.98, (kind, report["errors"])
        assert rates["precision"] >= 0.97, (kind, report["errors"])
