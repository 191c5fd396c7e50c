import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from lakehouse.recipe import PII_KINDS, PiiConfig
from spark_jobs.pii import find_pii, luhn_valid, redact_text

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def test_luhn() -> None:
    assert luhn_valid("4539578763621486")
    assert not luhn_valid("4539578763621487")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail jane.doe+x@example.co.uk now", "email"),
        ("call +44 20 7946 0321 today", "phone"),
        ("call (212) 555-0147 today", "phone"),
        ("ruf +49 (0)89 1234 5678 an", "phone"),
        ("host 192.168.1.15 is up", "ipv4"),
        ("host 2001:db8::1 is up", "ipv6"),
        ("reach us at 203.0.113.7.", "ipv4"),
        ("call 212.555.0147 today", "phone"),
        ("call 1-800-555-0199 today", "phone"),
        ("Tel. 0049 89 1234 5678.", "phone"),
        ("appelez le 01 42 68 53 00 svp", "phone"),
        ("llame al +34 612 34 56 78", "phone"),
        ("# contact: (415) 555-0132", "phone"),
        ("card 4539 5787 6362 1486 ok", "credit_card"),
        ("amex 3782-822463-10005 ok", "credit_card"),
    ],
)
def test_each_kind_is_found_and_redacted(text: str, kind: str) -> None:
    (span,) = find_pii(text)
    assert span.kind == kind
    redacted, counts = redact_text(text)
    assert f"<{kind.upper()}>" in redacted
    assert counts[kind] == 1 and sum(counts.values()) == 1


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3 and 999.1.1.1",
        "card 4539 5787 6362 1487 fails Luhn",
        "zeros 0000000000000000 are a placeholder",
        "ratio 0.9468822170900693 is a float",
        "time 12:30:45 is not an address",
        "upgrade to version 1.2.3.4 now",
        "pip install foo==1.2.3.4",
        "numpy 0.20.1.124 is installed",
        "the OID 1.3.6.1.4.1.311 names a vendor",
        "released on 2024-01-15 at noon",
    ],
)
def test_lookalikes_are_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert redact_text(text)[0] == text


def test_only_configured_kinds_are_redacted() -> None:
    text = "a@example.org at 10.0.0.1"
    redacted, counts = redact_text(text, ["ipv4"])
    assert redacted == "a@example.org at <IPV4>"
    assert counts == dict.fromkeys(PII_KINDS, 0) | {"ipv4": 1}


def test_phone_regions_decide_national_formats() -> None:
    text = "appelez le 01 42 68 53 00 svp"
    assert find_pii(text, ["phone"], ["US"]) == []
    assert [span.kind for span in find_pii(text, ["phone"], ["US", "FR"])] == ["phone"]


def test_an_unknown_phone_region_is_a_recipe_error() -> None:
    with pytest.raises(ValueError, match="unknown phone region"):
        PiiConfig(phone_regions=["XX"])


def _sample_texts() -> dict[tuple[str, int], str]:
    texts = {}
    for path in sorted((SAMPLE / "landing").glob("*/*.jsonl.gz")):
        relative = path.relative_to(SAMPLE / "landing").as_posix()
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for index, line in enumerate(handle):
                texts[(relative, index)] = json.loads(line)["text"]
    return texts


@pytest.mark.slow
def test_recall_and_precision_against_the_samples_ground_truth() -> None:
    texts = _sample_texts()
    found = missed = correct = wrong = 0
    per_kind: Counter[str] = Counter()
    with gzip.open(SAMPLE / "ground_truth.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            gold = {(p["kind"], p["start"], p["end"]) for p in record["pii"]}
            got = {
                (s.kind, s.start, s.end)
                for s in find_pii(texts[(record["file"], record["record"])])
            }
            # Recall counts the planted strings: the sample labels every dotted quad it
            # finds as an address, version strings (revision 1.17.2.7) included.
            planted = {(p["kind"], p["start"], p["end"]) for p in record["pii"] if p["planted"]}
            found += len(planted & got)
            missed += len(planted - got)
            correct += len(gold & got)
            wrong += len(got - gold)
            per_kind.update(kind for kind, _, _ in planted - got)
            decoys = {(d["start"], d["end"]) for d in record["not_pii"]}
            assert not decoys & {(start, end) for _, start, end in got}, "Luhn-invalid decoy"
    assert found > 700
    recall = found / (found + missed)
    precision = correct / (correct + wrong)
    assert recall >= 0.99, (recall, per_kind)
    assert precision >= 0.95, precision
