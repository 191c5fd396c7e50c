"""`funnel review …` and `funnel release …`: the review page, its report, and releases.

funnel review serve [--host H] [--port P] [--token T] [--reviewer NAME] [--reviewers FILE]
                    [--allow-host NAME ...]
funnel review report [--json]
funnel release list [--json] | show NAME [--json] | publish [--name NAME]
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any

import yaml

from assets.resources import LakehouseResource, default_recipe_path
from lakehouse.catalog import Catalog
from lakehouse.releases import (
    ReleaseIntegrityError,
    ReleaseNotFoundError,
    list_releases,
    release_manifest,
    review_gate,
)
from lakehouse.review import review_progress
from lakehouse.storage import resolve_root

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEFAULT_PORT = 8765


def _lakehouse(args: argparse.Namespace) -> LakehouseResource:
    lakehouse = LakehouseResource(root=resolve_root(args.root), recipe_path=args.recipe)
    lakehouse.recipe()
    return lakehouse


def review_url(host: str, port: int) -> str:
    """Where the review page answers."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def print_review_status(catalog: Catalog) -> None:
    """How many queued documents wait for a decision, and how to open the review page."""
    progress = review_progress(catalog)
    if progress.queue_version is None:
        return
    print(
        f"review: {progress.pending} of {progress.queued} queued documents wait for review "
        f"(review/queue@{progress.queue_version}); open the page with `funnel review serve` "
        f"({review_url('127.0.0.1', DEFAULT_PORT)})"
    )


