"""`funnel`: run the funnel and look into the lakehouse from a shell.

Exit status: 0 on success, 2 on bad usage or configuration, 1 when a run or a check fails.
Every command that prints a table also speaks JSON with `--json`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import dagster as dg
import duckdb

from assets.resources import LakehouseResource, SparkResource, default_recipe_path
from dagster_project.models_cli import print_model_status
from dagster_project.models_cli import register as register_model_commands
from dagster_project.plan_cli import register as register_plan_commands
from dagster_project.review_cli import register as register_review_commands
from lakehouse.batches import BatchError
from lakehouse.catalog import Catalog, CorruptTableError, StoreUnreachableError
from lakehouse.plans import PlanStoreError
from lakehouse.provenance import NotFoundError, ProvenanceError
from lakehouse.recipe import RecipeError
from lakehouse.sql import SqlQueryError, connect, run_query
from lakehouse.storage import PROJECT_DIR, StorageConfigError, resolve_root
from lakehouse.tables import OPS_BATCHES, UnknownTableError
from spark_jobs.session import SparkUnavailableError, check_spark_available

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# Failures of the environment or the data, not of the command line: one line, exit 1.
FAILURES = (CorruptTableError, SparkUnavailableError, StoreUnreachableError)
USAGE_ERRORS = (
    RecipeError,
    StorageConfigError,
    UnknownTableError,
    BatchError,
    ProvenanceError,
    PlanStoreError,
)


def _print_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _emit(rows: list[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    elif rows:
        _print_table(rows, columns)
    else:
        print("(nothing)")


def _lakehouse(args: argparse.Namespace) -> LakehouseResource:
    lakehouse = LakehouseResource(root=resolve_root(args.root), recipe_path=args.recipe)
    lakehouse.recipe()
    return lakehouse


def _stop_spark() -> None:
    """Stop the run's Spark session, if a stage started one, before the process exits.

    Left to interpreter shutdown, the session's gateway threads can abort the process after
    the work is done, turning a successful run into a non-zero exit.
    """
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def command_run(args: argparse.Namespace) -> int:
    """Register new landing files and run the funnel for each pending batch."""
    # Before the stages load: no Java or a master that does not answer is one line, at once.
    check_spark_available(SparkResource().resolved_master(_lakehouse(args).recipe()))
    from dagster_project.review_cli import print_review_status
    from dagster_project.review_runs import curate_after_batches
    from dagster_project.runs import (
        pending_batches,
        prepare_instance,
        registered_batches,
        run_batch,
    )

    if args.plan:
        from dagster_project.plan_cli import plan_recipe

        args.recipe = plan_recipe(Catalog(args.root), args.plan)
        if not args.json:
            print(f"plan {args.plan}: running every batch with {args.recipe}")
    lakehouse = _lakehouse(args)
    with prepare_instance(lakehouse.root) as instance:
        batches = [args.batch] if args.batch else pending_batches(instance, lakehouse)
        if args.plan and not args.batch:
            # A plan changes the recipe for the whole lake: every batch is brought up to date
            # (stages the plan does not touch report "up to date").
            batches = registered_batches(instance)
        outcomes = [run_batch(instance, lakehouse, batch, force=args.force) for batch in batches]
        curated = curate_after_batches(instance, lakehouse, outcomes)
    _stop_spark()
    curated_ok = curated is None or curated.success
    if args.plan and curated_ok and all(outcome.success for outcome in outcomes):
        from lakehouse.plans import mark_applied

        mark_applied(lakehouse.catalog(), args.plan, getpass.getuser(), args.recipe)
    if curated is not None and not curated.success and not args.json:
        print(f"curate run {curated.run_id} FAILED: {curated.error}")
    if not outcomes:
        print(
            "[]"
            if args.json
            else "nothing to do: no new landing files and every batch is through the funnel"
        )
        if not args.json:
            print_review_status(lakehouse.catalog())
        return EXIT_OK if curated_ok else EXIT_FAILED
    if args.json:
        print(json.dumps([asdict(outcome) for outcome in outcomes], indent=2, default=str))
    else:
        for outcome in outcomes:
            status = "SUCCESS" if outcome.success else "FAILED"
            print(f"batch {outcome.batch_id}  run {outcome.run_id}  {status}")
            _print_table(
                [
                    {
                        "stage": entry.stage,
                        "rows_in": entry.rows_in,
                        "rows_out": entry.rows_out,
                        "rejected": entry.rows_rejected,
                        "quarantined": entry.rows_quarantined,
                        "table": entry.output_table,
                        "version": entry.output_version,
                    }
                    for entry in outcome.stages
                ],
                ["stage", "rows_in", "rows_out", "rejected", "quarantined", "table", "version"],
            )
            for check, passed in sorted(outcome.checks.items()):
                verdict = (
                    "PASSED" if passed else "WARNING" if check in outcome.warnings else "FAILED"
                )
                print(f"check {check}: {verdict}")
            if outcome.error:
                print(f"error: {outcome.error}")
        print(f"lakehouse: {lakehouse.root}   (funnel tables · funnel sql · make ui)")
        print_model_status(lakehouse.catalog())
        print_review_status(lakehouse.catalog())
    succeeded = all(outcome.success for outcome in outcomes) and curated_ok
    return EXIT_OK if succeeded else EXIT_FAILED


def command_tables(args: argparse.Namespace) -> int:
    """Each table's version, row count and last writer."""
    catalog = Catalog(args.root)
    rows = []
    for spec in catalog.existing_tables():
        latest = catalog.history(spec, limit=1)[0]
        rows.append(
            {
                "table": spec.key,
                "version": latest.version,
                "rows": catalog.row_count(spec, latest.version),
                "last_run": latest.run_id,
                "stage": latest.stage,
                "recipe_sha256": (latest.recipe_sha256 or "")[:12],
                "updated": latest.timestamp.isoformat(timespec="seconds"),
            }
        )
    _emit(
        rows,
        ["table", "version", "rows", "last_run", "stage", "recipe_sha256", "updated"],
        args.json,
    )
    return EXIT_OK


