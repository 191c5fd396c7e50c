"""Word tokens shared by every quality filter: one tokenization per document.

Two schemes, chosen by the recipe (`clean.tokenizer`):

- `spacy` (default): the token rules of spaCy's English tokenizer, which DataTrove (and so
  FineWeb) counts words with. Punctuation marks are tokens of their own, contractions split
  (`don't` → `do`, `n't`), URLs and known abbreviations (`e.g.`, `Mr.`) stay whole. The rules
  (prefix, suffix and infix patterns, special cases) are re-implemented here so that production
  needs no NLP library; `docs/filters.md` lists where they differ from spaCy.
- `whitespace`: whitespace-separated words, as the Gopher paper counts them.
- `characters` (per language, `clean.languages.<code>.tokenizer`): for languages written
  without spaces (zh, ja), every Han, kana or CJK punctuation character is a token of its own
  and runs of other characters are split as `spacy`. A character is close to a morpheme in
  Chinese and Japanese; a dictionary segmenter (jieba, MeCab) would give linguistic words but
  needs a dictionary per process and is far slower, while the quality rules only need a
  consistent unit to count, and their per-language thresholds are set in that unit.

Whitespace-separated chunks repeat a lot across documents, so each chunk's split is cached
per process.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Literal

TokenizerName = Literal["spacy", "whitespace", "characters"]

# The Unicode Terminal_Punctuation characters, as the FineWeb line-punctuation rule counts them.
TERMINAL_PUNCTUATION = (
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e"
    "\u0964\u0965\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9"
    "\u17da\u1803\u1809\u1944\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d"
    "\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54"
    "\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d"
    "\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e\uff1f\uff61\U00010a56"
    "\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86\U00010f87"
    "\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1"
    "\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df"
    "\U00011238\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2"
    "\U000115c3\U000115c9\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf"
    "\U000115d0\U000115d1\U000115d2\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7"
    "\U00011641\U00011642\U0001173c\U0001173d\U0001173e\U00011944\U00011946\U00011a42"
    "\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42\U00011ef7\U00011ef8\U00011f43"
    "\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38\U00016b44\U00016e98"
    "\U0001bc9f\U0001da88"
)
# Further characters DataTrove treats as symbols when deciding whether a word is "only symbols":
# ASCII and CJK punctuation, plus C0/C1 control characters.
_SYMBOLS = (
    "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000b\u000c\u000d\u000e\u000f"
    "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d"
    "\u001e\u001f\u0022#$%&'()*+,-/:;<=>@[\u005c]^_`{|}~\u007f\u0080\u0081\u0082\u0083"
    "\u0084\u0085\u0086\u0087\u0088\u0089\u008a\u008b\u008c\u008d\u008e\u008f\u0090\u0091"
    "\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009a\u009b\u009c\u009d\u009e\u009f"
    "\u00ab\u00b4\u00bb\u2013\u2014\u2019\u201c\u201d\u201e\u2026\u2236\u2501\u25ba\u3001"
    "\u3008\u3009\u300a\u300b\u300c\u300d\u3010\u3011\uff05\uff08\uff09\uff0c\uff11\uff1a"
    "\uff1b\uff5e"
)
PUNCTUATION_CHARS = frozenset(TERMINAL_PUNCTUATION + _SYMBOLS)
TERMINAL_PUNCTUATION_TUPLE = tuple(TERMINAL_PUNCTUATION)

# Characters that end a sentence for the sentence counter (spaCy's sentencizer defaults).
SENTENCE_END_CHARS = frozenset(
    "!.?\u0589\u061f\u06d4\u0700\u0701\u0702\u07f9\u0964\u0965\u3002\uff01\uff0e\uff1f\uff61\u203c\u203d\u2047\u2048\u2049"
)

# Character classes of spaCy's punctuation rules, reduced to the scripts a Latin, Cyrillic or
# Greek text uses; other letters still count as letters through `[^\W\d_]`.
_LOWER = "a-z\u00df-\u00f6\u00f8-\u00ff\u0101-\u017f\u0430-\u044f\u0451\u03b1-\u03c9"
_UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u017e\u0410-\u042f\u0401\u0391-\u03a9"
_ALPHA = "[^\\W\\d_]"
_QUOTES = (
    "'\"\u201d\u201c`\u2018\u00b4\u2019\u201a,\u201e\u00bb\u00ab"
    "\u300c\u300d\u300e\u300f\uff08\uff09\u3014\u3015\u3010\u3011\u300a\u300b\u3008\u3009\u27e6\u27e7"
)
_PUNCT = [
    "\u2026",
    "\u2026\u2026",
    ",",
    ":",
    ";",
    "\\!",
    "\\?",
    "\u00bf",
    "\u061f",
    "\u00a1",
    "\\(",
    "\\)",
    "\\[",
    "\\]",
    "\\{",
    "\\}",
    "<",
    ">",
    "_",
    "#",
    "\\*",
    "&",
    "\u3002",
    "\uff1f",
    "\uff01",
    "\uff0c",
    "\u3001",
    "\uff1b",
    "\uff1a",
    "\uff5e",
    "\u00b7",
    "\u0964",
    "\u060c",
    "\u06d4",
    "\u061b",
    "\u066a",
]
# spaCy pastes its punctuation alternation into a character class, so every character of it
# (including `|`) may precede a suffix period.
_PUNCT_CLASS = re.escape("".join(sorted(set("|".join(_PUNCT).replace("\\", "")))))
_ELLIPSES = ["\\.\\.+", "\u2026"]
_ICONS = [
    "[\u00a6\u00a9\u00ae\u00b0\u2100-\u2101\u2103-\u2106\u2108\u2109\u2114\u2116\u2117"
    "\u2195-\u2199\u21a1-\u21cd\u21d0-\u21f3\u2300-\u2307\u230c-\u231f\u2322-\u2328"
    "\u232b-\u237b\u237d-\u239a\u23b4-\u23db\u23e2-\u2426\u2500-\u25b6\u25b8-\u25c0"
    "\u25c2-\u25f7\u2600-\u266e\u2670-\u2767\u2794-\u27bf\u2800-\u28ff\u2b00-\u2b2f"
    "\U0001f000-\U0001f02b\U0001f300-\U0001f3fa\U0001f400-\U0001f6d4\U0001f900-\U0001f9ff]"
]
_CURRENCY = [
    "\\$",
    "\u00a3",
    "\u20ac",
    "\u00a5",
    "\u0e3f",
    "US\\$",
    "C\\$",
    "A\\$",
    "\u20bd",
    "\u20b9",
    "\u20a9",
    "\u20aa",
    "\u20ab",
    "\u20b1",
    "\u20ba",
    "\u20bf",
]
_UNITS = [
    "km",
    "km²",
    "km³",
    "m",
    "m²",
    "m³",
    "dm",
    "dm²",
    "dm³",
    "cm",
    "cm²",
    "cm³",
    "mm",
    "mm²",
    "mm³",
    "ha",
    "µm",
    "nm",
    "yd",
    "in",
    "ft",
    "kg",
    "g",
    "mg",
    "µg",
    "t",
    "lb",
    "oz",
    "m/s",
    "km/h",
    "kmh",
    "mph",
    "hPa",
    "Pa",
    "mbar",
    "mb",
    "MB",
    "kb",
    "KB",
    "gb",
    "GB",
    "tb",
    "TB",
    "T",
    "G",
    "M",
    "K",
    "%",
]
_QUOTE_LIST = [re.escape(quote) for quote in _QUOTES]

_PREFIX = re.compile(
    "^(?:"
    + "|".join(
        [
            "§",
            "%",
            "=",
            "—",
            "–",
            "\\+(?![0-9])",
            *_PUNCT,
            *_ELLIPSES,
            *_QUOTE_LIST,
            *_CURRENCY,
            *_ICONS,
        ]
    )
    + ")"
)
_SUFFIX = re.compile(
    "(?:"
    + "|".join(
        _PUNCT
        + _ELLIPSES
        + _QUOTE_LIST
        + _ICONS
        + ["'s", "'S", "\u2019s", "\u2019S", "\u2014", "\u2013"]
        + [
            "(?<=[0-9])\\+",
            "(?<=\u00b0[FfCcKk])\\.",
            "(?<=[0-9])(?:" + "|".join(_CURRENCY) + ")",
            "(?<=[0-9])(?:" + "|".join(re.escape(unit) for unit in _UNITS) + ")",
            "(?<=[0-9" + _LOWER + "%\u00b2\\-\\+" + _PUNCT_CLASS + re.escape(_QUOTES) + "])\\.",
            "(?<=[" + _UPPER + "][" + _UPPER + "])\\.",
        ]
    )
    + ")$"
)
_HYPHENS = "-|\u2013|\u2014|--|---|\u2014\u2014|~"
_INFIX = re.compile(
    "|".join(
        _ELLIPSES
        + _ICONS
        + [
            "(?<=[0-9])[+\\-\\*^](?=[0-9-])",
            "(?<=["
            + _LOWER
            + re.escape(_QUOTES)
            + "])\\.(?=["
            + _UPPER
            + re.escape(_QUOTES)
            + "])",
            "(?<=" + _ALPHA + "),(?=" + _ALPHA + ")",
            "(?<=[^\\W_])(?:" + _HYPHENS + ")(?=" + _ALPHA + ")",
            "(?<=[^\\W_])[:<>=/](?=" + _ALPHA + ")",
        ]
    )
)
_URL = re.compile(
    "^(?:[\\w+\\-.]{2,}://)?(?:\\S+(?::\\S*)?@)?"
    "(?:(?:[A-Za-z0-9\u00a1-\uffff][A-Za-z0-9\u00a1-\uffff_-]{0,62})?[A-Za-z0-9\u00a1-\uffff]\\.)+"
    "[" + _LOWER + "]{2,63}(?::\\d{2,5})?(?:[/?#]\\S*)?$"
)

# Special cases: chunks with a fixed split (contractions, abbreviations, emoticons), exported
# from spaCy 3.8's English tokenizer (MIT License, Explosion AI).
_SPECIALS: dict[str, tuple[str, ...]] = {
    key: tuple(parts)
    for key, parts in json.loads(
        (Path(__file__).with_name("tokenizer_specials.json")).read_text("utf-8")
    ).items()
}

# Chunks longer than this stay one token: no real word is that long, and it bounds the cost
# of the affix rules on pathological input (lines of 100k characters without a space).
MAX_CHUNK_CHARS = 2000


def _split_infixes(chunk: str, tokens: list[str], specials: dict[str, tuple[str, ...]]) -> None:
    special = specials.get(chunk)
    if special is not None:
        tokens.extend(special)
        return
    if _URL.match(chunk):
        tokens.append(chunk)
        return
    start = 0
    for match in _INFIX.finditer(chunk):
        infix_start, infix_end = match.span()
        if infix_start == 0:
            continue
        if infix_start != start:
            tokens.append(chunk[start:infix_start])
        if infix_start != infix_end:
            tokens.append(chunk[infix_start:infix_end])
        start = infix_end
    if start < len(chunk):
        tokens.append(chunk[start:])


@lru_cache(maxsize=1 << 18)
def chunk_tokens(chunk: str) -> tuple[str, ...]:
    """spaCy-style tokens of one whitespace-free chunk (prefixes, core, suffixes)."""
    if len(chunk) > MAX_CHUNK_CHARS:
        return (chunk,)
    special = _SPECIALS.get(chunk)
    if special is not None:
        return special
    return _merge_specials(_split_affixes(chunk))


def _split_affixes(chunk: str, with_specials: bool = True) -> tuple[str, ...]:
    specials = _SPECIALS if with_specials else {}
    prefixes: list[str] = []
    suffixes: list[str] = []
    rest = chunk
    last_size = -1
    while rest and len(rest) != last_size:
        if rest in specials:
            break
        last_size = len(rest)
        prefix_match = _PREFIX.search(rest)
        prefix_len = prefix_match.end() if prefix_match else 0
        if prefix_len and rest[prefix_len:] in specials:
            prefixes.append(rest[:prefix_len])
            rest = rest[prefix_len:]
            break
        suffix_match = _SUFFIX.search(rest[prefix_len:])
        suffix_len = len(rest) - prefix_len - suffix_match.start() if suffix_match else 0
        if suffix_len and rest[:-suffix_len] in specials:
            suffixes.append(rest[-suffix_len:])
            rest = rest[:-suffix_len]
            break
        if prefix_len and suffix_len and prefix_len + suffix_len <= len(rest):
            prefixes.append(rest[:prefix_len])
            suffixes.append(rest[-suffix_len:])
            rest = rest[prefix_len:-suffix_len]
        elif prefix_len:
            prefixes.append(rest[:prefix_len])
            rest = rest[prefix_len:]
        elif suffix_len:
            suffixes.append(rest[-suffix_len:])
            rest = rest[:-suffix_len]
    tokens = prefixes
    if rest:
        _split_infixes(rest, tokens, specials)
    tokens.extend(reversed(suffixes))
    return tuple(tokens)


# Special cases that the affix rules would cut into pieces (`:)`, `''`, `C++`) are put back
# together after splitting, as spaCy's special-case matcher does.
_MERGES: dict[tuple[str, ...], str] = {}
for _key in _SPECIALS:
    _pieces = _split_affixes(_key, with_specials=False)
    if len(_pieces) > 1:
        _MERGES.setdefault(_pieces, _key)
_LONGEST_MERGE = max((len(pieces) for pieces in _MERGES), default=1)


def _merge_specials(tokens: tuple[str, ...]) -> tuple[str, ...]:
    if len(tokens) < 2:
        return tokens
    merged: list[str] = []
    index = 0
    while index < len(tokens):
        for width in range(min(_LONGEST_MERGE, len(tokens) - index), 1, -1):
            key = _MERGES.get(tokens[index : index + width])
            if key is not None:
                merged.extend(_SPECIALS[key])
                index += width
                break
        else:
            merged.append(tokens[index])
            index += 1
    return tuple(merged)


def spacy_style_tokens(text: str) -> list[str]:
    """Word tokens of `text` by spaCy's English rules (whitespace never part of a token)."""
    tokens: list[str] = []
    for chunk in text.split():
        tokens.extend(chunk_tokens(chunk))
    return tokens


