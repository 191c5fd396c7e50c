"""What would a changed threshold do? Re-decide every document from `silver/signals`, no Spark.

The clean stage stores every signal of every document it saw (kept or rejected). Given recipe
overrides (`clean.gopher_quality.min_doc_words=30`), the rules of `lakehouse.rules` are
evaluated on those stored signals with Arrow compute — once with the recipe as it is, once
with the overrides, once per override alone — and the documents that would newly be kept or
newly be dropped are counted, per rule family, per source and per language.

Only rule settings can be re-decided this way: a setting that changes what a signal measures
(e.g. `clean.fineweb.short_line_length`) needs the clean stage to run again. Documents dropped
by something other than a clean rule (the reviewers' `blocklist`) stay dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from lakehouse.catalog import Catalog
from lakehouse.ledger import committed_rows
from lakehouse.recipe import (
    DEFAULT_PROFILE,
    CleanConfig,
    LoadedRecipe,
    Recipe,
    RecipeError,
    validate_recipe,
)
from lakehouse.rules import (
    RULES,
    RULES_BY_NAME,
    ActiveRule,
    active_rules,
    language_settings,
    setting_value,
    settings,
)
from lakehouse.tables import SILVER_SIGNALS


class WhatIfError(ValueError):
    """An override that cannot be evaluated; the message names the key and what to do."""


@dataclass(frozen=True)
class Change:
    """One override on its own: the setting's value before and after, and what it would do."""

    key: str
    before: Any
    after: Any
    newly_kept: int
    newly_dropped: int