def command_history(args: argparse.Namespace) -> int:
    """Which run, recipe and code produced each version of a table."""
    catalog = Catalog(args.root)
    if not catalog.exists(args.table):
        print(
            f"error: table {args.table} has not been written yet; next: funnel run "
            "(funnel tables lists the tables written so far)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    rows = [asdict(entry) for entry in catalog.history(args.table, limit=args.limit)]
    columns = [
        "version",
        "timestamp",
        "operation",
        "rows_added",
        "run_id",
        "stage",
        "recipe_sha256",
        "code_version",
        "input_versions",
    ]
    _emit(rows, columns, args.json)
    return EXIT_OK


def command_batches(args: argparse.Namespace) -> int:
    """Registered batches and their files."""
    table = (
        Catalog(args.root)
        .read(OPS_BATCHES)
        .sort_by([("batch_id", "ascending"), ("file_uri", "ascending")])
    )
    _emit(
        table.to_pylist(),
        ["batch_id", "source", "file_uri", "file_bytes", "registered_at"],
        args.json,
    )
    return EXIT_OK


def command_sql(args: argparse.Namespace) -> int:
    """One read-only SQL query over every table (views named `layer.name`)."""
    connection = connect(Catalog(args.root))
    try:
        table = run_query(connection, args.query).fetch_arrow_table()
    except duckdb.Error as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE
    except SqlQueryError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    _emit(table.to_pylist(), table.column_names, args.json)
    return EXIT_OK


def command_lineage(args: argparse.Namespace) -> int:
    """The runs and inputs behind a table version, back to the raw landing files."""
    from lakehouse.lineage_views import render_dot, render_html, render_mermaid, render_text
    from lakehouse.provenance import lineage_graph

    if args.depth is not None and args.depth < 0:
        print("error: --depth must be 0 or more (jobs back from the target)", file=sys.stderr)
        return EXIT_USAGE
    catalog = Catalog(args.root)
    try:
        graph = lineage_graph(catalog, args.target, args.depth)
    except NotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    output_format = "json" if args.json else args.format
    if output_format == "json":
        print(json.dumps(graph.as_dict(), indent=2, default=str))
    elif output_format == "mermaid":
        print(render_mermaid(graph))
    elif output_format == "dot":
        print(render_dot(graph))
    elif output_format == "html":
        print(render_html(graph, catalog.root), end="")
    else:
        print(render_text(graph))
    return EXIT_OK


def command_trace(args: argparse.Namespace) -> int:
    """Where a document came from and what every stage did with it."""
    from lakehouse.provenance import trace

    try:
        found = trace(Catalog(args.root), args.doc_id)
    except NotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(asdict(found) | {"table_versions": found.table_versions()}, indent=2))
        return EXIT_OK
    print(f"doc {found.doc_id}  batch {found.batch_id}  source {found.source}")
    print(f"from {found.source_uri}  record {found.source_record}  id {found.source_id or '-'}")
    if found.url is not None or found.warc_record_id is not None:
        print(
            f"web {found.url or '-'}  fetched {found.fetched_at or '-'}  "
            f"type {found.content_type or '-'}  WARC record {found.warc_record_id or '-'}  "
            f"offset {'-' if found.source_offset is None else found.source_offset}"
        )
    _print_table(
        [asdict(outcome) for outcome in found.stages],
        ["stage", "outcome", "table", "version", "rule", "value", "threshold", "detail", "run_id"]
        + (["plan_id"] if any(outcome.plan_id for outcome in found.stages) else []),
    )
    _print_plans(Catalog(args.root), {outcome.plan_id for outcome in found.stages} - {None})
    if found.releases:
        print("shipped in releases:")
        _print_table(
            found.releases,
            ["release", "candidate_version", "domain", "tokens", "weight", "published_at"],
        )
    if found.exports:
        print("in tokenized exports:")
        _print_table(
            found.exports,
            ["release", "format", "tokenizer", "seed", "shard", "token_offset", "tokens", "folder"],
        )
    if found.consumption:
        print("consumed in training:")
        _print_table(
            found.consumption, ["run_name", "release", "step", "kept", "weight", "consumed_at"]
        )
    return EXIT_OK


