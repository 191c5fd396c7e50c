"""PII redaction: e-mail addresses, phone numbers, IPv4/IPv6 addresses and payment cards.

Each found span is replaced by a typed placeholder (`<EMAIL>`, `<PHONE>`, `<IPV4>`, `<IPV6>`,
`<CREDIT_CARD>`) and counted per kind. Card numbers must pass the Luhn check, IPv6 candidates
must parse as addresses and IPv4 octets must be at most 255, which keeps version numbers and
random digit runs from being redacted. Kinds are searched in a fixed order and a later kind
never overlaps an earlier one's span.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from lakehouse.recipe import PII_KINDS, PiiConfig

PLACEHOLDERS = {kind: f"<{kind.upper()}>" for kind in PII_KINDS}

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_CARD = re.compile(
    r"(?<![\w.-])(?:\d{13,19}"
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-]|\.\d)"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    # International: +CC, an area code (after an optional (0)), then one to four digit groups.
    r"\+\d{1,3}(?:[ -]?\(0\)\d{1,5}|[ -]\(?\d{1,5}\)?)(?:[ -]\d{1,8}){1,4}"
    # North American: (212) 555-0147 or 212-555-0147.
    r"|\(\d{3}\) ?\d{3}[ -]\d{4}|\d{3}-\d{3}-\d{4}"
    # National trunk prefix 0: 020 7946 0321, 089 1234 5678.
    r"|0\d{2,4} \d{3,4} \d{3,4}"
    r")(?![\w-])"
)


@dataclass(frozen=True)
class PiiSpan:
    """One PII string found in a text: kind and [start, end) character offsets."""

    kind: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum of payment-card numbers."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _ipv4_ok(value: str) -> bool:
    return all(int(part) <= 255 for part in value.split("."))


def _ipv6_ok(value: str) -> bool:
    if value.count(":") < 2 or sum(bool(group) for group in value.split(":")) < 2:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _card_ok(value: str) -> bool:
    digits = re.sub(r"[ -]", "", value)
    # A run of one repeated digit (0000…) passes Luhn but is a placeholder, not a card.
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def _phone_ok(value: str) -> bool:
    return 8 <= sum(char.isdigit() for char in value) <= 15


_DETECTORS: dict[str, tuple[re.Pattern[str], Callable[[str], bool]]] = {
    "email": (_EMAIL, lambda value: True),
    "ipv6": (_IPV6, _ipv6_ok),
    "ipv4": (_IPV4, _ipv4_ok),
    "credit_card": (_CARD, _card_ok),
    "phone": (_PHONE, _phone_ok),
}


def find_pii(text: str, kinds: Iterable[str] = PII_KINDS) -> list[PiiSpan]:
    """Non-overlapping PII spans of `text`, ordered by start offset."""
    wanted = set(kinds)
    found: list[PiiSpan] = []
    for kind, (pattern, accept) in _DETECTORS.items():
        if kind not in wanted:
            continue
        for match in pattern.finditer(text):
            start, end = match.span()
            if not accept(match.group()):
                continue
            if any(start < other.end and other.start < end for other in found):
                continue
            found.append(PiiSpan(kind, start, end))
    return sorted(found, key=lambda span: span.start)


def redact_text(text: str, kinds: Iterable[str] = PII_KINDS) -> tuple[str, dict[str, int]]:
    """`text` with every PII span replaced by its placeholder, and the count per kind."""
    counts = dict.fromkeys(PII_KINDS, 0)
    pieces: list[str] = []
    position = 0
    for span in find_pii(text, kinds):
        pieces.append(text[position : span.start])
        pieces.append(PLACEHOLDERS[span.kind])
        counts[span.kind] += 1
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces), counts


def redact_pii(df: DataFrame, config: PiiConfig, measure: Column | None = None) -> DataFrame:
    """Redact `text` and add `pii_<kind>` counts; rows where `measure` is false are untouched."""
    kinds = list(config.kinds)
    count_fields = ", ".join(f"pii_{kind} int" for kind in PII_KINDS)

    @pandas_udf(f"text string, {count_fields}")  # type: ignore[call-overload]
    def _redacted(texts: pd.Series, wanted: pd.Series) -> pd.DataFrame:
        out_texts: list[str | None] = []
        columns: dict[str, list[int | None]] = {kind: [] for kind in PII_KINDS}
        for text, keep in zip(texts, wanted, strict=True):
            if not keep or text is None:
                out_texts.append(text)
                for kind in PII_KINDS:
                    columns[kind].append(None)
                continue
            redacted, counts = redact_text(text, kinds)
            out_texts.append(redacted)
            for kind in PII_KINDS:
                columns[kind].append(counts[kind])
        frame = {"text": out_texts} | {f"pii_{kind}": columns[kind] for kind in PII_KINDS}
        return pd.DataFrame(frame).astype({f"pii_{kind}": "Int32" for kind in PII_KINDS})

    flag = measure if measure is not None else F.lit(True)
    # Non-deterministic in the planner's eyes only: it stops the optimizer from copying the UDF
    # (and its large argument expression) into every field extracted from its struct result.
    redacted = _redacted.asNondeterministic()(F.col("text"), flag)
    others = [name for name in df.columns if name != "text" and not name.startswith("pii_")]
    return df.withColumn("_pii", redacted).select(
        *others,
        F.col("_pii.text").alias("text"),
        *(F.col(f"_pii.pii_{kind}").alias(f"pii_{kind}") for kind in PII_KINDS),
    )
