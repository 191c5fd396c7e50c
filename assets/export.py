"""Export: a published release → tokenized shards (MDS, Megatron .bin/.idx or JSONL).

Downstream of `gold/releases`: the asset's run names the release, and its materialization
records the release's manifest sha256 and pinned candidate version, the tokenizer's sha256,
the seed, and the folder, shards, documents and tokens written. The writing itself is
serving/export.py; a killed run, materialized again with the same settings, resumes after
the last whole shard.
"""

import time
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.release import GOLD_RELEASES_KEY
from assets.resources import LakehouseResource
from assets.runner import OWNERS, source_code_version
from lakehouse.exports import default_export_folder, register_export
from lakehouse.recipe import LoadedRecipe
from serving.export import ExportRequest, export_release, resolve_tokenizer

STAGE = "export"
TOKENIZED_EXPORT_KEY = dg.AssetKey(["exports", "tokenized"])


class ExportRun(dg.Config):
    """Run configuration of an export."""

    release: str = Field(description="Name of a published release.")
    format: str = Field(default="mds", description="mds, megatron or jsonl.")
    tokenizer: str = Field(
        default="all-minilm-l6-v2",
        description="A name under export.tokenizers in the recipe, a bundled tokenizer name, "
        "or a tokenizer.json path.",
    )
    seed: int = Field(default=0, description="Decides the document order.")
    output: str = Field(
        default="", description="Folder to write; empty: <root>/_exports/<release>/<format>-…"
    )


def export_request(config: ExportRun, root: str, loaded: LoadedRecipe) -> ExportRequest:
    """The export a run configuration and the recipe's `export` section ask for."""
    settings = loaded.recipe.export
    tokenizer_path = resolve_tokenizer(config.tokenizer, settings.tokenizers, loaded.path.parent)
    output = Path(config.output) if config.output else None
    if output is None:
        output = default_export_folder(
            root, config.release, config.format, config.tokenizer, config.seed
        )
    return ExportRequest(
        release=config.release,
        format=config.format,
        tokenizer=config.tokenizer,
        tokenizer_path=tokenizer_path,
        output=output,
        seed=config.seed,
        shard_tokens=settings.shard_tokens,
        block_documents=settings.block_documents,
    )


@dg.asset(
    key=TOKENIZED_EXPORT_KEY,
    deps=[GOLD_RELEASES_KEY],
    group_name="exports",
    kinds={"parquet"},
    owners=OWNERS,
    tags={"stage": STAGE},
    code_version=source_code_version(export_release),
    description=(
        "Tokenized shards of a published release, read directly by trainers: MosaicML MDS, "
        "Megatron-LM/NeMo .bin/.idx or JSONL of token ids, with a doc index per shard mapping "
        "token ranges to doc ids. Deterministic for a seed, resumable after a kill; the "
        "tokenizer is read offline from a package or a file the recipe names."
    ),
)
def tokenized_export(
    context: dg.AssetExecutionContext, config: ExportRun, lakehouse: LakehouseResource
) -> dg.MaterializeResult:
    """Write (or resume, or find complete) the export the run configuration asks for."""
    started = time.perf_counter()
    catalog = lakehouse.catalog()
    request = export_request(config, lakehouse.root, lakehouse.recipe())
    manifest = export_release(catalog, request)
    register_export(lakehouse.root, request.output)
    settings = manifest["settings"]
    context.log.info(
        f"export of release {request.release}: {manifest['documents']} documents, "
        f"{manifest['tokens']} tokens in {len(manifest['shards'])} {request.format} shards "
        f"at {request.output}"
    )
    return dg.MaterializeResult(
        metadata={
            "release": request.release,
            "manifest_sha256": settings["manifest_sha256"],
            "candidate_version": settings["candidate_version"],
            "format": request.format,
            "tokenizer": request.tokenizer,
            "tokenizer_sha256": settings["tokenizer"]["sha256"],
            "seed": request.seed,
            "path": dg.MetadataValue.path(str(request.output)),
            "shards": len(manifest["shards"]),
            "documents": manifest["documents"],
            "documents_without_tokens": manifest["documents_without_tokens"],
            "tokens": manifest["tokens"],
            "seconds": round(time.perf_counter() - started, 3),
        }
    )


EXPORT_ASSETS = [tokenized_export]
