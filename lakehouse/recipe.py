"""The recipe: every source and threshold of a funnel run, validated by pydantic.

A recipe is one YAML file. Relative paths in it resolve against the file's own folder, so a recipe
and its landing data can move together. The recipe's sha256 (of the file bytes) is stored with every
Delta commit, so any table version can be traced to the exact recipe that produced it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    format: Literal["jsonl", "parquet"]
    domain: str = Field(pattern=SOURCE_NAME_PATTERN, description="Domain label, e.g. code, legal.")
    license: str = Field(min_length=1, description="License of the source's text (SPDX id).")
    text_field: str = Field(default="text", min_length=1)
    id_field: str | None = Field(
        default="id", description="The record's own id, kept as source_id."
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


class NormalizeConfig(_Section):
    """Text normalization of the clean stage (the first step; later signals see its output)."""

    unicode_form: Literal["NFC", "NFKC"] = Field(
        default="NFC", description="Unicode normalization form applied to every document."
    )
    max_text_bytes: int = Field(
        default=1_000_000,
        gt=0,
        description="UTF-8 bytes of text above which a document is rejected (text_too_large).",
    )


class LanguageConfig(_Section):
    """Language identification (fastText lid.176, bundled) and which languages are kept."""

    allow: list[str] = Field(
        default=["en"], min_length=1, description="ISO 639-1 codes of the languages kept."
    )
    min_score: float = Field(
        default=0.65, ge=0, le=1, description="Lowest confidence of the top language kept."
    )


class GopherQualityConfig(_Section):
    """Gopher quality rules (Rae et al. 2021); null disables one rule."""

    enabled: bool = True
    min_doc_words: int | None = Field(default=50, ge=0)
    max_doc_words: int | None = Field(default=100_000, ge=0)
    min_avg_word_length: float | None = Field(default=3, ge=0)
    max_avg_word_length: float | None = Field(default=10, ge=0)
    max_symbol_word_ratio: float | None = Field(default=0.1, ge=0)
    max_bullet_lines_ratio: float | None = Field(default=0.9, ge=0, le=1)
    max_ellipsis_lines_ratio: float | None = Field(default=0.3, ge=0, le=1)
    min_alpha_words_ratio: float | None = Field(default=0.8, ge=0, le=1)
    min_stop_words: int | None = Field(default=2, ge=0)


class GopherRepetitionConfig(_Section):
    """Gopher repetition rules (Rae et al. 2021, table A1); null disables one rule."""

    enabled: bool = True
    dup_para_frac: float | None = Field(default=0.3, ge=0, le=1)
    dup_para_char_frac: float | None = Field(default=0.2, ge=0, le=1)
    dup_line_frac: float | None = Field(default=0.3, ge=0, le=1)
    dup_line_char_frac: float | None = Field(default=0.2, ge=0, le=1)
    top_ngram_char_frac: dict[Literal[2, 3, 4], float] = Field(
        default={2: 0.2, 3: 0.18, 4: 0.16},
        description="Most frequent n-gram's share of characters, per n; above it, dropped.",
    )
    dup_ngram_char_frac: dict[Literal[5, 6, 7, 8, 9, 10], float] = Field(
        default={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="Characters in repeated n-grams, per n; above it, dropped.",
    )


class C4RulesConfig(_Section):
    """C4 rules (Raffel et al. 2020) as FineWeb ran them: no terminal-punctuation rule."""

    enabled: bool = True
    remove_filtered_lines: bool = Field(
        default=True, description="Silver text keeps only the lines the line rules keep."
    )
    filter_no_terminal_punct: bool = False
    min_num_sentences: int | None = Field(default=5, ge=0)
    min_words_per_line: int = Field(default=3, ge=0)
    max_word_length: int = Field(default=1000, gt=0)
    remove_citations: bool = True
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True


class FineWebConfig(_Section):
    """FineWeb's own quality rules (Penedo et al. 2024)."""

    enabled: bool = True
    line_punct_thr: float = Field(default=0.12, ge=0, le=1)
    line_punct_exclude_zero: bool = False
    short_line_thr: float = Field(default=0.67, ge=0, le=1)
    short_line_length: int = Field(default=30, ge=0)
    char_duplicates_ratio: float = Field(default=0.01, ge=0, le=1)
    new_line_ratio: float = Field(default=0.3, ge=0)


PII_KINDS = ("email", "phone", "ipv4", "ipv6", "credit_card")


class PiiConfig(_Section):
    """PII redaction: which kinds are replaced by typed placeholders such as <EMAIL>."""

    kinds: list[Literal["email", "phone", "ipv4", "ipv6", "credit_card"]] = Field(
        default=list(PII_KINDS)
    )


class CleanConfig(_Section):
    """The silver clean stage: normalization, language, heuristic filters, PII redaction."""

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
    normalize: NormalizeConfig = NormalizeConfig()
    language: LanguageConfig = LanguageConfig()
    gopher_repetition: GopherRepetitionConfig = GopherRepetitionConfig()
    gopher_quality: GopherQualityConfig = GopherQualityConfig()
    c4: C4RulesConfig = C4RulesConfig()
    fineweb: FineWebConfig = FineWebConfig()
    pii: PiiConfig = PiiConfig()


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
    negative_samples: int = Field(
        default=400, ge=1, description="Bronze documents sampled (seeded) as the negatives."
    )
    epochs: int = Field(default=200, ge=1, description="Full-batch training epochs.")
    learning_rate: float = Field(default=0.01, gt=0)
    hidden: int = Field(default=0, ge=0, description="Hidden units of the MLP; 0: logistic.")
    seed: int = Field(default=0, ge=0, description="Seed of the samples and the weights.")


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
    seed: int = Field(default=0, ge=0, description="Seed of the k-means initialization.")


class ScoreConfig(_Section):
    """The gold score stage: encoder embeddings, quality and domain heads, semantic dedup."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: CUDA when present, else CPU."
    )
    cpu_precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="CPU inference mode: fp32, or int8 dynamic quantization of Linear layers "
        "(faster, embeddings further from fp32; see docs/benchmarks.md).",
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


class Recipe(_Section):
    """A whole funnel configuration."""

    name: str = Field(pattern=SOURCE_NAME_PATTERN)
    landing: str = Field(min_length=1, description="Folder or URI that new source files land in.")
    sources: list[SourceConfig] = Field(min_length=1)
    ingest: IngestConfig = IngestConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    clean: CleanConfig = CleanConfig()
    dedup: DedupConfig = DedupConfig()
    score: ScoreConfig = ScoreConfig()
    checks: ChecksConfig = ChecksConfig()
    curate: CurateConfig = CurateConfig()
    review: ReviewConfig = ReviewConfig()
    release: ReleaseConfig = ReleaseConfig()

    @field_validator("sources")
    @classmethod
    def _unique_source_names(cls, sources: list[SourceConfig]) -> list[SourceConfig]:
        names = [source.name for source in sources]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return sources

    def source(self, name: str) -> SourceConfig:
        """The source called `name`; KeyError naming the known sources otherwise."""
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(source.name for source in self.sources)
        raise KeyError(f"recipe has no source {name!r}; it has: {known}")


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
        """The absolute glob (path or URI) that matches a source's landing files."""
        if is_remote_uri(source.path) or os.path.isabs(source.path):
            return source.path
        return f"{self.landing_uri.rstrip('/')}/{source.path}"


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
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            key = _key_path(detail["loc"])
            if detail["type"] == "extra_forbidden":
                problems.append(f"{key}: unknown key")
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
    return LoadedRecipe(recipe, recipe_path, hashlib.sha256(content).hexdigest())