def whitespace_tokens(text: str) -> list[str]:
    """Whitespace-separated words, as the Gopher paper counts them."""
    return text.split()


# Han (with extensions A and compatibility ideographs), hiragana, katakana (with the phonetic
# extensions and half-width forms), CJK symbols and punctuation, and full-width forms.
_CJK_CHARACTERS = (
    "\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff00-\uffef"
)
_CHARACTER_TOKENS = re.compile(f"[{_CJK_CHARACTERS}]|[^\\s{_CJK_CHARACTERS}]+")


def character_tokens(text: str) -> list[str]:
    """Every Han, kana or CJK punctuation character a token; other runs split as spaCy does."""
    tokens: list[str] = []
    for match in _CHARACTER_TOKENS.finditer(text):
        piece = match.group()
        if len(piece) == 1 and "\u3000" <= piece <= "\uffef":
            tokens.append(piece)
        else:
            tokens.extend(chunk_tokens(piece))
    return tokens


def tokenize(text: str, tokenizer: TokenizerName) -> list[str]:
    """Word tokens of `text` by the named scheme."""
    if tokenizer == "characters":
        return character_tokens(text)
    return spacy_style_tokens(text) if tokenizer == "spacy" else whitespace_tokens(text)


def _is_punct(token: str) -> bool:
    return all(unicodedata.category(char).startswith("P") for char in token)


def sentence_count(tokens: list[str]) -> int:
    """Sentences in a run of spaCy-style tokens, by the rule of spaCy's sentencizer.

    A sentence ends at a token that is a sentence-final mark and the next sentence starts at
    the first following token that is not punctuation.
    """
    if not tokens:
        return 0
    sentences = 1
    seen_end = False
    for token in tokens:
        is_end = token in SENTENCE_END_CHARS
        if seen_end and not is_end and not _is_punct(token):
            sentences += 1
            seen_end = False
        elif is_end:
            seen_end = True
    return sentences
