"""Score: a batch's `silver/decontaminated_documents` → `gold/embeddings`, `gold/scored_documents`.

The heads are versioned models trained by their own unpartitioned assets, `models/…`, on a
named, pinned training set: the bronze documents of every batch the ledger records at training
time (the quality classifier on the recipe's reference sources and the project's hand-written
paragraphs against a bronze sample, the domain classifier on the source domains). Each becomes
a content-addressed artifact and the current model; every batch is scored with the current
models, and its rows carry their model versions, until the heads are trained again. The score
step embeds the batch with the encoder (reusing embeddings already stored for the batch, so a
retry skips the documents it already encoded), scores quality and domain, and drops semantic
duplicates to `ops/rejections` — within the batch and of documents other batches kept, which
always win (as in dedup). It runs in the `gpu` pool: one model job at a time.
"""

import base64
import io
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from assets.ingest import BRONZE_DOCUMENTS_KEY
from assets.lineage import Derived, with_lineage
from assets.resources import LakehouseResource, TorchResource
from assets.runner import Input, Stage, StageResult, StageRun, source_code_version, stage_asset
from assets.tables import asset_key
from gpu_jobs.embedding_codec import embedding_bytes, embeddings_from_bytes
from gpu_jobs.encoder import Encoder
from gpu_jobs.heads import (
    DOMAIN_CLASSIFIER,
    NEGATIVE,
    QUALITY_CLASSIFIER,
    REFERENCE,
    HeadTrainingError,
    TrainedHead,
    TrainingSet,
    constant_head,
    domain_labels,
    domain_training_set,
    head_bytes,
    held_out_split,
    load_head,
    quality_metrics,
    quality_scores,
    quality_training_set,
    seeded_order,
    train_head,
)
from gpu_jobs.runner import ProgressCallback, encode_documents
from gpu_jobs.semdedup import Anchors, semantic_duplicates, semantic_rejections
from lakehouse.artifacts import (
    Artifact,
    CurrentModel,
    current_model,
    model_version,
    promote_artifact,
    read_artifact,
    save_artifact,
    trained_artifact,
)
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.ledger import LostRowsError, committed_batches, committed_rows
from lakehouse.model_versions import MODEL_VERSION_COLUMNS, stale_batches
from lakehouse.recipe import LoadedRecipe
from lakehouse.reference_prose import HELD_OUT_EVERY, ReferenceProse, load_reference_prose
from lakehouse.tables import (
    BRONZE_DOCUMENTS,
    GOLD_EMBEDDINGS,
    GOLD_SCORED_DOCUMENTS,
    OPS_LEDGER,
    SILVER_DECONTAMINATED_DOCUMENTS,
)

STAGE = "score"
GPU_POOL = "gpu"
QUALITY_CLASSIFIER_KEY = dg.AssetKey(["models", QUALITY_CLASSIFIER])
DOMAIN_CLASSIFIER_KEY = dg.AssetKey(["models", DOMAIN_CLASSIFIER])
GOLD_SCORED_DOCUMENTS_KEY = asset_key(GOLD_SCORED_DOCUMENTS)
GOLD_EMBEDDINGS_KEY = asset_key(GOLD_EMBEDDINGS)
# Bins of the quality head's expected calibration error.
CALIBRATION_BINS = 10
# Documents encoded between two commits of gold/embeddings: what a failed run can lose.
CHECKPOINT_DOCUMENTS = 1024
_DOCUMENT_COLUMNS = [
    "doc_id",
    "source",
    "domain",
    "license",
    "source_uri",
    "source_record",
    "text",
    "text_sha256",
    "text_chars",
    "lang",
]


class ScoreInputError(RuntimeError):
    """A table or head the score stage reads is missing."""


def _training_pool(catalog: Catalog) -> tuple[int, dict[str, int]]:
    """The ledger version read and batch → bronze/documents version of every recorded ingest
    outcome at that version: the named, pinned pool the heads learn from."""
    ledger_version = catalog.version(OPS_LEDGER)
    versions = (
        committed_batches(catalog, "ingest", BRONZE_DOCUMENTS, ledger_version)
        if ledger_version is not None
        else {}
    )
    if ledger_version is None or not versions:
        raise ScoreInputError(
            "bronze/documents has no ingested batch to train the heads on; ingest one first "
            "(funnel run trains the heads after ingesting when they were never trained)"
        )
    return ledger_version, versions


