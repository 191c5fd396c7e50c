import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from assets.resources import LakehouseResource
from dagster_project.cli import main
from dagster_project.review_app import (
    TOKEN_COOKIE,
    ReviewServerError,
    allowed_hosts,
    create_app,
    is_loopback,
    require_token_off_loopback,
)
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import record_rejections
from lakehouse.plans import list_plans, reject_plan
from lakehouse.recipe import load_recipe
from lakehouse.review import StaleQueueError, blocklist, record_decision, review_queue
from lakehouse.storage import PROJECT_DIR
from lakehouse.tables import REVIEW_DECISIONS, REVIEW_QUEUE
from tests.scored_documents import curate_and_queue, write_review_recipe

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """The recipe whose sources and mixture match the scored rows."""
    return write_review_recipe(tmp_path, landing)


@pytest.fixture
def queued(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, catalog: Catalog, commit: CommitInfo
) -> list[str]:
    """Scored documents curated and queued for review; the queued doc ids in queue order."""
    return curate_and_queue(instance, lakehouse, catalog, commit)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def review_server(root: Path, recipe_path: Path, queued: list[str]) -> Iterator[str]:
    """`funnel review serve` in its own process on a free loopback port; yields its URL."""
    port = _free_port()
    command = [sys.executable, "-m", "dagster_project.cli", "--root", str(root), "review"]
    command += ["serve", "--recipe", str(recipe_path), "--port", str(port), "--reviewer", "ana"]
    server = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=os.environ.copy(), stdout=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                if requests.get(url + "api/progress", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                assert server.poll() is None, "the review server exited"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def page() -> Iterator[Page]:
    """A page of Debian's headless chromium, driven by Playwright."""
    assert CHROMIUM.exists(), "make installs Debian's chromium for the browser tests"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser.new_page()
        browser.close()


def test_reviewer_approves_rejects_and_flags_on_the_live_page(
    review_server: str, page: Page, catalog: Catalog, queued: list[str], tmp_path: Path
) -> None:
    page.goto(review_server)
    expect(page.locator("#doc-id")).to_have_text(queued[0])
    expect(page.locator("#progress-text")).to_have_text("0 of 12 decided")
    expect(page.locator("#reviewer")).to_have_text("ana")
    # Provenance: the raw file and record, and every stage's outcome, from `trace`.
    expect(page.locator("#trace")).to_contain_text("curate")
    expect(page.locator("#trace")).to_contain_text("kept")
    expect(page.locator("#scores")).to_contain_text("quality score")

    page.keyboard.press("a")  # approve with the keyboard, on to the next document
    expect(page.locator("#doc-id")).to_have_text(queued[1])
    expect(page.locator("#progress-text")).to_have_text("1 of 12 decided")

    page.fill("#reason", "boilerplate")
    page.click("#reject")
    expect(page.locator("#doc-id")).to_have_text(queued[2])

    page.keyboard.press("r")  # no reason yet: the reason field gets the focus, nothing is sent
    expect(page.locator("#reason")).to_be_focused()
    page.keyboard.type("machine translated")
    page.keyboard.press("Enter")
    expect(page.locator("#doc-id")).to_have_text(queued[3])

    page.fill("#note", "license header missing")
    page.keyboard.press("Escape")
    page.locator("body").click()
    page.keyboard.press("f")
    expect(page.locator("#doc-id")).to_have_text(queued[4])

    page.click("#reject")  # a rejection without a reason is refused and says why
    expect(page.locator("#error")).to_have_text("a rejection needs a reason")
    expect(page.locator("#doc-id")).to_have_text(queued[4])
    expect(page.locator("#reject-reasons")).to_contain_text("boilerplate")
    expect(page.locator("#reject-reasons")).to_contain_text("machine translated")

    page.select_option("#block-kind", "url")
    page.fill("#block-value", "https://spam.example/")
    page.click("#block-add")
    expect(page.locator("#blocklist")).to_contain_text("https://spam.example/")

    page.keyboard.press("k")  # back to the flagged document: its latest decision is shown
    expect(page.locator("#doc-id")).to_have_text(queued[3])
    expect(page.locator("#latest")).to_contain_text("flag")
    page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
    assert (tmp_path / "review.png").stat().st_size > 10_000

    decisions = sorted(catalog.read(REVIEW_DECISIONS).to_pylist(), key=lambda r: r["decided_at"])
    assert [(row["doc_id"], row["decision"], row["reason"]) for row in decisions] == [
        (queued[0], "approve", None),
        (queued[1], "reject", "boilerplate"),
        (queued[2], "reject", "machine translated"),
        (queued[3], "flag", None),
    ]
    assert decisions[3]["note"] == "license header missing"
    assert {row["reviewer"] for row in decisions} == {"ana"}
    assert {row["queue_version"] for row in decisions} == {0}
    (blocked,) = blocklist(catalog)
    assert (blocked["kind"], blocked["value"], blocked["added_by"]) == (
        "url",
        "https://spam.example/",
        "ana",
    )

    page.goto(review_server + "report")
    expect(page.locator("#gate")).to_contain_text("8 of 12 queued documents are not decided")

    # A re-curate replaces the queue while a page of the old one is open: the decision is
    # refused, naming the newer queue, and the position is not decided for another document.
    page.goto(review_server + "doc/5")
    expect(page.locator("#doc-id")).to_have_text(queued[5])
    _requeue_reversed(catalog)
    page.click("#approve")
    expect(page.locator("#error")).to_contain_text("review/queue is now at version 1")
    expect(page.locator("#doc-id")).to_have_text(queued[-6])
    assert catalog.read(REVIEW_DECISIONS).num_rows == 4


def test_plans_tab_shows_patches_and_records_who_approves_or_rejects(
    review_server: str,
    page: Page,
    root: Path,
    recipe_path: Path,
    catalog: Catalog,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = []
    for request in ("require at least 60 words", "keep German too"):
        argv = ["--root", str(root), "plan", "--recipe", str(recipe_path), "--json", request]
        assert main(argv) == 0
        ids.append(json.loads(capsys.readouterr().out)["plan_id"])
    page.goto(review_server)
    page.click("#plans-tab")
    first, second = (page.locator(f"#plan-{plan_id}") for plan_id in ids)
    expect(first).to_contain_text("clean.gopher_quality.min_doc_words")
    expect(first).to_contain_text("60")
    expect(first.locator(".dry-run")).to_contain_text("Dry run not available")
    expect(second).to_contain_text("clean.language.allow")
    first.locator(".approve-plan").click()
    expect(page.locator(f"#plan-{ids[0]} .plan-status")).to_have_text("approved")
    expect(page.locator(f"#plan-{ids[0]}")).to_contain_text("by ana")
    # Someone else rejected the second plan while this page was open: approving it is refused.
    reject_plan(catalog, ids[1], "bo")
    page.locator(f"#plan-{ids[1]} .approve-plan").click()
    expect(page.locator("#error")).to_contain_text("is rejected")
    statuses = {plan.plan_id: (plan.status, plan.by) for plan in list_plans(catalog)}
    assert statuses == {ids[0]: ("approved", "ana"), ids[1]: ("rejected", "bo")}
    missing = requests.get(review_server + "plans/plan-nothex/decision", timeout=10)
    assert missing.status_code in (404, 405)


def test_dropped_tab_shows_examples_per_rule_with_value_and_threshold(
    review_server: str, page: Page, catalog: Catalog, queued: list[str], commit: CommitInfo
) -> None:
    rows = [
        {"doc_id": doc, "rule": "gopher_short_doc", "value": 12.0, "threshold": 50.0}
        for doc in queued[:4]
    ] + [{"doc_id": queued[4], "rule": "exact_duplicate", "detail": f"duplicate_of {queued[5]}"}]
    table = pa.Table.from_pylist(
        [{"value": None, "threshold": None, "detail": None} | row for row in rows]
    )
    record_rejections(catalog, "clean", "b1", table, commit)
    first = sorted(queued[:4])[0]  # examples are shown in doc id order
    text = catalog.read("bronze/documents", where={"doc_id": first})["text"][0].as_py()
    page.goto(review_server)
    page.click("#dropped-tab")
    short = page.locator("#rule-clean-gopher_short_doc")
    expect(short).to_contain_text("4 dropped")
    expect(short.locator(".value").first).to_have_text("12.0")
    expect(short.locator(".threshold").first).to_have_text("50.0")
    expect(short.locator("pre.text").first).to_contain_text(text[:40])
    expect(short.locator("pre.text")).to_have_count(3)  # a few examples, not every document
    expect(page.locator("#rule-clean-exact_duplicate")).to_contain_text(f"duplicate_of {queued[5]}")


def _requeue_reversed(catalog: Catalog) -> int:
    """A new review/queue version holding the same documents in reverse order (a re-curate)."""
    rows = review_queue(catalog).to_pylist()
    for row, position in zip(rows, reversed(range(len(rows))), strict=True):
        row["position"] = position
    table = pa.Table.from_pylist(rows, REVIEW_QUEUE.schema)
    return catalog.write(REVIEW_QUEUE, table, _commit(), overwrite=True)


def test_a_decision_on_a_replaced_queue_is_refused(
    catalog: Catalog, lakehouse: LakehouseResource, queued: list[str]
) -> None:
    client = create_app(catalog, lakehouse.recipe(), "ana").test_client()
    seen = _form(client, position=2)
    assert (seen["doc_id"], seen["queue_version"]) == (queued[2], "0")
    assert _requeue_reversed(catalog) == 1
    stale = client.post("/doc/2/decision", data={"decision": "approve"} | seen)
    assert stale.status_code == 409
    assert "review/queue is now at version 1" in stale.get_data(as_text=True)
    assert not catalog.exists(REVIEW_DECISIONS)
    # The form of the new queue names the document now at position 2: it is the one decided.
    fresh = _form(client, position=2)
    assert fresh["doc_id"] == queued[-3]
    posted = client.post("/doc/2/decision", data={"decision": "approve"} | fresh)
    assert posted.status_code == 302
    (row,) = catalog.read(REVIEW_DECISIONS).to_pylist()
    assert (row["doc_id"], row["queue_version"]) == (queued[-3], 1)
    with pytest.raises(StaleQueueError, match=r"now at version 1.*made on version 0"):
        record_decision(catalog, queued[0], "approve", "ana", _commit(), queue_version=0)


def _commit() -> CommitInfo:
    return CommitInfo(run_id="t", stage="review", recipe_sha256="0" * 64, code_version="t")


def test_a_token_guards_every_request_when_one_is_set(
    catalog: Catalog, lakehouse: LakehouseResource, queued: list[str]
) -> None:
    app = create_app(catalog, lakehouse.recipe(), "ana", token="s3cret-token")
    client = app.test_client()
    assert client.get("/").status_code == 401
    assert client.get("/doc/0").status_code == 401
    assert client.get("/doc/0?token=wrong").status_code == 401
    assert client.get("/api/progress", headers={"Authorization": "Bearer s3cret"}).status_code == (
        401
    )
    headers = {"Authorization": "Bearer s3cret-token"}
    assert client.get("/api/progress", headers=headers).json["queued"] == 12
    # ?token= once: the page keeps it in an HTTP-only cookie and drops it from the address.
    opened = client.get("/doc/0?token=s3cret-token")
    assert opened.status_code == 302 and opened.headers["Location"] == "/doc/0"
    assert "HttpOnly" in opened.headers["Set-Cookie"]
    assert client.get("/doc/0").status_code == 200
    # A form without the server's CSRF token is refused; nothing is written.
    forged = client.post("/doc/0/decision", data={"decision": "approve"})
    assert forged.status_code == 403
    assert not catalog.exists(REVIEW_DECISIONS)


def test_each_reviewer_token_records_its_own_name(
    catalog: Catalog, lakehouse: LakehouseResource, queued: list[str]
) -> None:
    reviewers = {"ana": "token-of-ana", "ben": "token-of-ben"}
    app = create_app(catalog, lakehouse.recipe(), "server", reviewer_tokens=reviewers)
    client = app.test_client()
    assert client.get("/doc/0", headers={"Authorization": "Bearer server"}).status_code == 401
    for position, (name, secret) in enumerate(reviewers.items()):
        headers = {"Authorization": f"Bearer {secret}"}
        page = client.get(f"/doc/{position}", headers=headers).get_data(as_text=True)
        assert f'<strong id="reviewer">{name}</strong>' in page
        form = {"decision": "approve"} | _form(client, headers, position)
        posted = client.post(f"/doc/{position}/decision", data=form, headers=headers)
        assert posted.status_code == 302
    decided = {row["doc_id"]: row["reviewer"] for row in catalog.read(REVIEW_DECISIONS).to_pylist()}
    assert decided == {queued[0]: "ana", queued[1]: "ben"}


def test_reviewer_tokens_must_be_distinct_and_the_file_well_formed(
    catalog: Catalog,
    lakehouse: LakehouseResource,
    root: Path,
    recipe_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(ReviewServerError, match="two reviewers share one access token"):
        create_app(catalog, lakehouse.recipe(), "x", reviewer_tokens={"a": "same", "b": "same"})
    argv = ["--root", str(root), "review", "serve", "--recipe", str(recipe_path)]
    listing = tmp_path / "reviewers.yaml"
    listing.write_text("- ana\n- ben\n")
    assert main([*argv, "--reviewers", str(listing)]) == 2
    assert "must map each reviewer's name to their access token" in capsys.readouterr().err
    assert main([*argv, "--reviewers", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the reviewers file" in capsys.readouterr().err


def test_serving_off_loopback_needs_a_token(
    root: Path, recipe_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.7")
    argv = ["--root", str(root), "review", "serve", "--recipe", str(recipe_path)]
    assert main([*argv, "--host", "0.0.0.0"]) == 2
    assert "refusing to serve the review page on 0.0.0.0 without an access token" in (
        capsys.readouterr().err
    )


def _form(client: Any, headers: dict[str, str] | None = None, position: int = 0) -> dict[str, str]:
    """The hidden fields of a document page's decision form: csrf, doc_id, queue_version."""
    page = client.get(f"/doc/{position}", headers=headers or {}).get_data(as_text=True)
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert {"csrf", "doc_id", "queue_version"} <= set(fields)
    return {name: fields[name] for name in ("csrf", "doc_id", "queue_version")}


def test_requests_for_another_host_are_refused(
    catalog: Catalog, lakehouse: LakehouseResource, queued: list[str]
) -> None:
    hosts = allowed_hosts("127.0.0.1", ["review.example.org"])
    client = create_app(catalog, lakehouse.recipe(), "ana", hosts=hosts).test_client()
    for host in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "Review.Example.org"):
        assert client.get("/doc/0", headers={"Host": host}).status_code == 200, host
    # DNS rebinding: a name the attacker controls, resolving to 127.0.0.1.
    for host in ("attacker.example:8765", "127.0.0.1.attacker.example", "", "[bad"):
        refused = client.get("/doc/0", headers={"Host": host})
        assert refused.status_code == 403, host
    form = _form(client)
    for origin in ("http://attacker.example:8765", "null"):
        for header in ("Origin", "Referer"):
            posted = client.post(
                "/doc/0/decision",
                data={"decision": "approve"} | form,
                headers={header: origin},
            )
            assert posted.status_code == 403, (header, origin)
    assert not catalog.exists(REVIEW_DECISIONS)
    same_origin = {"Origin": "http://127.0.0.1:8765"}
    posted = client.post(
        "/doc/0/decision", data={"decision": "approve"} | form, headers=same_origin
    )
    assert posted.status_code == 302
    assert catalog.read(REVIEW_DECISIONS).num_rows == 1
    # Bound to every address, only loopback and the names given are hosts of this server.
    assert allowed_hosts("0.0.0.0") == {"127.0.0.1", "localhost", "::1"}
    assert "192.0.2.7" in allowed_hosts("192.0.2.7")


def test_every_bad_parameter_gets_a_4xx(
    catalog: Catalog, lakehouse: LakehouseResource, queued: list[str]
) -> None:
    app = create_app(catalog, lakehouse.recipe(), "ana", token="a-token-of-24-characters")
    client = app.test_client()
    headers = {"Authorization": "Bearer a-token-of-24-characters"}
    decision_form = _form(client, headers)
    csrf = decision_form["csrf"]
    form = {"csrf": csrf, "kind": "url", "value": "https://spam.example/"}
    for position in ("²", "٣", "-1", "1.5", "x", "", "12", "9" * 5000):
        posted = client.post("/blocklist", data=form | {"position": position}, headers=headers)
        assert posted.status_code == 400, position
    assert not catalog.exists(REVIEW_DECISIONS)
    for path in ("/doc/²", "/doc/٣", "/doc/-1", "/doc/12", "/doc/" + "9" * 40, "/doc/x"):
        assert client.get(path, headers=headers).status_code == 404, path
    assert client.post("/doc/²/decision", data={"csrf": csrf}, headers=headers).status_code == 404
    assert client.post("/doc/12/decision", data={"csrf": csrf}, headers=headers).status_code == 404
    bad_forms = [
        {"decision": "maybe"},
        {"decision": "reject"},
        {"decision": "approve", "note": "n" * 5000},
        {"decision": "flag", "reason": "\x00" * 3000},
        {"decision": "approve", "doc_id": ""},
        {"decision": "approve", "doc_id": "../" + "0" * 29},
        {"decision": "approve", "doc_id": decision_form["doc_id"] + "\n"},
        {"decision": "approve", "queue_version": ""},
        {"decision": "approve", "queue_version": "²"},
        {"decision": "approve", "queue_version": "-1"},
        {"decision": "approve", "queue_version": "9" * 40},
    ]
    for bad in bad_forms:
        posted = client.post("/doc/0/decision", data=decision_form | bad, headers=headers)
        assert posted.status_code == 400, bad
    assert not catalog.exists(REVIEW_DECISIONS)
    # Secrets with characters hmac cannot compare as text are just wrong, never a crash.
    assert client.post("/doc/0/decision", data={"csrf": "é"}, headers=headers).status_code == 403
    assert client.get("/doc/0", headers={"Authorization": "Bearer é"}).status_code == 401
    assert client.get("/doc/0?token=%C3%A9").status_code == 401
    client.set_cookie(TOKEN_COOKIE, "é")
    assert client.get("/doc/0").status_code == 401
    huge = {"csrf": csrf, "decision": "approve", "note": "n" * 200_000}
    assert client.post("/doc/0/decision", data=huge, headers=headers).status_code == 413
    assert not catalog.exists(REVIEW_DECISIONS)


def test_off_loopback_tokens_must_be_long_and_not_blank(
    root: Path, recipe_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--root", str(root), "review", "serve", "--recipe", str(recipe_path)]
    for token in ("short-token", " " * 20, "  fifteen-chars  "):
        assert main([*argv, "--host", "0.0.0.0", "--token", token]) == 2
        error = capsys.readouterr().err
        assert "shorter than 16 characters" in error and error.count("\n") == 1
    require_token_off_loopback("0.0.0.0", ["x" * 16])
    require_token_off_loopback("127.0.0.1", [])
    with pytest.raises(ReviewServerError, match="shorter than 16"):
        require_token_off_loopback("192.0.2.7", ["x" * 16, "short"])
    with pytest.raises(ReviewServerError, match="access token is blank"):
        create_app(Catalog(str(root)), load_recipe(recipe_path), "ana", token="   ")
