"""PII redaction: e-mail addresses, phone numbers, IPv4/IPv6 addresses and payment cards.

Each found span is replaced by a typed placeholder (`<EMAIL>`, `<PHONE>`, `<IPV4>`, `<IPV6>`,
`<CREDIT_CARD>`, exactly as written in the text) and counted per kind. Kinds are searched in
a fixed order and a later kind never overlaps an earlier one's span.

Candidates are found by pattern and then validated:

- payment cards pass the Luhn check;
- phone numbers are found and validated by `phonenumbers` (Google's libphonenumber metadata):
  a candidate run of digits and separators is accepted when the library matches it as a valid
  number, in international form (`+CC …`, `00CC …`) or as a national number of one of the
  recipe's `phone_regions` (tried in order);
- IP addresses must parse with `ipaddress`. An IPv4 candidate may end a sentence
  (`… at 10.0.0.1.`). Dotted quads that are not used as host addresses are left alone by a
  context rule: a quad inside a longer dotted run (OIDs such as `1.3.6.1.4.1`), one directly
  after a version word (`version`, `v`, `release`, `build`, `rev`, `firmware`, `oid`, …) or a
  package pin (`==`, `>=`, `~=`), and any quad in `0.0.0.0/8` other than `0.0.0.0` itself
  (`0.20.1.124`: "this network" addresses are never assigned to hosts), and a numbered
  heading at the start of a line (`2.1.3.2. Source Code`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import phonenumbers
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from lakehouse.recipe import DEFAULT_PHONE_REGIONS, PII_KINDS, PiiConfig

PLACEHOLDERS = {kind: f"<{kind.upper()}>" for kind in PII_KINDS}

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
# A trailing "." is sentence punctuation unless a digit follows it (then it is a longer run).
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_CARD = re.compile(
    r"(?<![\w.-])(?:\d{13,19}"
    r"|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{4,5})(?![\w-]|\.\d)"
)
# A phone candidate: an optional + or opening parenthesis, then digit groups joined by one
# separator each (space, -, ., /, with or without parentheses), so columns of numbers set
# apart by runs of spaces are not one candidate. The library decides what is a number.
_PHONE_CANDIDATE = re.compile(r"(?<![\w+.])[+(]?\d(?:\d|(?:\)[ \-.]?|[ \-./]\(?|\()(?=\d))*(?!\w)")
_NUMBER_CONTEXT = re.compile(
    r"(?:\b(?:versions?|ver|v|release[sd]?|rel|build|rev|revision|firmware|fw|oid|"
    r"kernel|libc|glibc|python|java|node|api|isbn|issn|doi)\.?[ \t:\xa0]*|==|>=|<=|~=|!=|\bv)$",
    re.IGNORECASE,
)
_DOTTED_SHORT_GROUP = re.compile(r"(?:^|\.)\d(?:\.|$)")
_PHONE_MATCH_LENIENCY = phonenumbers.Leniency.POSSIBLE


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


def _ipv4_ok(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:  # an octet over 255 or with a leading zero
        return False
    if address in _THIS_NETWORK and value != "0.0.0.0":
        return False
    if _SECTION_NUMBER.match(text, end) and (start == 0 or text[start - 1] == "\n"):
        return False  # a numbered heading: "2.1.3.2. Source Code"
    return _NUMBER_CONTEXT.search(text[max(0, start - 24) : start]) is None


_SECTION_NUMBER = re.compile(r"\.?[ \t]+[A-Z]")

_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


def _ipv6_ok(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    if value.count(":") < 2 or sum(bool(group) for group in value.split(":")) < 2:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _card_ok(text: str, start: int, end: int) -> bool:
    digits = re.sub(r"[ -]", "", text[start:end])
    # A run of one repeated digit (0000…) passes Luhn but is a placeholder, not a card.
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


def _email_spans(text: str, regions: Sequence[str]) -> Iterable[tuple[int, int]]:
    return (match.span() for match in _EMAIL.finditer(text))


def _validated(
    pattern: re.Pattern[str], accept: Callable[[str, int, int], bool]
) -> Callable[[str, Sequence[str]], Iterable[tuple[int, int]]]:
    def spans(text: str, regions: Sequence[str]) -> Iterable[tuple[int, int]]:
        for match in pattern.finditer(text):
            if accept(text, *match.span()):
                yield match.span()

    return spans


def _phone_shaped(value: str) -> bool:
    """Whether a digit run is written the way phone numbers are, before the library sees it.

    The library decides validity; this decides that the digits are meant as a number to dial:
    8 to 15 digits (E.164); grouped: three or more groups, two after a leading `0` or
    parenthesis, any after a leading `+` as in E.164 (other bare runs are identifiers); one
    separator style (`252.227-7013` is a
    clause number), and not a date, a ZIP+4 code or a dotted version (`0.20.1.124`).
    """
    digits = sum(char.isdigit() for char in value)
    if not 8 <= digits <= 15:
        return False
    groups = _DIGIT_GROUP.findall(value)
    if value[0] != "+" and (len(groups) < 2 or (len(groups) == 2 and value[0] not in "0(")):
        return False
    if "." in value and (any(sep in value for sep in "-/() ") or _DOTTED_SHORT_GROUP.search(value)):
        return False
    if value[0] not in "+0(" and (all(len(group) <= 2 for group in groups) or "/" in value):
        return False  # calendars, fractions, dates: 26/10 1792
    if value[0] not in "+0(" and _YEAR.match(groups[0]):
        return False  # year lists: 1999 2002-04
    return _NOT_A_PHONE.search(value) is None


_DIGIT_GROUP = re.compile(r"\d+")
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_NOT_A_PHONE = re.compile(
    r"^\(?\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:$|[ T])"  # ISO dates 2014-01-26
    r"|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?:$|[ T])"  # day-first or month-first dates
    r"|^\(?\d{4}-\d{4}\)?$"  # year ranges (1647-1706)
    r"|^\d{5}-\d{4}$"  # US ZIP+4
)


def _phone_spans(text: str, regions: Sequence[str]) -> Iterable[tuple[int, int]]:
    """Spans of phone numbers: phone-shaped digit runs that `phonenumbers` matches.

    A match must be a valid number of its region (an assigned range), or a possible one
    (the right length) written in an unambiguous phone format: `+CC …` or `(NNN) NNN-NNNN`.
    Runs glued to other tokens (`08:02 173521`, `aix-6107-1415`) or after a version word or
    `ISBN` are not phone numbers.
    """
    for candidate in _PHONE_CANDIDATE.finditer(text):
        value = candidate.group()
        # Matches must cover the whole run, so the shape checks can go before the library.
        if not _phone_shaped(value.strip("()")) and not _phone_shaped(value):
            continue
        if _NUMBER_CONTEXT.search(text[max(0, candidate.start() - 24) : candidate.start()]):
            continue
        for region in regions:
            accepted = []
            for match in phonenumbers.PhoneNumberMatcher(value, region, _PHONE_MATCH_LENIENCY):
                start, end = candidate.start() + match.start, candidate.start() + match.end
                raw = match.raw_string
                # A number inside a longer run (a card-like reference, a table row) is
                # part of something else.
                if len(raw) < len(value.strip("()")):
                    continue
                if not _phone_shaped(raw) or _glued(text, start, end):
                    continue
                if _NUMBER_CONTEXT.search(text[max(0, start - 24) : start]):
                    continue
                if phonenumbers.is_valid_number(match.number) or _PHONE_FORMAT.match(raw):
                    accepted.append((start, end))
            if accepted:
                yield from accepted
                break


def _glued(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before.isalnum() or before in "-:/._" or after.isalnum() or after in "-:/_"


_PHONE_FORMAT = re.compile(r"^(?:\+\d{1,3}[ .\-]?\(?\d|\(\d{3}\) ?\d{3}[ .\-]\d{4}$)")


_DETECTORS: dict[str, Callable[[str, Sequence[str]], Iterable[tuple[int, int]]]] = {
    "email": _email_spans,
    "ipv6": _validated(_IPV6, _ipv6_ok),
    "ipv4": _validated(_IPV4, _ipv4_ok),
    "credit_card": _validated(_CARD, _card_ok),
    "phone": _phone_spans,
}


def find_pii(
    text: str,
    kinds: Iterable[str] = PII_KINDS,
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> list[PiiSpan]:
    """Non-overlapping PII spans of `text`, ordered by start offset."""
    wanted = set(kinds)
    found: list[PiiSpan] = []
    for kind, detect in _DETECTORS.items():
        if kind not in wanted:
            continue
        for start, end in detect(text, phone_regions):
            if any(start < other.end and other.start < end for other in found):
                continue
            found.append(PiiSpan(kind, start, end))
    return sorted(found, key=lambda span: span.start)


def redact_text(
    text: str,
    kinds: Iterable[str] = PII_KINDS,
    phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> tuple[str, dict[str, int]]:
    """`text` with every PII span replaced by its placeholder, and the count per kind."""
    counts = dict.fromkeys(PII_KINDS, 0)
    pieces: list[str] = []
    position = 0
    for span in find_pii(text, kinds, phone_regions):
        pieces.append(text[position : span.start])
        pieces.append(PLACEHOLDERS[span.kind])
        counts[span.kind] += 1
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces), counts


def redact_pii(df: DataFrame, config: PiiConfig, measure: Column | None = None) -> DataFrame:
    """Redact `text` and add `pii_<kind>` counts; rows where `measure` is false are untouched."""
    kinds = list(config.kinds)
    regions = list(config.phone_regions)
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
            redacted, counts = redact_text(text, kinds, regions)
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