def _print_plans(catalog: Catalog, plan_ids: set[str | None]) -> None:
    """Who asked for and who approved each plan a trace names."""
    from lakehouse.plans import plan_history

    for plan_id in sorted(plan_id for plan_id in plan_ids if plan_id):
        try:
            history = plan_history(catalog, plan_id)
        except PlanStoreError as missing:
            print(f"plan {plan_id}: {missing}")
            continue
        approved = next((step for step in history if step.status == "approved"), None)
        who = (
            f"approved by {approved.by} at {approved.at:%Y-%m-%d %H:%M}"
            if approved
            else history[-1].status
        )
        print(f'plan {plan_id}: "{history[-1].request}" ({who})')


def command_export(args: argparse.Namespace) -> int:
    """Write a published release as tokenized shards, in a Dagster run of the export job."""
    from assets.export import ExportRun, export_request
    from dagster_project.review_runs import run_job
    from dagster_project.runs import prepare_instance
    from lakehouse.exports import ExportError, read_manifest
    from lakehouse.releases import ReleaseNotFoundError, release_manifest

    lakehouse = _lakehouse(args)
    config = {
        "release": args.release,
        "format": args.format,
        "tokenizer": args.tokenizer,
        "seed": args.seed,
        "output": os.path.abspath(args.output) if args.output else "",
    }
    try:
        # Refuse a bad release or tokenizer in one line, before a run is started.
        release_manifest(lakehouse.catalog(), args.release)
        request = export_request(ExportRun(**config), lakehouse.root, lakehouse.recipe())
    except (ReleaseNotFoundError, ExportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    with prepare_instance(lakehouse.root) as instance:
        outcome = run_job(
            instance, lakehouse, "export", {"ops": {"exports__tokenized": {"config": config}}}
        )
    manifest = read_manifest(request.output)
    if not outcome.success or manifest is None:
        print(f"export failed (run {outcome.run_id}): {outcome.error}", file=sys.stderr)
        return EXIT_FAILED
    summary = {
        "run_id": outcome.run_id,
        "output": str(request.output),
        "release": manifest["release"],
        "format": manifest["format"],
        "tokenizer": manifest["tokenizer"]["name"],
        "seed": manifest["seed"],
        "shards": len(manifest["shards"]),
        "documents": manifest["documents"],
        "tokens": manifest["tokens"],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"exported release {summary['release']}: {summary['documents']} documents, "
            f"{summary['tokens']} tokens in {summary['shards']} {summary['format']} shards "
            f"to {summary['output']} (run {outcome.run_id})"
        )
    return EXIT_OK


def command_rejections(args: argparse.Namespace) -> int:
    """How many rows each stage dropped, by rule and source, with example doc ids."""
    from lakehouse.provenance import rejection_summary

    rows = rejection_summary(
        Catalog(args.root), stage=args.stage, rule=args.rule, source=args.source
    )
    if not args.json:
        rows = [row | {"examples": " ".join(row["examples"])} for row in rows]
    _emit(rows, ["stage", "rule", "source", "kind", "count", "examples"], args.json)
    return EXIT_OK


def command_rules(args: argparse.Namespace) -> int:
    """Every clean rule, in decision order, with its signal, setting, default and bounds; with
    --profiles, which rule profile of the recipe judges each source, and how; with --languages,
    each language's settings as the recipe resolves them."""
    from lakehouse.recipe import load_recipe
    from lakehouse.rules import language_rows, rule_rows

    if args.profiles:
        _emit(profile_rows(load_recipe(args.recipe).recipe), PROFILE_COLUMNS, args.json)
        return EXIT_OK
    if args.languages:
        rows = language_rows(load_recipe(args.recipe).recipe.clean)
        for row in rows:
            row["stop_words"] = " ".join(row["stop_words"]) if not args.json else row["stop_words"]
        _emit(rows, list(rows[0]) if rows else ["lang"], args.json)
        return EXIT_OK
    columns = ["rule", "family", "signal", "threshold_key", "default", "bounds", "unit"]
    _emit(rule_rows(), [*columns, "meaning"], args.json)
    return EXIT_OK


PROFILE_COLUMNS = ("source", "domain", "profile", "families", "overrides")


def profile_rows(recipe: Any) -> list[dict[str, Any]]:
    """One row per recipe source: its domain, the rule profile that judges its documents, the
    families that profile runs and the settings it changes (`clean.<section>.<field>=value`)."""
    clean = recipe.clean
    rows = []
    for source in recipe.sources:
        name = clean.profile_of(source.name, source.domain)
        overrides = clean.profiles[name].overrides if name in clean.profiles else {}
        rows.append(
            {
                "source": source.name,
                "domain": source.domain,
                "profile": name,
                "families": " ".join(clean.profile_families(name)),
                "overrides": " ".join(
                    f"clean.{section}.{field}={value}"
                    for section, fields in overrides.items()
                    for field, value in fields.items()
                ),
            }
        )
    return rows


def _print_whatif(report: Any) -> None:
    print(
        f"silver/signals version {report.signals_version}: {report.documents} documents, "
        f"kept {report.kept_before} -> {report.kept_after} "
        f"(newly kept {report.newly_kept}, newly dropped {report.newly_dropped})"
    )
    counts = ["newly_kept", "newly_dropped"]
    _print_table([asdict(change) for change in report.changes], ["key", "before", "after", *counts])
    for title, rows, column in (
        ("by rule family", report.by_family, "family"),
        ("by source", report.by_source, "source"),
        ("by language", report.by_lang, "lang"),
    ):
        changed = [row for row in rows if row["newly_kept"] or row["newly_dropped"]]
        if changed:
            print(f"{title}:")
            _print_table(changed, [column, "documents", "kept_before", "kept_after", *counts])
    if report.stored_rule_mismatches:
        print(
            f"note: {report.stored_rule_mismatches} documents' stored rule differs from what "
            "this recipe decides (silver/signals was written under another recipe)"
        )


def command_whatif(args: argparse.Namespace) -> int:
    """How many documents changed rule settings would newly keep or drop, from stored signals."""
    from lakehouse.ledger import committed_batches
    from lakehouse.recipe import load_recipe
    from lakehouse.tables import SILVER_SIGNALS
    from lakehouse.whatif import WhatIfError, parse_overrides, what_if

    loaded = load_recipe(args.recipe)
    catalog = Catalog(args.root)
    # Each batch's signals as its recorded clean outcome holds them.
    version = committed_batches(catalog, "clean", SILVER_SIGNALS)
    if not version:
        print(
            "error: silver/signals has not been written yet: run the clean stage first",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        report = what_if(catalog, loaded, version, parse_overrides(args.set))
    except WhatIfError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        _print_whatif(report)
    return EXIT_OK


def command_ui(args: argparse.Namespace) -> int:
    """Start the Dagster webserver and daemon (`dagster dev`) on this lakehouse."""
    from dagster_project.runs import prepare_instance

    lakehouse = _lakehouse(args)
    instance = prepare_instance(lakehouse.root)
    command, env = ui_command(instance.root_directory, lakehouse, args.host, args.port)
    # The child gets its settings through `env` and `cwd`; this process's stay as they were.
    child = subprocess.Popen(command, env=env, cwd=PROJECT_DIR)
    try:
        return child.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached the child too (same process group); let `dagster dev` shut down.
        return child.wait()


def ui_command(
    dagster_home: str, lakehouse: LakehouseResource, host: str, port: int
) -> tuple[list[str], dict[str, str]]:
    """The `dagster dev` command line and the environment it runs with on this lakehouse."""
    workspace = str(PROJECT_DIR / "workspace.yaml")
    command = [sys.executable, "-m", "dagster", "dev", "-w", workspace]
    command += ["--host", host, "--port", str(port)]
    env = os.environ | {
        "DAGSTER_HOME": dagster_home,
        "FUNNEL_ROOT": lakehouse.root,
        "FUNNEL_RECIPE": lakehouse.recipe_path,
    }
    return command, env


def build_parser() -> argparse.ArgumentParser:
    """The `funnel` argument parser."""
    parser = argparse.ArgumentParser(
        prog="funnel", description="A lakehouse that turns raw text into training data."
    )
    parser.add_argument("--root", help="data root (default: $FUNNEL_ROOT or ./lake)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(handler=handler)
        return sub

    run = add("run", command_run, "register new landing files and run the funnel on them")
    run.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
    run.add_argument("--plan", help="apply an approved plan: its recipe as a new file, then run")
    run.add_argument("--batch", help="re-run one registered batch (replaces its rows)")
    run.add_argument(
        "--force", action="store_true", help="re-run stages even when their outcome is up to date"
    )
    ui = add("ui", command_ui, "start the Dagster UI and daemon (bound to 127.0.0.1)")
    ui.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind")
    ui.add_argument("--port", type=int, default=3000, help="port to bind")
    add("tables", command_tables, "every table with its version, rows and last writer run")
    history = add("history", command_history, "versions of a table and what produced them")
    history.add_argument("table", help="table name, e.g. bronze/documents")
    history.add_argument("--limit", type=int, default=None, help="newest N versions")
    add("batches", command_batches, "registered ingestion batches and their files")
    sql = add("sql", command_sql, "query the tables (e.g. select * from bronze.documents)")
    sql.add_argument("query", help="one read-only DuckDB query (SELECT, WITH …, FROM …)")
    lineage = add("lineage", command_lineage, "jobs and inputs behind a table version")
    lineage.add_argument("target", help="table, or table@VERSION, e.g. bronze/documents@3")
    lineage.add_argument(
        "--format",
        choices=["text", "json", "dot", "mermaid", "html"],
        default="text",
        help="output",
    )
    lineage.add_argument(
        "--depth", type=int, default=None, help="at most N jobs back (default: all the way)"
    )
    trace = add("trace", command_trace, "a document's raw origin and every stage's outcome")
    trace.add_argument("doc_id", help="32-hex-char document id")
    export = add("export", command_export, "a published release as tokenized shards")
    export.add_argument("release", help="release name (funnel release list)")
    export.add_argument(
        "--format", choices=["mds", "megatron", "jsonl"], default="mds", help="shard format"
    )
    export.add_argument(
        "--tokenizer",
        default="all-minilm-l6-v2",
        help="name under export.tokenizers in the recipe, all-minilm-l6-v2, or a tokenizer.json",
    )
    export.add_argument("--seed", type=int, default=0, help="decides the document order")
    export.add_argument("--output", help="folder (default: <root>/_exports/<release>/…)")
    export.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
    rejections = add("rejections", command_rejections, "counts and examples of dropped rows")
    rejections.add_argument("--stage", help="only this stage, e.g. ingest")
    rejections.add_argument("--rule", help="only this rule or quarantine reason")
    rejections.add_argument("--source", help="only this recipe source")
    rules = add("rules", command_rules, "every clean rule: signal, threshold key, default, bounds")
    rules.add_argument(
        "--profiles",
        action="store_true",
        help="instead: the rule profile that judges each source of the recipe",
    )
    rules.add_argument(
        "--languages",
        action="store_true",
        help="instead: each language's word splitting, stop words and thresholds (clean.languages)",
    )
    rules.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
    whatif = add("whatif", command_whatif, "documents changed rule settings would keep or drop")
    whatif.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
    whatif.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="KEY=VALUE",
        help="a rule setting, e.g. clean.gopher_quality.min_doc_words=30 (repeatable)",
    )
    register_review_commands(commands)
    register_plan_commands(commands)
    register_model_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `funnel` console script."""
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    try:
        return args.handler(args)
    except USAGE_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except FAILURES as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