def _texts(catalog: Catalog, versions: dict[str, int], doc_ids: list[str]) -> list[str]:
    """Texts of bronze documents, in the order of `doc_ids`."""
    rows = committed_rows(
        catalog, versions, BRONZE_DOCUMENTS, columns=["doc_id", "text"], where_ids=doc_ids
    )
    by_id = dict(zip(rows["doc_id"].to_pylist(), rows["text"].to_pylist(), strict=True))
    return [by_id[doc_id] for doc_id in doc_ids]


def _training_set(
    name: str, documents: pa.Table, loaded: LoadedRecipe, log: Any
) -> tuple[TrainingSet, str | None, list[str]]:
    """The head's training set; for an untrainable head the recipe allows to stay uniform, an
    empty set, why it cannot be trained, and the classes the uniform head answers with."""
    config = loaded.recipe.score
    try:
        if name == QUALITY_CLASSIFIER:
            return quality_training_set(documents, config.quality), None, []
        return domain_training_set(documents, config.domain), None, []
    except HeadTrainingError as problem:
        # A head without training data scores every document alike, and curate would select
        # nothing while the run reports success: the training fails in one line, unless the
        # recipe names the shipped uniform head.
        if config.untrainable_heads == "fail":
            raise HeadTrainingError(
                f"{name} cannot be trained: {problem} (or set score.untrainable_heads: uniform)"
            ) from None
        log.warning(f"{name} not trained, the recipe's uniform head used: {problem}")
        domains = set(documents["domain"].to_pylist()) or {
            source.domain for source in loaded.recipe.sources
        }
        classes = [REFERENCE, NEGATIVE] if name == QUALITY_CLASSIFIER else sorted(domains)
        return TrainingSet([], []), str(problem), classes


@dataclass(frozen=True)
class _Prose:
    """The hand-written paragraphs a quality head trains on, and what it is measured on."""

    prose: ReferenceProse
    trained: list[str]
    held_out: list[str]


def _with_prose(
    training: TrainingSet, prose: ReferenceProse, seed: int
) -> tuple[TrainingSet, _Prose]:
    """The training set with two thirds of the hand-written paragraphs added as references."""
    ids = sorted(prose.paragraphs)
    order = [ids[i] for i in seeded_order(ids, seed)]
    held_out = sorted(order[::HELD_OUT_EVERY])
    trained = sorted(set(ids) - set(held_out))
    combined = TrainingSet(training.doc_ids + trained, training.labels + [REFERENCE] * len(trained))
    return combined, _Prose(prose, trained, held_out)


def _head_metadata(
    artifact: Artifact, head: TrainedHead, training_set: dict[str, Any]
) -> dict[str, Any]:
    """Where a trained head is, what it answers, and the pinned training set it learnt from."""
    bronze = training_set[BRONZE_DOCUMENTS.key]
    metadata: dict[str, Any] = {
        "model_version": model_version(artifact.sha256),
        "artifact_uri": dg.MetadataValue.path(artifact.uri),
        "sha256": artifact.sha256,
        "size_bytes": artifact.size_bytes,
        "classes": dg.MetadataValue.json(head.classes),
        "training": dg.MetadataValue.json(head.training),
        "training_set": dg.MetadataValue.json(training_set),
        # Table → versions read: the lineage event's inputs.
        "training_tables": dg.MetadataValue.json(
            {
                BRONZE_DOCUMENTS.key: sorted(set(bronze["batches"].values())),
                OPS_LEDGER.key: [training_set[OPS_LEDGER.key]],
            }
        ),
    }
    if "handwritten_prose" in training_set:
        metadata["training_files"] = dg.MetadataValue.json(
            [training_set["handwritten_prose"]["folder"]]
        )
    for key in ("held_out_auc", "held_out_ece", "unseen_source_auc"):
        if head.training.get(key) is not None:
            metadata[key] = float(head.training[key])
    return metadata


def _fit(
    name: str,
    head_config: Any,
    encoder: Encoder,
    texts: list[str],
    labels: list[str],
    held_labels: list[str],
    unseen_texts: list[str],
    prose: int,
    batch_tokens: int,
    log: Any,
) -> TrainedHead:
    """Encode, train the head on the training part, and measure it on the held-out parts."""
    encoded = encode_documents(
        encoder, texts + unseen_texts, batch_tokens, _progress(log, name)
    ).embeddings
    trained = len(labels)
    held = trained + len(held_labels)
    head = train_head(
        name,
        encoded[:trained],
        labels,
        encoder=encoder.identity,
        epochs=head_config.epochs,
        learning_rate=head_config.learning_rate,
        hidden=head_config.hidden,
        seed=head_config.seed,
    )
    if name != QUALITY_CLASSIFIER:
        return head
    metrics = quality_metrics(
        head, encoded[trained:held], held_labels, encoded[held:], prose, CALIBRATION_BINS
    )
    return replace(head, training={**head.training, **metrics})