def _reviewer_tokens(path: str) -> dict[str, str]:
    """Reviewer name → access token, from a YAML mapping file."""
    from dagster_project.review_app import ReviewServerError

    try:
        with open(path, encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        raise ReviewServerError(f"cannot read the reviewers file {path}: {error}") from error
    if (
        not isinstance(loaded, dict)
        or not loaded
        or not all(
            isinstance(name, str) and isinstance(secret, str) and name and secret
            for name, secret in loaded.items()
        )
    ):
        raise ReviewServerError(
            f"{path} must map each reviewer's name to their access token, e.g. `ana: 6f1c…`"
        )
    return loaded


def command_review_serve(args: argparse.Namespace) -> int:
    """Serve the review page until interrupted."""
    from dagster_project.review_app import (
        ReviewServerError,
        allowed_hosts,
        create_app,
        require_token_off_loopback,
        serve,
    )

    token = args.token or os.environ.get("FUNNEL_REVIEW_TOKEN") or None
    reviewer = args.reviewer or getpass.getuser()
    try:
        reviewers = _reviewer_tokens(args.reviewers) if args.reviewers else {}
        require_token_off_loopback(args.host, [*([token] if token else []), *reviewers.values()])
        hosts = allowed_hosts(args.host, args.allow_host)
        lakehouse = _lakehouse(args)
        app = create_app(
            lakehouse.catalog(), lakehouse.recipe(), reviewer, token, reviewers, hosts=hosts
        )
    except ReviewServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    url = review_url(args.host, args.port)
    who = ", ".join(sorted(reviewers)) if reviewers else reviewer
    print(f"review page for {who}: {url}" + ("?token=…" if token or reviewers else ""), flush=True)
    if args.host in ("0.0.0.0", "::") and not args.allow_host:
        print(
            "note: bound to every address, the page answers only to loopback host names; "
            "pass --allow-host NAME for each name reviewers use to reach it",
            flush=True,
        )
    serve(app, args.host, args.port)
    return EXIT_OK


def command_review_report(args: argparse.Namespace) -> int:
    """Progress of the review, reject and flag reasons, and the release gate's verdict."""
    lakehouse = _lakehouse(args)
    progress = review_progress(lakehouse.catalog())
    min_rate = lakehouse.recipe().recipe.release.min_approval_rate
    verdict = review_gate(progress, min_rate)
    report = progress.as_dict() | {
        "min_approval_rate": min_rate,
        "gate_passed": verdict.passed,
        "problems": verdict.problems,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    if progress.queue_version is None:
        print("nothing to review: review/queue has not been written (run `make run`)")
        return EXIT_OK
    print(
        f"review/queue@{progress.queue_version}: {progress.decided} of {progress.queued} "
        f"decided — {progress.approved} approved, {progress.rejected} rejected, "
        f"{progress.flagged} flagged; approval rate {progress.approval_rate:.3f} "
        f"(gate ≥ {min_rate:g})"
    )
    for title, reasons in (("reject", progress.reject_reasons), ("flag", progress.flag_reasons)):
        for reason, count in reasons.items():
            print(f"  {title:6}  {count:4}  {reason}")
    print("gate: " + ("PASSES" if verdict.passed else "BLOCKS — " + "; ".join(verdict.problems)))
    return EXIT_OK


def _manifest_lines(manifest: dict[str, Any]) -> list[str]:
    lines = [
        f"release {manifest['name']}  published {manifest['published_at']}  "
        f"run {manifest['run_id']}",
        f"recipe {manifest['recipe_sha256'][:12]}  code {manifest['code_version']}  "
        f"manifest {manifest['manifest_sha256'][:12]}",
        f"{manifest['documents']} documents, {manifest['tokens']} tokens "
        f"({manifest['weighted_tokens']:.0f} weighted)",
        "pinned tables:",
        *(f"  {table}@{version}" for table, version in manifest["pinned_tables"].items()),
        "domains:",
        *(
            f"  {item['domain']:12} {item['documents']:6} docs {item['tokens']:9} tokens  "
            f"share {item['achieved_share']:.3f}"
            + (f" (target {item['target_share']:.3f})" if item["target_share"] else "")
            for item in manifest["domains"]
        ),
        f"review: {manifest['review']['approved']} of {manifest['review']['queued']} approved "
        f"(rate {manifest['review']['approval_rate']:.3f}, gate ≥ "
        f"{manifest['review']['min_approval_rate']:g})",
    ]
    return lines


def command_release_list(args: argparse.Namespace) -> int:
    """Every published release."""
    try:
        manifests = [manifest.as_dict() for manifest in list_releases(Catalog(args.root))]
    except ReleaseIntegrityError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(manifests, indent=2))
    elif not manifests:
        print("(no releases)")
    else:
        for manifest in manifests:
            print(
                f"{manifest['name']}  {manifest['published_at']}  {manifest['documents']} docs  "
                f"{manifest['tokens']} tokens  candidate@{manifest['candidate_version']}"
            )
    return EXIT_OK


def command_release_show(args: argparse.Namespace) -> int:
    """One release's manifest."""
    try:
        manifest = release_manifest(Catalog(args.root), args.name).as_dict()
    except (ReleaseNotFoundError, ReleaseIntegrityError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(manifest, indent=2) if args.json else "\n".join(_manifest_lines(manifest)))
    return EXIT_OK


def command_release_publish(args: argparse.Namespace) -> int:
    """Publish the reviewed candidate now (the release sensor does the same by itself)."""
    from assets.release import releasable
    from dagster_project.review_runs import run_release
    from dagster_project.runs import prepare_instance
    from lakehouse.releases import ReleaseGateError

    lakehouse = _lakehouse(args)
    try:
        releasable(lakehouse.catalog(), lakehouse.recipe())
    except ReleaseGateError as refused:
        print(f"error: {refused}", file=sys.stderr)
        return EXIT_FAILED
    with prepare_instance(lakehouse.root) as instance:
        outcome = run_release(instance, lakehouse, args.name or "")
    if args.json:
        print(json.dumps(vars(outcome), indent=2))
    elif outcome.success:
        print(f"published (run {outcome.run_id})")
    else:
        print(f"not published (run {outcome.run_id}): {outcome.error}", file=sys.stderr)
    return EXIT_OK if outcome.success else EXIT_FAILED


def register(commands: Any) -> None:
    """Add `review` and `release` with their subcommands to the `funnel` parser."""

    def group(name: str, help_text: str) -> Any:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        return parser.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")

    def add(subcommands: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
        sub = subcommands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("--recipe", default=default_recipe_path(), help="recipe YAML")
        sub.set_defaults(handler=handler)
        return sub

    review = group("review", "the human review of the release candidate")
    serve = add(review, "serve", command_review_serve, "serve the review page (127.0.0.1)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind")
    serve.add_argument(
        "--token", help="access token (FUNNEL_REVIEW_TOKEN); off 127.0.0.1 required, 16+ chars"
    )
    serve.add_argument("--reviewer", help="who decides (default: the login name)")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name reviewers reach the page by (repeatable); others get 403",
    )
    serve.add_argument(
        "--reviewers",
        metavar="FILE",
        help="YAML mapping reviewer name → access token: several reviewers on one server, each "
        "decision recorded under the name whose token the browser carries",
    )
    add(review, "report", command_review_report, "review progress and aggregated reasons")
    release = group("release", "published releases and their manifests")
    add(release, "list", command_release_list, "every published release")
    show = add(release, "show", command_release_show, "one release's manifest")
    show.add_argument("name", help="release name")
    publish = add(release, "publish", command_release_publish, "publish the reviewed candidate")
    publish.add_argument("--name", help="release name (default: <recipe>-c<candidate version>)")
