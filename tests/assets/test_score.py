import hashlib
import json
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from assets.partitions import BATCH_PARTITIONS_NAME
from assets.resources import LakehouseResource, TorchResource
from assets.runner import StageInputError
from assets.score import (
    DOMAIN_CLASSIFIER_KEY,
    GOLD_EMBEDDINGS_KEY,
    GOLD_SCORED_DOCUMENTS_KEY,
    QUALITY_CLASSIFIER_KEY,
    ScoreInputError,
    domain_classifier,
    quality_classifier,
    score,
)
from dagster_project.cli import main
from dagster_project.runs import pending_batches, run_batch, train_models
from gpu_jobs.embedding_codec import embeddings_from_bytes
from gpu_jobs.heads import HeadTrainingError, roc_auc
from lakehouse.artifacts import current_model
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import ledger_entries
from lakehouse.lineage import read_events
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    GOLD_EMBEDDINGS,
    GOLD_SCORED_DOCUMENTS,
    OPS_REJECTIONS,
    SILVER_DECONTAMINATED_DOCUMENTS,
)
from tests.gpu_jobs.conftest import sample_texts
from tests.landing_files import INGEST_ASSETS, write_jsonl_gz
from tests.lineage_schemas import registry, validation_errors
from tests.recorded_outcomes import record_written

MODEL_ASSETS = [QUALITY_CLASSIFIER_KEY, DOMAIN_CLASSIFIER_KEY]
SCORE_ASSETS = [GOLD_EMBEDDINGS_KEY, GOLD_SCORED_DOCUMENTS_KEY]
RECIPE = """\
name: score_test
landing: {landing}
sources:
  - {{name: manpages, path: "manpages/*.jsonl.gz", format: jsonl, domain: reference, license: MIT}}
  - {{name: fortunes, path: "fortunes/*.jsonl.gz", format: jsonl, domain: prose, license: MIT}}
  - {{name: code, path: "code/*.jsonl.gz", format: jsonl, domain: code, license: MIT}}
score:
  device: cpu
  max_tokens: 64
  batch_tokens: 1024
  quality: {{reference_sources: [manpages], max_references: 12, negative_samples: 24, epochs: 60}}
  domain: {{samples_per_domain: 8, epochs: 60}}
  semdedup: {{clusters: 4, cosine_threshold: 0.95}}
"""
PER_SOURCE = 10


def _one_word_changed(text: str) -> str:
    words = text.split(" ")
    middle = len(words) // 2
    words[middle] = "changed" if words[middle] != "changed" else "altered"
    return " ".join(words)


@pytest.fixture
def recipe_path(tmp_path: Path, landing: Path) -> Path:
    """Three sample sources of ten documents, two fortunes repeated with one word changed."""
    for source, sample in (
        ("manpages", "manpages_en"),
        ("fortunes", "fortunes_en"),
        ("code", "stdlib_python"),
    ):
        texts = sample_texts(sample, PER_SOURCE)
        if source == "fortunes":
            texts += [_one_word_changed(texts[0]), _one_word_changed(texts[1])]
        records = [{"id": f"{source}{i}", "text": text} for i, text in enumerate(texts)]
        write_jsonl_gz(landing / source / "part-0.jsonl.gz", records)
    path = tmp_path / "score.yaml"
    path.write_text(RECIPE.format(landing=landing))
    return path


def _silver_from_bronze(catalog: Catalog, batch_id: str) -> int:
    """silver/decontaminated_documents for the batch: its bronze rows, as if clean, dedup and
    decontaminate kept all."""
    bronze = catalog.read(BRONZE_DOCUMENTS, where={"batch_id": batch_id})
    rows = bronze.num_rows
    silver = {name: bronze[name] for name in ("doc_id", "batch_id", "source", "domain")}
    silver |= {name: bronze[name] for name in ("license", "source_uri", "source_record")}
    silver |= {
        "source_id": bronze["source_id"],
        "text": bronze["text"],
        "text_sha256": bronze["text_sha256"],
        "text_chars": pa.array([len(text) for text in bronze["text"].to_pylist()], pa.int64()),
        "bronze_text_sha256": bronze["text_sha256"],
        "lang": pa.array(["en"] * rows),
        "lang_score": pa.array([0.99] * rows),
    }
    for kind in ("email", "phone", "ipv4", "ipv6", "credit_card"):
        silver[f"pii_{kind}"] = pa.array([0] * rows, pa.int32())
    for field in SILVER_DECONTAMINATED_DOCUMENTS.schema:
        if field.name not in silver:
            silver[field.name] = pa.nulls(rows, field.type)
    commit = CommitInfo(
        run_id="silver-fixture", stage="decontaminate", recipe_sha256="0", code_version="t"
    )
    version = catalog.write(
        SILVER_DECONTAMINATED_DOCUMENTS, pa.table(silver), commit, replace={"batch_id": batch_id}
    )
    record_written(
        catalog, "decontaminate", SILVER_DECONTAMINATED_DOCUMENTS, batch_id, version, commit
    )
    return rows