@dataclass(frozen=True)
class WhatIf:
    """The effect of a set of overrides on the documents of one `silver/signals` version.

    `by_family` attributes a newly dropped document to the family of the rule that would drop
    it, a newly kept one to the family of the rule that drops it now. `stored_rule_mismatches`
    counts documents whose stored rule differs from what the current recipe decides (signals
    written under an earlier recipe).
    """

    signals_version: int
    documents: int
    kept_before: int
    kept_after: int
    newly_kept: int
    newly_dropped: int
    stored_rule_mismatches: int
    changes: list[Change]
    by_family: list[dict[str, Any]]
    by_source: list[dict[str, Any]]
    by_lang: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return asdict(self) | {"stage": "clean"}


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings as {key: value}, each value read as YAML (`0.3`, `null`, `[en, de]`)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise WhatIfError(f"{pair!r}: expected KEY=VALUE, e.g. clean.c4.min_num_sentences=3")
        try:
            overrides[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as error:
            problem = str(error).splitlines()[0]
            raise WhatIfError(f"{key}: value {text!r} is not valid YAML: {problem}") from error
    return overrides


def _is_recipe_key(raw: Mapping[str, Any], key: str) -> bool:
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _is_language_setting(key: str) -> bool:
    """Whether `key` is `clean.languages.<code>.<field>` for a per-language rule setting."""
    parts = key.split(".")
    fields = {setting.field for setting in language_settings()}
    return len(parts) == 4 and parts[:2] == ["clean", "languages"] and parts[3] in fields


def _check_key(raw: Mapping[str, Any], key: str) -> None:
    """WhatIfError unless `key` is a rule setting (a recipe key the stored signals can answer):
    a family's, or one language's threshold (`clean.languages.<code>.<field>`)."""
    if key in settings() or _is_language_setting(key):
        return
    if _is_recipe_key(raw, key):
        raise WhatIfError(
            f"{key}: not a rule setting; what-if re-decides from stored signals, so this "
            "setting needs the clean stage re-run (`funnel rules` lists the rule settings)"
        )
    raise WhatIfError(f"{key}: unknown rule setting (`funnel rules` lists them)")


def apply_overrides(recipe: Recipe, overrides: Mapping[str, Any]) -> Recipe:
    """The recipe with rule settings overridden, validated like a recipe file.

    WhatIfError for a key that is not a rule setting or a value the recipe model refuses.
    """
    raw = recipe.model_dump()
    for key, value in overrides.items():
        _check_key(raw, key)
        parts = key.split(".")
        node = raw
        for part in parts[:-1]:
            # A language without an entry yet gets one (the rest of it inherited).
            node = node.setdefault(part, {}) if _is_language_setting(key) else node[part]
        last = parts[-1]
        node[int(last) if isinstance(node, dict) and last.isdigit() else last] = copy.deepcopy(
            value
        )
    try:
        return validate_recipe(raw, "--set")
    except RecipeError as error:
        raise WhatIfError(str(error)) from error


def _thresholds(signals: pa.Table, active: ActiveRule) -> Any:
    """A numeric rule's threshold per row: its language's (`clean.languages`) or the default."""
    if not active.by_language:
        return active.threshold
    thresholds = pa.chunked_array([pa.array([active.threshold] * signals.num_rows, pa.float64())])
    for lang, value in active.by_language:
        thresholds = pc.if_else(
            pc.fill_null(pc.equal(signals["lang"], lang), False),
            pa.scalar(value, pa.float64()),
            thresholds,
        )
    return thresholds


def rule_fires(signals: pa.Table, active: ActiveRule) -> pa.ChunkedArray:
    """Where one rule fires on stored signals (Arrow); never null, as in spark_jobs.decisions."""
    rule, threshold = active.rule, active.threshold
    signal = signals[rule.signal]
    if rule.comparison == "zero":
        fires = pc.equal(signal, 0)
    elif rule.comparison == "not_in":
        fires = pc.invert(pc.is_in(signal, value_set=pa.array(list(threshold or ()), pa.string())))
    elif rule.comparison == "above":
        fires = pc.greater(signal, _thresholds(signals, active))
    else:
        fires = pc.less(signal, _thresholds(signals, active))
    if active.exempt_zero:
        fires = pc.and_kleene(fires, pc.not_equal(signal, 0))
    return pc.fill_null(pc.and_kleene(fires, pc.is_valid(signal)), False)


def _profiles(signals: pa.Table, clean: CleanConfig) -> pa.ChunkedArray:
    """Each row's rule profile from its source and domain, computed as
    `spark_jobs.decisions.document_profile` does (a source named by a profile wins)."""
    profiles = pa.chunked_array([pa.array([DEFAULT_PROFILE] * signals.num_rows, pa.string())])
    for kind in ("domain", "source"):
        for name, rules in clean.profiles.items():
            named = getattr(rules, f"{kind}s")
            if named:
                matches = pc.is_in(signals[kind], value_set=pa.array(named, pa.string()))
                profiles = pc.if_else(pc.fill_null(matches, False), pa.scalar(name), profiles)
    return profiles


def first_rules(signals: pa.Table, clean: CleanConfig) -> pa.ChunkedArray:
    """The first rule that fires on each row under its rule profile (from the row's source and
    domain, as the clean stage assigns it); null where none does."""
    profiles = _profiles(signals, clean)
    first = pa.chunked_array([pa.nulls(signals.num_rows, pa.string())])
    for name in clean.profile_names:
        config, families = clean.profile_config(name), clean.profile_families(name)
        mine = pc.equal(profiles, name)
        for active in reversed(active_rules(config, families)):
            fires = pc.and_(mine, rule_fires(signals, active))
            first = pc.if_else(fires, pa.scalar(active.rule.name), first)
    return first


def _family_of(rules: pa.ChunkedArray) -> pa.ChunkedArray:
    names = pa.array(list(RULES_BY_NAME))
    families = pa.array([rule.family for rule in RULES])
    return pc.take(families, pc.index_in(rules, value_set=names))


def _kept(rules: pa.ChunkedArray, foreign: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.and_(pc.is_null(rules), pc.invert(foreign))


def _count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _breakdown(frame: pa.Table, column: str) -> list[dict[str, Any]]:
    """Documents, kept before/after, newly kept and dropped per value of `column`."""
    grouped = frame.group_by(column).aggregate(
        [(name, "sum") for name in ("documents", "kept_before", "kept_after", "newly_kept")]
        + [("newly_dropped", "sum")]
    )
    rows = [
        {key.removesuffix("_sum"): value for key, value in row.items()}
        for row in grouped.to_pylist()
    ]
    return sorted(rows, key=lambda row: (row[column] is None, str(row[column])))


def _signals_table(catalog: Catalog, versions: int | Mapping[str, int]) -> pa.Table:
    """The stored signals: one table version, or each batch at the version of its recorded
    clean outcome (batch id → version)."""
    if isinstance(versions, int):
        table = catalog.read(SILVER_SIGNALS, versions)
    else:
        table = committed_rows(catalog, versions, SILVER_SIGNALS)
    rule = table["rule"]
    known = pc.is_in(rule, value_set=pa.array(list(RULES_BY_NAME)))
    foreign = pc.fill_null(pc.and_(pc.is_valid(rule), pc.invert(known)), False)
    return table.append_column("foreign", foreign)


def evaluate(signals: pa.Table, before: CleanConfig, after: CleanConfig) -> pa.Table:
    """Per document: source, lang, rule family of the change, kept before/after, newly …."""
    foreign = signals["foreign"]
    rules_before, rules_after = first_rules(signals, before), first_rules(signals, after)
    kept_before, kept_after = _kept(rules_before, foreign), _kept(rules_after, foreign)
    newly_kept = pc.and_(kept_after, pc.invert(kept_before))
    newly_dropped = pc.and_(kept_before, pc.invert(kept_after))
    family = pc.if_else(newly_dropped, _family_of(rules_after), _family_of(rules_before))
    as_int = [pc.cast(mask, pa.int64()) for mask in (kept_before, kept_after, newly_kept)]
    return pa.table(
        {
            "source": signals["source"],
            "lang": signals["lang"],
            "family": pc.if_else(
                pc.or_(newly_kept, newly_dropped), family, pa.scalar(None, pa.string())
            ),
            "documents": pc.cast(pc.is_valid(signals["doc_id"]), pa.int64()),
            "kept_before": as_int[0],
            "kept_after": as_int[1],
            "newly_kept": as_int[2],
            "newly_dropped": pc.cast(newly_dropped, pa.int64()),
            "rule_before": rules_before,
        }
    )


def what_if(
    catalog: Catalog,
    loaded: LoadedRecipe,
    signals_version: int | Mapping[str, int],
    overrides: Mapping[str, Any],
) -> WhatIf:
    """The effect of `overrides` (rule settings) on the stored signals: of one silver/signals
    version, or of every batch as its recorded clean outcome holds them (batch id → version)."""
    if not overrides:
        raise WhatIfError("nothing to evaluate: give at least one --set KEY=VALUE")
    changed = apply_overrides(loaded.recipe, overrides)
    signals = _signals_table(catalog, signals_version)
    current = loaded.recipe.clean
    frame = evaluate(signals, current, changed.clean)
    stored = pc.fill_null(signals["rule"], "")
    mismatches = pc.and_(
        pc.not_equal(pc.fill_null(frame["rule_before"], ""), stored),
        pc.invert(signals["foreign"]),
    )
    changes = []
    for key, value in overrides.items():
        alone = apply_overrides(loaded.recipe, {key: value}).clean
        effect = evaluate(signals, current, alone)
        changes.append(
            Change(
                key,
                setting_value(current, key),
                setting_value(alone, key),
                _total(effect, "newly_kept"),
                _total(effect, "newly_dropped"),
            )
        )
    return WhatIf(
        signals_version=signals_version
        if isinstance(signals_version, int)
        else max(signals_version.values()),
        documents=signals.num_rows,
        kept_before=_total(frame, "kept_before"),
        kept_after=_total(frame, "kept_after"),
        newly_kept=_total(frame, "newly_kept"),
        newly_dropped=_total(frame, "newly_dropped"),
        stored_rule_mismatches=_count(mismatches),
        changes=changes,
        by_family=[row for row in _breakdown(frame, "family") if row["family"] is not None],
        by_source=_breakdown(frame, "source"),
        by_lang=_breakdown(frame, "lang"),
    )


def _total(frame: pa.Table, column: str) -> int:
    return int(pc.sum(frame[column]).as_py() or 0)