def _train_head(
    context: dg.AssetExecutionContext,
    lakehouse: LakehouseResource,
    torch_resource: TorchResource,
    name: str,
) -> dg.MaterializeResult:
    """Train (or find the identical earlier training of) one head and make it the current
    model every later scoring run uses."""
    started = time.perf_counter()
    catalog = lakehouse.catalog()
    loaded = lakehouse.recipe()
    config = loaded.recipe.score
    ledger_version, bronze_versions = _training_pool(catalog)
    head_config = config.quality if name == QUALITY_CLASSIFIER else config.domain
    encoder = torch_resource.encoder(config)
    documents = committed_rows(
        catalog, bronze_versions, BRONZE_DOCUMENTS, columns=["doc_id", "source", "domain"]
    )
    training, untrained, classes = _training_set(name, documents, loaded, context.log)
    training_set: dict[str, Any] = {
        BRONZE_DOCUMENTS.key: {"batches": dict(sorted(bronze_versions.items()))},
        OPS_LEDGER.key: ledger_version,
    }
    prose: _Prose | None = None
    if name == QUALITY_CLASSIFIER and untrained is None and config.quality.handwritten_prose:
        training, prose = _with_prose(training, load_reference_prose(), config.quality.seed)
        training_set["handwritten_prose"] = {
            "folder": prose.prose.folder,
            "sha256": prose.prose.sha256,
            "paragraphs_trained": len(prose.trained),
            "paragraphs_held_out": len(prose.held_out),
            "junk_held_out": len(prose.prose.junk),
        }
    settings = f"{encoder.identity}|{head_config.model_dump_json()}|{untrained}|{classes}"
    settings += f"|{prose.prose.sha256 if prose else None}"
    fingerprint = training.fingerprint(settings)
    options = catalog.storage_options
    artifact = trained_artifact(lakehouse.root, name, fingerprint, options)
    reused = artifact is not None
    if artifact is None and untrained is not None:
        head = constant_head(name, classes, encoder.identity, untrained)
        artifact = save_artifact(lakehouse.root, name, head_bytes(head), fingerprint, options)
    elif artifact is None:
        # The quality head is measured on a seeded held-out share of each class; the domain
        # head learns from its whole set.
        if name == QUALITY_CLASSIFIER:
            fit, held = held_out_split(
                training, config.quality.held_out_fraction, config.quality.seed + 2
            )
        else:
            fit, held = training, TrainingSet([], [])
        texts = _training_texts(catalog, bronze_versions, fit.doc_ids + held.doc_ids, prose)
        unseen = (
            [prose.prose.paragraphs[i] for i in prose.held_out]
            + [prose.prose.junk[i] for i in sorted(prose.prose.junk)]
            if prose
            else []
        )
        head = _fit(
            name,
            head_config,
            encoder,
            texts,
            fit.labels,
            held.labels,
            unseen,
            len(prose.held_out) if prose else 0,
            config.batch_tokens,
            context.log,
        )
        artifact = save_artifact(lakehouse.root, name, head_bytes(head), fingerprint, options)
    head = load_head(read_artifact(artifact, options), artifact.sha256)
    metadata = _head_metadata(artifact, head, training_set)
    current = promote_artifact(
        lakehouse.root,
        artifact,
        {
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "run_id": context.run.run_id,
            "training_fingerprint": fingerprint,
            "training_set": training_set,
            "training": head.training,
            "recipe_sha256": loaded.sha256,
        },
        options,
    )
    context.log.info(
        f"{name} {current.model_version} {'reused' if reused else 'trained'} on "
        f"{len(training.doc_ids)} documents of {len(bronze_versions)} batches; now current"
    )
    metadata |= {
        "training_fingerprint": fingerprint,
        "reused_earlier_training": reused,
        "trained": untrained is None,
        "encoder": encoder.identity,
        "recipe_sha256": loaded.sha256,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return dg.MaterializeResult(metadata=metadata)


def _training_texts(
    catalog: Catalog, versions: dict[str, int], doc_ids: list[str], prose: _Prose | None
) -> list[str]:
    """Texts of the training documents in order: bronze rows, or hand-written paragraphs."""
    paragraphs = prose.prose.paragraphs if prose else {}
    bronze = _texts(catalog, versions, [i for i in doc_ids if i not in paragraphs])
    from_bronze = iter(bronze)
    return [paragraphs[i] if i in paragraphs else next(from_bronze) for i in doc_ids]


_HEAD_ASSET = {
    "deps": [BRONZE_DOCUMENTS_KEY],
    "group_name": "models",
    "kinds": {"torch"},
    "owners": ["team:data-engineering"],
    "tags": {"stage": STAGE},
    "code_version": source_code_version(train_head),
    "pool": GPU_POOL,
}


@dg.asset(
    key=QUALITY_CLASSIFIER_KEY,
    description=(
        "DCLM-style quality classifier on sentence embeddings: the recipe's reference sources "
        "and the project's hand-written paragraphs are the positives, a seeded sample of the "
        "other bronze documents the negatives, from every batch ingested when it is trained. "
        "A torch file under <root>/_models, addressed by its sha256; its model version is "
        "the current one every scoring run uses until this asset is materialized again. "
        "Held-out AUC and calibration are in the metadata."
    ),
    **_HEAD_ASSET,
)
@with_lineage(f"train/{QUALITY_CLASSIFIER}")
def quality_classifier(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, torch_runtime: TorchResource
) -> dg.MaterializeResult:
    """Train the quality head on the pinned bronze documents and make it current."""
    return _train_head(context, lakehouse, torch_runtime, QUALITY_CLASSIFIER)


@dg.asset(
    key=DOMAIN_CLASSIFIER_KEY,
    description=(
        "Domain classifier on sentence embeddings, trained on a seeded per-domain sample of "
        "bronze documents labelled with their source's domain, so every document (web crawls "
        "included) gets a domain for mixing. A torch file under <root>/_models, addressed by "
        "its sha256; its model version is the current one every scoring run uses until this "
        "asset is materialized again."
    ),
    **_HEAD_ASSET,
)
@with_lineage(f"train/{DOMAIN_CLASSIFIER}")
def domain_classifier(
    context: dg.AssetExecutionContext, lakehouse: LakehouseResource, torch_runtime: TorchResource
) -> dg.MaterializeResult:
    """Train the domain head on the pinned bronze documents and make it current."""
    return _train_head(context, lakehouse, torch_runtime, DOMAIN_CLASSIFIER)


def _progress(log: Any, what: str) -> ProgressCallback:
    """A progress callback logging about every tenth of the documents with the rate."""
    started = time.perf_counter()
    last = [0]

    def report(done: int, total: int) -> None:
        if done == total or done - last[0] >= max(total // 10, 1):
            last[0] = done
            rate = done / max(time.perf_counter() - started, 1e-9)
            log.info(f"{what}: encoded {done}/{total} documents ({rate:.1f} docs/s)")

    return report


def _current_head(catalog: Catalog, name: str) -> CurrentModel:
    """The current model `name`, or ScoreInputError saying how to train it."""
    current = current_model(catalog.root, name, catalog.storage_options)
    if current is None:
        raise ScoreInputError(
            f"{name} has never been trained; materialize models/{name} "
            "(funnel models train, or funnel run, which trains it when absent)"
        )
    return current


def _batch_documents(run: StageRun) -> pa.Table:
    """The batch's unique documents with `ingested_at` from bronze, ordered by doc_id."""
    documents = run.batch_rows(SILVER_DECONTAMINATED_DOCUMENTS, _DOCUMENT_COLUMNS)
    ingested = run.batch_rows(BRONZE_DOCUMENTS, ["doc_id", "ingested_at"])
    joined = documents.join(ingested, "doc_id", join_type="left outer")
    return joined.sort_by("doc_id").combine_chunks()


@dataclass(frozen=True)
class _Embedded:
    """The batch's embeddings as committed: the version, the rows (by doc_id) and the work."""

    version: int
    stored: pa.Table
    encoded: int
    reused: int


def _reusable(run: StageRun, encoder: Encoder, documents: pa.Table) -> pa.Table:
    """Embeddings already committed for the batch with the same text and encoder.

    The latest version is read on purpose: rows a killed run committed as checkpoints are
    still right for their text, so a retry does not encode them again.
    """
    previous = run.catalog.version(GOLD_EMBEDDINGS)
    if previous is None:
        return GOLD_EMBEDDINGS.schema.empty_table()
    stored = run.catalog.read(GOLD_EMBEDDINGS, previous, where={"batch_id": run.batch_id or ""})
    wanted = dict(
        zip(documents["doc_id"].to_pylist(), documents["text_sha256"].to_pylist(), strict=True)
    )
    keep = [
        wanted.get(doc_id) == sha and used == encoder.identity
        for doc_id, sha, used in zip(
            stored["doc_id"].to_pylist(),
            stored["text_sha256"].to_pylist(),
            stored["encoder"].to_pylist(),
            strict=True,
        )
    ]
    return stored.filter(pa.array(keep, pa.bool_()))


def _embed_batch(
    run: StageRun, encoder: Encoder, documents: pa.Table, commit: CommitInfo
) -> _Embedded:
    """Store every document's embedding in gold/embeddings, reusing what is stored.

    Missing embeddings are encoded and committed every CHECKPOINT_DOCUMENTS documents, so a
    failed run loses little work; the first commit replaces the batch's rows (stale ones go,
    reusable ones stay).
    """
    batch_id = run.batch_id or ""
    reused = _reusable(run, encoder, documents)
    known = pa.array(sorted(set(reused["doc_id"].to_pylist())), pa.string())
    missing = documents.filter(pc.invert(pc.is_in(documents["doc_id"], value_set=known)))
    report = _progress(run.log, f"batch {batch_id}")
    version = None
    for start in range(0, max(missing.num_rows, 1), CHECKPOINT_DOCUMENTS):
        chunk = missing.slice(start, CHECKPOINT_DOCUMENTS)
        encoded = encode_documents(
            encoder,
            chunk["text"].to_pylist(),
            run.loaded.recipe.score.batch_tokens,
            lambda done, _total, start=start: report(start + done, missing.num_rows),
        )
        rows = pa.table(
            {
                "doc_id": chunk["doc_id"],
                "batch_id": pa.array([batch_id] * chunk.num_rows, pa.string()),
                "embedding": embedding_bytes(encoded.embeddings),
                "text_sha256": chunk["text_sha256"],
                "encoder_tokens": pa.array(encoded.tokens.numpy(), pa.int32()),
                "encoder": pa.array([encoder.identity] * chunk.num_rows, pa.string()),
            }
        )
        if start == 0:
            rows = pa.concat_tables([reused.select(rows.column_names).cast(rows.schema), rows])
            version = run.catalog.write(
                GOLD_EMBEDDINGS, rows, commit, replace={"batch_id": batch_id}
            )
        else:
            version = run.catalog.write(GOLD_EMBEDDINGS, rows, commit)
    assert version is not None  # the loop runs at least once
    # Scores and dedup read the stored (float16) embeddings, so a retry decides identically.
    stored = run.catalog.read(GOLD_EMBEDDINGS, version, where={"batch_id": batch_id})
    stored = stored.sort_by("doc_id")
    if stored["doc_id"].to_pylist() != documents["doc_id"].to_pylist():
        raise LostRowsError(
            f"batch {batch_id}: gold/embeddings holds {stored.num_rows} rows for "
            f"{documents.num_rows} unique documents; re-run the batch"
        )
    return _Embedded(version, stored, missing.num_rows, reused.num_rows)


def _kept_by_other_batches(run: StageRun) -> Anchors | None:
    """Documents the other batches kept, with their stored embeddings and their texts (for the
    lexical confirmation): SemDeDup's anchors."""
    kept = run.rows(GOLD_SCORED_DOCUMENTS, ["doc_id", "text"], other_batches=True)
    if kept.num_rows == 0:
        return None
    stored = run.rows(GOLD_EMBEDDINGS, ["doc_id", "embedding"], other_batches=True)
    stored = stored.filter(pc.is_in(stored["doc_id"], value_set=kept["doc_id"]))
    anchors = stored.join(kept, "doc_id").sort_by("doc_id")
    return Anchors(
        embeddings_from_bytes(anchors["embedding"]),
        anchors["doc_id"].to_pylist(),
        anchors["text"].to_pylist(),
    )


def _histogram_png(scores: list[float]) -> str:
    """Markdown embedding a PNG histogram of quality scores (20 bins over 0-1)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3), dpi=100)
    axes.hist(scores, bins=20, range=(0, 1), color="#4C72B0")
    axes.set_xlabel("quality_score")
    axes.set_ylabel("documents")
    axes.set_title("quality score of kept documents")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"![quality score histogram](data:image/png;base64,{encoded})"


COLUMN_LINEAGE = {
    GOLD_SCORED_DOCUMENTS.key: {
        **{
            name: [Derived(SILVER_DECONTAMINATED_DOCUMENTS.key, name, "kept after semantic dedup")]
            for name in (
                "doc_id",
                "source",
                "license",
                "source_uri",
                "source_record",
                "text",
                "text_sha256",
                "text_chars",
                "lang",
            )
        },
        "source_domain": [
            Derived(SILVER_DECONTAMINATED_DOCUMENTS.key, "domain", "source's domain")
        ],
        "ingested_at": [Derived(BRONZE_DOCUMENTS.key, "ingested_at", "joined on doc_id")],
        "quality_score": [
            Derived(
                SILVER_DECONTAMINATED_DOCUMENTS.key,
                "text",
                "quality classifier on the sentence embedding",
                "TRANSFORMATION",
            )
        ],
        "domain": [
            Derived(
                SILVER_DECONTAMINATED_DOCUMENTS.key,
                "text",
                "domain classifier on the sentence embedding",
                "TRANSFORMATION",
            )
        ],
    },
    GOLD_EMBEDDINGS.key: {
        "doc_id": [Derived(SILVER_DECONTAMINATED_DOCUMENTS.key, "doc_id", "every unique document")],
        "embedding": [
            Derived(
                SILVER_DECONTAMINATED_DOCUMENTS.key,
                "text",
                "all-MiniLM-L6-v2 mean-pooled embedding",
                "TRANSFORMATION",
            )
        ],
        "text_sha256": [
            Derived(SILVER_DECONTAMINATED_DOCUMENTS.key, "text_sha256", "the text embedded")
        ],
    },
}


def score_batch(run: StageRun) -> StageResult:
    """Embed, score and semantically deduplicate the pinned unique documents of the batch."""
    batch_id = run.batch_id or ""
    config = run.loaded.recipe.score
    options = run.catalog.storage_options
    quality_model = _current_head(run.catalog, QUALITY_CLASSIFIER)
    domain_model = _current_head(run.catalog, DOMAIN_CLASSIFIER)
    quality_artifact, domain_artifact = quality_model.artifact, domain_model.artifact
    quality_head = load_head(read_artifact(quality_artifact, options), quality_artifact.sha256)
    domain_head = load_head(read_artifact(domain_artifact, options), domain_artifact.sha256)
    encoder = run.resources["torch_runtime"].encoder(config)
    artifacts = (quality_artifact, domain_artifact)
    documents = _batch_documents(run)
    rows_in = documents.num_rows
    run.log.info(f"batch {batch_id}: scoring {rows_in} documents on {encoder.device}")
    embedded = _embed_batch(run, encoder, documents, run.commit_info(artifacts))
    stored = embedded.stored
    vectors = embeddings_from_bytes(stored["embedding"]).to(encoder.device)
    quality = quality_scores(quality_head, vectors)
    domains, domain_probability = domain_labels(domain_head, vectors)
    doc_ids = documents["doc_id"].to_pylist()
    anchors = _kept_by_other_batches(run)
    decision = semantic_duplicates(
        vectors,
        doc_ids,
        documents["ingested_at"].to_pylist(),
        config.semdedup,
        anchors,
        texts=documents["text"].to_pylist(),
    )
    scored = (
        documents.append_column("quality_score", pa.array(quality.numpy(), pa.float64()))
        .append_column("predicted_domain", pa.array(domains, pa.string()))
        .append_column("domain_prob", pa.array(domain_probability.numpy(), pa.float64()))
        .append_column("encoder_tokens", stored["encoder_tokens"])
        .append_column("semantic_cluster", pa.array(decision.clusters.numpy(), pa.int32()))
        .append_column("batch_id", pa.array([batch_id] * rows_in, pa.string()))
        .append_column(
            "quality_model_version",
            pa.array([quality_model.model_version] * rows_in, pa.string()),
        )
        .append_column(
            "domain_model_version", pa.array([domain_model.model_version] * rows_in, pa.string())
        )
        .rename_columns({"domain": "source_domain", "predicted_domain": "domain"})
        .take(pa.array(decision.kept, pa.int64()))
    )
    rejected = semantic_rejections(doc_ids, decision, config.semdedup)
    return StageResult(
        rows_in=rows_in,
        outputs={GOLD_SCORED_DOCUMENTS.key: scored},
        committed={GOLD_EMBEDDINGS.key: embedded.version},
        rejections=rejected,
        artifacts=artifacts,
        metadata=_score_metadata(run, encoder, embedded, scored, rejected, anchors, artifacts),
        summary=f"batch {batch_id}: {rows_in} unique documents → {scored.num_rows} scored, "
        f"{rejected.num_rows} semantic duplicates; {embedded.encoded} encoded, "
        f"{embedded.reused} embeddings reused",
    )


def _score_metadata(
    run: StageRun,
    encoder: Encoder,
    embedded: _Embedded,
    scored: pa.Table,
    rejected: pa.Table,
    anchors: Anchors | None,
    heads: Sequence[Artifact],
) -> dict[str, dict[str, Any]]:
    """Materialization metadata of the score stage's two tables."""
    semdedup = run.loaded.recipe.score.semdedup
    scores = scored["quality_score"].to_pylist()
    device = {"encoder": encoder.identity, "device": str(encoder.device)}
    work = {"documents_encoded": embedded.encoded, "embeddings_reused": embedded.reused}
    return {
        GOLD_EMBEDDINGS.key: work | device,
        GOLD_SCORED_DOCUMENTS.key: work
        | device
        | {
            "semantic_duplicates": rejected.num_rows,
            "semantic_anchors": len(anchors.doc_ids) if anchors is not None else 0,
            # Other batches an older model scored: their scores do not compare with these.
            "stale_batches": dg.MetadataValue.json(
                {
                    stale.batch_id: stale.scored_with
                    for stale in stale_batches(run.catalog)
                    if stale.batch_id != run.batch_id
                }
            ),
            "quality_histogram": dg.MetadataValue.md(_histogram_png(scores)),
            "quality_mean": round(sum(scores) / len(scores), 6) if scores else 0.0,
            "domain_distribution": dg.MetadataValue.json(
                dict(sorted(Counter(scored["domain"].to_pylist()).items()))
            ),
            "head_sha256": dg.MetadataValue.json({head.name: head.sha256 for head in heads}),
            **{MODEL_VERSION_COLUMNS[head.name]: model_version(head.sha256) for head in heads},
            "semdedup": f"{semdedup.clusters} clusters, cosine > "
            f"{semdedup.cosine_threshold}, seed {semdedup.seed}",
        },
    }


SCORE = Stage(
    name=STAGE,
    description=(
        "The batch's decontaminated documents without semantic duplicates (k-means on the "
        "embeddings, cosine above the recipe's threshold within a cluster; the oldest "
        "document is kept), with quality score and predicted domain. Every removed "
        "document is a row of ops/rejections with its keeper in `duplicate_of`."
    ),
    group="gold",
    engine="torch",
    inputs=(
        Input(SILVER_DECONTAMINATED_DOCUMENTS, "decontaminate"),
        Input(BRONZE_DOCUMENTS, "ingest"),
        Input(GOLD_SCORED_DOCUMENTS, STAGE, required=False),
        Input(GOLD_EMBEDDINGS, STAGE, required=False),
    ),
    outputs=(GOLD_SCORED_DOCUMENTS, GOLD_EMBEDDINGS),
    operator=score_batch,
    pool=GPU_POOL,
    settings=("score",),
    one_batch_at_a_time=True,
    # The current heads decide the batch's scores as much as its documents do: a batch is
    # scored again by the funnel once the heads were retrained.
    fingerprint_of=lambda run: [
        getattr(
            current_model(run.catalog.root, name, run.catalog.storage_options),
            "model_version",
            None,
        )
        for name in (QUALITY_CLASSIFIER, DOMAIN_CLASSIFIER)
    ],
    resources=("lakehouse", "torch_runtime"),
    deps=(QUALITY_CLASSIFIER_KEY, DOMAIN_CLASSIFIER_KEY),
    descriptions={
        GOLD_EMBEDDINGS.key: (
            "Mean-pooled, L2-normalized all-MiniLM-L6-v2 embedding (float16) of every "
            "unique document of the batch, truncated to the recipe's max_tokens."
        ),
    },
    column_lineage=COLUMN_LINEAGE,
)

score = stage_asset(SCORE)