def _score_entry(outcome):  # type: ignore[no-untyped-def]
    assert outcome.success, outcome.error
    (entry,) = [stage for stage in outcome.stages if stage.stage == "score"]
    return entry


def _metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict:
    event = instance.get_latest_materialization_event(key)
    assert event is not None and event.asset_materialization is not None
    return {
        name: getattr(value, "value", value)
        for name, value in event.asset_materialization.metadata.items()
    }


def test_score_stage_scores_dedups_and_reuses_embeddings_on_retry(
    instance: dg.DagsterInstance,
    lakehouse: LakehouseResource,
    landing: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    assert run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS).success
    catalog = lakehouse.catalog()
    rows_in = _silver_from_bronze(catalog, batch)
    assert rows_in == 3 * PER_SOURCE + 2

    outcome = run_batch(instance, lakehouse, batch, assets=MODEL_ASSETS + SCORE_ASSETS)
    entry = _score_entry(outcome)
    for check in ("conservation", "contract"):
        assert outcome.checks[f"gold/scored_documents:{check}"] is True
    assert outcome.checks["gold/embeddings:contract"] is True
    assert (entry.rows_in, entry.rows_rejected, entry.rows_out) == (rows_in, 2, rows_in - 2)

    # The two planted near-copies are semantic duplicates of their originals.
    bronze = catalog.read(BRONZE_DOCUMENTS, where={"batch_id": batch})
    by_source_id = dict(
        zip(bronze["source_id"].to_pylist(), bronze["doc_id"].to_pylist(), strict=True)
    )
    rejected = catalog.read(OPS_REJECTIONS, where={"batch_id": batch, "stage": "score"})
    scored = catalog.read(GOLD_SCORED_DOCUMENTS, where={"batch_id": batch})
    kept = set(scored["doc_id"].to_pylist())
    pairs = {
        frozenset({by_source_id["fortunes0"], by_source_id[f"fortunes{PER_SOURCE}"]}),
        frozenset({by_source_id["fortunes1"], by_source_id[f"fortunes{PER_SOURCE + 1}"]}),
    }
    for row in rejected.to_pylist():
        keeper = json.loads(row["detail"])["duplicate_of"]
        assert row["rule"] == "semantic_duplicate" and row["threshold"] == 0.95
        assert row["value"] > 0.95 and keeper in kept and row["doc_id"] not in kept
        assert frozenset({keeper, row["doc_id"]}) in pairs
    assert scored.num_rows == rows_in - 2

    scores = scored["quality_score"].to_pylist()
    assert all(0 <= value <= 1 for value in scores)
    assert set(scored["domain"].to_pylist()) <= {"reference", "prose", "code"}
    assert scored["source_domain"].to_pylist().count("code") == PER_SOURCE
    # The reference source is what the quality head learnt as good.
    reference = [
        s
        for s, d in zip(scores, scored["source_domain"].to_pylist(), strict=True)
        if d == "reference"
    ]
    others = [
        s
        for s, d in zip(scores, scored["source_domain"].to_pylist(), strict=True)
        if d != "reference"
    ]
    # (The hand-written paragraphs are positives too, so a fortune may score above a page.)
    assert roc_auc(reference + others, [True] * len(reference) + [False] * len(others)) > 0.9
    embeddings = catalog.read(GOLD_EMBEDDINGS, where={"batch_id": batch})
    assert embeddings.num_rows == rows_in
    vectors = embeddings_from_bytes(embeddings["embedding"])
    assert float((vectors.norm(dim=1) - 1).abs().max()) < 1e-2

    # Materialization metadata: histogram PNG, domain distribution, head hashes.
    metadata = _metadata(instance, GOLD_SCORED_DOCUMENTS_KEY)
    assert metadata["quality_histogram"].startswith(
        "![quality score histogram](data:image/png;base64,"
    )
    assert sum(metadata["domain_distribution"].values()) == rows_in - 2
    assert metadata["documents_encoded"] == rows_in and metadata["embeddings_reused"] == 0
    for key, name in (
        (QUALITY_CLASSIFIER_KEY, "quality_classifier"),
        (DOMAIN_CLASSIFIER_KEY, "domain_classifier"),
    ):
        head = _metadata(instance, key)
        current = current_model(lakehouse.root, name)
        assert current is not None and head["sha256"] == current.artifact.sha256
        artifact = current.artifact
        assert head["model_version"] == current.model_version == artifact.sha256[:12]
        # The named, pinned training set: the ingested batch at its bronze version.
        bronze_version = catalog.history(BRONZE_DOCUMENTS, limit=1)[0].version
        assert head["training_set"]["bronze/documents"] == {"batches": {batch: bronze_version}}
        assert current.record["training_set"] == head["training_set"]
        data = Path(artifact.uri).read_bytes()
        assert hashlib.sha256(data).hexdigest() == artifact.sha256
        assert metadata["head_sha256"][name] == artifact.sha256
    # The quality head is measured on held-out documents and on sources it never saw; the
    # measures are in the metadata and in the artifact.
    quality_head = _metadata(instance, QUALITY_CLASSIFIER_KEY)
    for metric in ("held_out_auc", "held_out_ece", "unseen_source_auc"):
        assert 0 <= quality_head[metric] <= 1
        assert quality_head["training"][metric] == pytest.approx(quality_head[metric])
    # The held-out share is a handful of documents chosen by their doc ids, which hash the
    # landing path (a new temporary folder every session): its AUC moves in coarse steps from
    # one session to the next (0.625 to 1.0 seen). Better than chance is what holds; the head's
    # quality is asserted on every score above.
    assert quality_head["held_out_auc"] > 0.5
    assert quality_head["training"]["unseen_prose"] == 10
    assert quality_head["training"]["unseen_junk"] == 16
    assert quality_head["training_set"]["handwritten_prose"]["paragraphs_trained"] == 20
    assert "held_out_auc" not in _metadata(instance, DOMAIN_CLASSIFIER_KEY)
    history = catalog.history(GOLD_SCORED_DOCUMENTS, limit=1)[0]
    assert history.stage == "score" and history.run_id == outcome.run_id
    assert set(history.input_versions) == {
        "silver/decontaminated_documents",
        "bronze/documents",
        "ops/ledger",
    }
    # The heads applied are pinned by sha256 in the Delta commit and in the lineage event.
    heads = metadata["head_sha256"]
    assert {artifact.name: artifact.sha256 for artifact in history.artifacts} == heads
    (complete,) = [
        event
        for event in read_events(lakehouse.root)
        if event["job"]["name"] == "score" and event["eventType"] == "COMPLETE"
    ]
    assert validation_errors(complete, registry()) == []
    versions = {
        Path(dataset["name"]).parent.name: dataset["facets"]["version"]["datasetVersion"]
        for dataset in complete["inputs"]
        if "/_models/" in dataset["name"]
    }
    assert versions == heads
    # Training is a job of its own: the pinned bronze versions in, the model artifact out.
    for name in heads:
        (trained,) = [
            event
            for event in read_events(lakehouse.root)
            if event["job"]["name"] == f"train/{name}" and event["eventType"] == "COMPLETE"
        ]
        assert validation_errors(trained, registry()) == []
        inputs = sorted(Path(item["name"]).name for item in trained["inputs"])
        expected = ["documents", "ledger"]
        assert inputs == (
            sorted([*expected, "reference_prose"]) if name == "quality_classifier" else expected
        )
        (model,) = trained["outputs"]
        assert "/_models/" in model["name"]
        assert model["facets"]["version"]["datasetVersion"] == heads[name]

    # A retry after losing three embeddings encodes only those three, and decides the same.
    remaining = embeddings.sort_by("doc_id").slice(3)
    commit = CommitInfo(run_id="lose-three", stage="test", recipe_sha256="0", code_version="t")
    catalog.write(GOLD_EMBEDDINGS, remaining, commit, replace={"batch_id": batch})
    retried = _score_entry(run_batch(instance, lakehouse, batch, assets=SCORE_ASSETS, force=True))
    assert (retried.rows_out, retried.rows_rejected) == (entry.rows_out, entry.rows_rejected)
    again = _metadata(instance, GOLD_SCORED_DOCUMENTS_KEY)
    assert again["documents_encoded"] == 3 and again["embeddings_reused"] == rows_in - 3
    rescored = catalog.read(GOLD_SCORED_DOCUMENTS, where={"batch_id": batch}).sort_by("doc_id")
    before = scored.sort_by("doc_id")
    assert rescored["doc_id"].to_pylist() == before["doc_id"].to_pylist()
    assert rescored["quality_score"].to_pylist() == pytest.approx(
        before["quality_score"].to_pylist(), abs=1e-3
    )
    assert catalog.read(GOLD_EMBEDDINGS).num_rows == rows_in
    assert len(ledger_entries(catalog, stage="score")) == 1
    versions = {metadata["quality_model_version"], metadata["domain_model_version"]}
    assert versions == {heads["quality_classifier"][:12], heads["domain_classifier"][:12]}
    assert set(rescored["quality_model_version"].to_pylist()) == {heads["quality_classifier"][:12]}

    # A later batch repeating a kept document: the earlier batch's document wins.
    manpages = sample_texts("manpages_en", PER_SOURCE + 1)
    records = [
        {"id": "copy-of-3", "text": _one_word_changed(manpages[3])},
        {"id": "new", "text": manpages[PER_SOURCE]},
    ]
    write_jsonl_gz(landing / "manpages" / "part-1.jsonl.gz", records)
    (later,) = set(pending_batches(instance, lakehouse)) - {batch}
    assert run_batch(instance, lakehouse, later, assets=INGEST_ASSETS).success
    assert _silver_from_bronze(catalog, later) == 2
    scored_before = catalog.version(GOLD_SCORED_DOCUMENTS)
    later_outcome = run_batch(instance, lakehouse, later, assets=SCORE_ASSETS)
    later_entry = _score_entry(later_outcome)
    assert (later_entry.rows_in, later_entry.rows_out, later_entry.rows_rejected) == (2, 1, 1)
    (across,) = catalog.read(
        OPS_REJECTIONS, where={"batch_id": later, "stage": "score"}
    ).to_pylist()
    assert json.loads(across["detail"]) == {"duplicate_of": by_source_id["manpages3"]}
    assert across["value"] > 0.95
    assert _metadata(instance, GOLD_SCORED_DOCUMENTS_KEY)["semantic_anchors"] == rows_in - 2
    history = catalog.history(GOLD_SCORED_DOCUMENTS, limit=1)[0]
    assert history.input_versions["gold/scored_documents"] == scored_before
    unchanged = catalog.read(GOLD_SCORED_DOCUMENTS, where={"batch_id": batch}).sort_by("doc_id")
    assert unchanged["doc_id"].to_pylist() == before["doc_id"].to_pylist()

    # Scoring the second batch did not retrain: both batches share the model versions.
    trainings = instance.get_latest_materialization_event(QUALITY_CLASSIFIER_KEY)
    assert trainings is not None and trainings.run_id == outcome.run_id
    both = catalog.read(GOLD_SCORED_DOCUMENTS)
    for head, column in (
        ("quality_classifier", "quality_model_version"),
        ("domain_classifier", "domain_model_version"),
    ):
        assert set(both[column].to_pylist()) == {heads[head][:12]}
    assert later_outcome.checks["gold/scored_documents:scores_current_model"] is True
    assert _metadata(instance, GOLD_SCORED_DOCUMENTS_KEY)["stale_batches"] == {}

    # Retraining on changed training data (the later batch's references) makes a new model;
    # the batches scored before are reported stale until scored again.
    retrained = train_models(instance, lakehouse)
    assert retrained.success, retrained.error
    quality = current_model(lakehouse.root, "quality_classifier")
    assert quality is not None and quality.model_version != heads["quality_classifier"][:12]
    assert set(quality.record["training_set"]["bronze/documents"]["batches"]) == {batch, later}
    # The batch's score is out of date with the new model: a plain run scores it again.
    rescored_later = run_batch(instance, lakehouse, later, assets=SCORE_ASSETS)
    assert _score_entry(rescored_later).run_id == rescored_later.run_id
    rows = catalog.read(GOLD_SCORED_DOCUMENTS, where={"batch_id": later})
    assert set(rows["quality_model_version"].to_pylist()) == {quality.model_version}
    assert rescored_later.checks["gold/scored_documents:scores_current_model"] is False
    assert "gold/scored_documents:scores_current_model" in rescored_later.warnings
    stale = _metadata(instance, GOLD_SCORED_DOCUMENTS_KEY)["stale_batches"]
    assert set(stale) == {batch}
    assert stale[batch]["quality_classifier"] == heads["quality_classifier"][:12]
    capsys.readouterr()
    assert main(["--root", lakehouse.root, "models", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert set(status["stale_batches"]) == {batch}
    assert {row["model"]: row["version"] for row in status["models"]}["quality_classifier"] == (
        quality.model_version
    )
    assert main(["--root", lakehouse.root, "models", "status"]) == 0
    assert f"stale: batch {batch} scored by quality_classifier" in capsys.readouterr().out


def test_score_before_decontaminate_fails_saying_what_to_run(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    instance.add_dynamic_partitions(BATCH_PARTITIONS_NAME, ["b1"])
    resources = {"lakehouse": lakehouse, "torch_runtime": TorchResource(device="cpu")}
    with pytest.raises(StageInputError, match="no recorded decontaminate outcome for batch b1"):
        dg.materialize([score], partition_key="b1", instance=instance, resources=resources)
    assert lakehouse.catalog().version(GOLD_SCORED_DOCUMENTS) is None


def test_score_without_trained_heads_says_which_to_materialize(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource
) -> None:
    (batch,) = pending_batches(instance, lakehouse)
    assert run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS).success
    _silver_from_bronze(lakehouse.catalog(), batch)
    resources = {"lakehouse": lakehouse, "torch_runtime": TorchResource(device="cpu")}
    with pytest.raises(
        ScoreInputError, match="quality_classifier has never been trained; materialize models/"
    ):
        dg.materialize([score], partition_key=batch, instance=instance, resources=resources)
    assert lakehouse.catalog().version(GOLD_SCORED_DOCUMENTS) is None


def test_a_corpus_without_references_fails_the_training_in_one_line(
    instance: dg.DagsterInstance, lakehouse: LakehouseResource, recipe_path: Path
) -> None:
    recipe_path.write_text(
        recipe_path.read_text().replace(
            "reference_sources: [manpages]", "reference_sources: [nothing]"
        )
    )
    (batch,) = pending_batches(instance, lakehouse)
    assert run_batch(instance, lakehouse, batch, assets=INGEST_ASSETS).success
    _silver_from_bronze(lakehouse.catalog(), batch)
    resources = {"lakehouse": lakehouse, "torch_runtime": TorchResource(device="cpu")}
    with pytest.raises(HeadTrainingError) as failed:
        dg.materialize([quality_classifier], instance=instance, resources=resources)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith("quality_classifier cannot be trained: no bronze document comes")
    assert "score.quality.reference_sources" in message
    assert message.endswith("(or set score.untrainable_heads: uniform)")
    assert lakehouse.catalog().version(GOLD_SCORED_DOCUMENTS) is None


def test_the_score_stage_runs_in_the_gpu_pool_after_decontaminate_with_its_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster_project.definitions import build_definitions
    from dagster_project.jobs import funnel_asset_keys
    from dagster_project.runs import prepare_instance

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    default = Path(__file__).resolve().parents[2] / "recipes" / "default.yaml"
    defs = build_definitions(LakehouseResource(root=str(tmp_path), recipe_path=str(default)))
    graph = defs.resolve_asset_graph()
    for assets_def in (score, quality_classifier, domain_classifier):
        assert assets_def.op.pool == "gpu"
    parents = graph.get(GOLD_SCORED_DOCUMENTS_KEY).parent_keys
    assert {QUALITY_CLASSIFIER_KEY, DOMAIN_CLASSIFIER_KEY} <= parents
    assert dg.AssetKey(["silver", "decontaminated_documents"]) in parents
    checks = {(key.asset_key, key.name) for key in graph.asset_check_keys}
    for name in ("conservation", "contract", "drift"):
        assert (GOLD_SCORED_DOCUMENTS_KEY, name) in checks
    assert (GOLD_EMBEDDINGS_KEY, "contract") in checks
    assert set(SCORE_ASSETS) <= set(funnel_asset_keys())
    # The heads are not per batch: a batch's run trains them only while they never were.
    assert not set(MODEL_ASSETS) & set(funnel_asset_keys())
    assert (GOLD_SCORED_DOCUMENTS_KEY, "scores_current_model") in checks
    assert not quality_classifier.partitions_def and not domain_classifier.partitions_def
    with prepare_instance(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
