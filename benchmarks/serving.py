"""Serving benchmark: how fast a release streams into training, and what the data–model levers do.

    python -m benchmarks.serving [--part loading|experiment|all] [--docs 10000] [--repeats 3]
        [--seeds 0 1 2] [--steps 400] [--jobs 1] [--keep DIR]

**Loading.** Two releases are published from the sample corpus (its documents cycled under new
doc ids, domains interleaved): `--docs` and ten times as many documents. In fresh processes,
one reader each (what one DataLoader worker runs): `ReleaseDataset` (text, no tokenizer, default
buffer) against the peer, a plain pyarrow scan of the same pinned Parquet files producing the
same per-sample dicts (`pyarrow.dataset` → record batches → `to_pylist`). Samples/s and the
ratio; peak resident memory of each process at both sizes. A raw Arrow scan (no per-sample
objects) is reported too, as the ceiling.

**Experiment.** A release built from the sample corpus with its planted noise kept on purpose
(junk, off-domain pages, exact and near duplicates, per `ground_truth.jsonl.gz`); held out:
clean documents that are not in the release, a random draw split in two (HELDOUT_DOCS for
evaluation, REFERENCE_DOCS for the reference model). A tiny byte-level GPT (2 layers, 4 heads,
width 64, context 128 bytes) is trained on CPU from `ReleaseDataLoader` with every step logged to
`serving/consumption`, once per arm and seed; held-out loss every EVAL_EVERY steps. Per seed, a
reference model of the same architecture is trained first on the reference holdout
(REFERENCE_STEPS steps; RHO-LOSS's irreducible-loss model, DoReMi's reference model).

All arms use AdamW (3e-3, 20 warm-up steps, cosine decay to 10 %) and the same optimizer steps.

- uniform: the release as it comes (documents drawn uniformly);
- selection: RHO-LOSS — draw SELECTION_DRAW times the batch, train on the batch-size share with
  the largest excess loss over the reference model;
- mixture: excess-loss mixing — domain weights from each domain's excess loss over the reference
  model, around the release's own domain shares;
- mixture_exp3: Online Data Mixing (EXP3 over domains, loss as reward), the paper's rule;
- reweighting: per-sample loss weights from the loss (bounded, mean 1).

Result per lever: optimizer steps to reach uniform's final held-out loss (same seed), as a share
of uniform's steps, mean and spread over seeds; the mixture arms' domain weights over time as a
PNG. `--jobs N` runs N seeds at once, each in its own process and lake.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads

from benchmarks.measure import machine, median, peak_rss_mb, run_engine, write_result
from lakehouse.catalog import Catalog, CommitInfo
from lakehouse.landing import doc_id
from lakehouse.releases import ReleaseManifest, domain_summary, publish_release, release_files
from lakehouse.tables import GOLD_RELEASE_CANDIDATE

RESULTS = Path("bench-data") / "results"
SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
COMMIT = CommitInfo(run_id="bench-serving", stage="bench", recipe_sha256="0" * 64, code_version="")
WRITE_ROWS = 20_000
ARMS = ["uniform", "selection", "mixture", "mixture_exp3", "reweighting"]
MIXTURE_ARMS = {
    "mixture": "excess-loss mixing (prior: domain shares)",
    "mixture_exp3": "Online Data Mixing (EXP3, loss as reward)",
}
CONTEXT = 128
PAD = 256
VOCAB = 257
BATCH = 16
EVAL_EVERY = 10
LEARNING_RATE = 3e-3
WARMUP = 20
HELDOUT_DOCS = 200
REFERENCE_DOCS = 600
REFERENCE_STEPS = 400
SELECTION_DRAW = 4


# Release building -----------------------------------------------------------------------------


def sample_documents(sample: Path = SAMPLE) -> list[dict[str, Any]]:
    """Every readable sample record with its ground truth (domain, junk, duplicate marks)."""
    truth = {}
    with gzip.open(sample / "ground_truth.jsonl.gz", "rt") as lines:
        for line in lines:
            entry = json.loads(line)
            truth[(entry["file"], entry["record"])] = entry
    documents = []
    for path in sorted((sample / "landing").glob("*/*.jsonl.gz")):
        name = f"{path.parent.name}/{path.name}"
        with gzip.open(path, "rt", errors="replace") as lines:
            for record, line in enumerate(lines):
                entry = truth.get((name, record))
                try:
                    text = json.loads(line).get("text")
                except (json.JSONDecodeError, AttributeError):
                    continue
                if entry is None or not isinstance(text, str) or not text:
                    continue
                original = entry["exact_duplicate_of"] or entry["near_duplicate_of"]
                documents.append(
                    {
                        "uri": f"file://{path}",
                        "file": name,
                        "record": record,
                        "source": entry["source"],
                        "domain": entry["domain"],
                        "lang": entry["lang"] or "und",
                        "text": text,
                        "noisy": bool(entry["junk"] or original),
                        "duplicate_of": (original["file"], original["record"])
                        if original
                        else None,
                    }
                )
    return documents


def candidate_row(document: dict[str, Any], copy: int = 0) -> dict[str, Any]:
    """A `gold/release_candidate` row for a sample document (`copy` > 0: a new doc id)."""
    uri = document["uri"] if not copy else f"{document['uri']}?copy={copy}"
    text = document["text"]
    return {
        "doc_id": doc_id(uri, document["record"]),
        "batch_id": "bench",
        "source": document["source"],
        "source_domain": document["domain"],
        "license": "see data/sample/SOURCES.md",
        "source_uri": uri,
        "source_record": document["record"],
        "text": text,
        "text_sha256": "",
        "lang": document["lang"],
        "quality_score": 0.0 if document["noisy"] else 1.0,
        "domain": document["domain"],
        "domain_prob": 1.0,
        "domain_quality_rank": 0.0,
        "tokens": len(text.encode()),
        "weight": 1.0,
    }


def publish_rows(catalog: Catalog, name: str, chunks: Any) -> int:
    """Write candidate rows (an iterable of row lists) and publish them as release `name`."""
    version = None
    documents = tokens = 0
    summary_rows = []
    for index, rows in enumerate(chunks):
        table = pa.Table.from_pylist(rows, GOLD_RELEASE_CANDIDATE.schema)
        version = catalog.write(GOLD_RELEASE_CANDIDATE, table, COMMIT, overwrite=index == 0)
        documents += table.num_rows
        tokens += sum(table["tokens"].to_pylist())
        summary_rows.append(table.select(["domain", "tokens", "weight"]))
    assert version is not None
    manifest = ReleaseManifest(
        name=name,
        published_at=datetime.now(UTC),
        run_id=COMMIT.run_id,
        recipe_sha256=COMMIT.recipe_sha256,
        code_version=COMMIT.code_version,
        candidate_version=version,
        pinned_tables={GOLD_RELEASE_CANDIDATE.key: version},
        documents=documents,
        tokens=tokens,
        weighted_tokens=float(tokens),
        domains=domain_summary(pa.concat_tables(summary_rows), {}),
        review={"note": "benchmark release, not reviewed"},
    )
    publish_release(catalog, manifest, COMMIT)
    return documents


def cycled_chunks(documents: list[dict[str, Any]], total: int, seed: int) -> Any:
    """`total` candidate rows cycling the sample in a shuffled order, WRITE_ROWS per chunk."""
    order = np.random.default_rng(seed).permutation(len(documents)).tolist()
    rows = []
    for index in range(total):
        copy, position = divmod(index, len(documents))
        rows.append(candidate_row(documents[order[position]], copy))
        if len(rows) == WRITE_ROWS:
            yield rows
            rows = []
    if rows:
        yield rows


# Loading --------------------------------------------------------------------------------------


def process_peak_rss_mb() -> float:
    """Peak resident memory of this process image, MiB (VmHWM: reset by exec, unlike
    getrusage's maximum, which a child inherits from the process that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def dataset_engine(root: str, release: str) -> dict[str, Any]:
    """Stream a whole release through ReleaseDataset in this process."""
    from serving.dataset import ReleaseDataset

    start = time.perf_counter()
    dataset = ReleaseDataset(Catalog(root), release, seed=0)
    samples = sum(1 for sample in dataset if sample["text"] is not None)
    seconds = time.perf_counter() - start
    return {"samples": samples, "seconds": seconds, "peak_rss_mb": process_peak_rss_mb()}


def pyarrow_engine(root: str, release: str, raw: bool = False) -> dict[str, Any]:
    """Scan the release's pinned Parquet files with pyarrow (per-sample dicts unless `raw`)."""
    start = time.perf_counter()
    files = [uri.removeprefix("file://") for uri in release_files(Catalog(root), release)]
    dataset = pads.dataset(files, format="parquet")
    samples = 0
    for batch in dataset.to_batches(columns=["doc_id", "domain", "text", "weight"]):
        if raw:
            samples += batch.num_rows
        else:
            samples += sum(1 for sample in batch.to_pylist() if sample["text"] is not None)
    seconds = time.perf_counter() - start
    return {"samples": samples, "seconds": seconds, "peak_rss_mb": process_peak_rss_mb()}


def loading(docs: int, work: Path, repeats: int) -> dict[str, Any]:
    """Samples/s and peak memory of ReleaseDataset and the pyarrow peers at docs and 10× docs;
    engines alternate, each run in a fresh process; medians over `repeats`."""
    root = str(work / "lake")
    catalog = Catalog(root)
    documents = sample_documents()
    sizes = {}
    engines = ("dataset", "pyarrow", "pyarrow_raw")
    for factor in (1, 10):
        name = f"bench-{docs * factor}"
        publish_rows(catalog, name, cycled_chunks(documents, docs * factor, seed=factor))
        runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
        for _ in range(repeats):
            for engine in engines:
                run = run_engine(
                    "benchmarks.serving", ["--engine", engine, "--root", root, "--release", name]
                )
                run["samples_per_s"] = round(run["samples"] / run["seconds"])
                runs[engine].append(run)
        results: dict[str, Any] = {}
        for engine in engines:
            results[engine] = {
                "samples": runs[engine][0]["samples"],
                "samples_per_s": round(median(runs[engine], "samples_per_s")),
                "runs_samples_per_s": [run["samples_per_s"] for run in runs[engine]],
                "peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs[engine]), 1),
            }
            print(
                f"  {docs * factor} docs, {engine}: {results[engine]['samples_per_s']} "
                f"samples/s (runs {results[engine]['runs_samples_per_s']}), "
                f"peak {results[engine]['peak_rss_mb']:.0f} MiB",
                flush=True,
            )
        results["ratio_vs_pyarrow"] = round(
            results["dataset"]["samples_per_s"] / results["pyarrow"]["samples_per_s"], 3
        )
        sizes[docs * factor] = results
    small, large = sizes[docs], sizes[docs * 10]
    return {
        "sizes": sizes,
        "memory_growth_10x": {
            engine: round(large[engine]["peak_rss_mb"] / small[engine]["peak_rss_mb"], 3)
            for engine in ("dataset", "pyarrow")
        },
    }


# Experiment -----------------------------------------------------------------------------------


def byte_ids(text: str) -> list[int]:
    """The first CONTEXT + 1 bytes of the UTF-8 text: the model's byte-level tokens."""
    return list(text.encode("utf-8", errors="replace")[: CONTEXT + 1])


def pad_batch(sequences: list[list[int]]) -> Any:
    """Sequences padded with PAD to CONTEXT + 1, as a long tensor."""
    import torch

    padded = torch.full((len(sequences), CONTEXT + 1), PAD, dtype=torch.long)
    for row, ids in enumerate(sequences):
        padded[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return padded


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """A training batch: padded byte ids plus the samples' doc ids, domains and positions."""
    batch = {key: [sample[key] for sample in samples] for key in samples[0] if key != "input_ids"}
    batch["input_ids"] = pad_batch([sample["input_ids"] for sample in samples])
    return batch


def tiny_gpt(seed: int) -> Any:
    """A 2-layer, 4-head, width-64 causal transformer over bytes."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, width: int, heads: int):
            super().__init__()
            self.heads = heads
            self.norm1 = nn.LayerNorm(width)
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)
            self.norm2 = nn.LayerNorm(width)
            self.mlp = nn.Sequential(
                nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            batch, length, width = x.shape
            q, k, v = self.qkv(self.norm1(x)).split(width, dim=2)
            shape = (batch, length, self.heads, width // self.heads)
            q, k, v = (t.view(shape).transpose(1, 2) for t in (q, k, v))
            attended = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, width))
            return x + self.mlp(self.norm2(x))

    class TinyGPT(nn.Module):
        def __init__(self, width: int = 64, heads: int = 4, layers: int = 2):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, width)
            self.position = nn.Parameter(torch.zeros(1, CONTEXT, width))
            self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(layers)))
            self.norm = nn.LayerNorm(width)
            self.head = nn.Linear(width, VOCAB, bias=False)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            x = self.embed(ids) + self.position[:, : ids.shape[1]]
            return self.head(self.norm(self.blocks(x)))

    torch.manual_seed(seed)
    return TinyGPT()


def sample_losses(model: Any, ids: Any) -> Any:
    """Mean next-byte loss per sequence (nats), padding ignored."""
    import torch

    logits = model(ids[:, :-1])
    targets = ids[:, 1:]
    losses = torch.nn.functional.cross_entropy(
        logits.reshape(-1, VOCAB), targets.reshape(-1), ignore_index=PAD, reduction="none"
    ).view(targets.shape)
    mask = (targets != PAD).float()
    return (losses * mask).sum(1) / mask.sum(1).clamp(min=1)


def heldout_loss(model: Any, ids: Any) -> float:
    """Mean loss per sequence over the held-out set."""
    import torch

    with torch.no_grad():
        return float(sample_losses(model, ids).mean())


def schedule(optimizer: Any, steps: int) -> Any:
    """Learning rate: linear warm-up over WARMUP steps, then cosine decay to 10 % at `steps`."""
    import torch

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / WARMUP)
        return warm * (0.1 + 0.45 * (1 + math.cos(math.pi * min(step, steps) / steps)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_reference(texts: list[str], steps: int, seed: int) -> Any:
    """The RHO reference model: the same architecture trained on the reference holdout."""
    import torch

    model = tiny_gpt(seed + 1000)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    learning_rate = schedule(optimizer, steps)
    ids = pad_batch([byte_ids(text) for text in texts])
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = torch.randint(0, len(texts), (BATCH,), generator=generator)
        loss = sample_losses(model, ids[rows]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        learning_rate.step()
    model.eval()
    return model


def arm_strategies(arm: str, domains: list[str], domain_rows: dict[str, int]) -> list[Any]:
    """The strategies an arm trains with (uniform: none)."""
    from serving.strategies import (
        ExcessLossMixing,
        LossReweighting,
        LossSelection,
        OnlineDataMixing,
        SelectionConfig,
    )

    builders = {
        "uniform": list,
        "selection": lambda: [LossSelection(SelectionConfig(keep_fraction=1 / SELECTION_DRAW))],
        "mixture": lambda: [ExcessLossMixing(domains, prior=domain_rows)],
        "mixture_exp3": lambda: [OnlineDataMixing(domains)],
        "reweighting": lambda: [LossReweighting()],
    }
    return builders[arm]()


def train_arm(
    arm: str,
    seed: int,
    steps: int,
    catalog: Catalog,
    release: str,
    heldout: Any,
    reference: Any,
) -> dict[str, Any]:
    """Train the tiny model with one lever; held-out loss every EVAL_EVERY steps."""
    import torch

    from serving.consumption import ConsumptionLog
    from serving.dataset import ReleaseDataLoader, ReleaseDataset
    from serving.strategies import Composite, LossReport

    dataset = ReleaseDataset(catalog, release, seed=seed, buffer_size=1024, tokenizer=byte_ids)
    draw = SELECTION_DRAW * BATCH if arm == "selection" else BATCH
    loader = ReleaseDataLoader(dataset, batch_size=draw, collate_fn=collate)
    strategy = Composite(arm_strategies(arm, dataset.domains, dataset.domain_rows))
    # Excess loss (selection, excess-loss mixing) needs the reference model's view of the batch.
    needs_reference = arm in ("selection", "mixture")
    model = tiny_gpt(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    learning_rate = schedule(optimizer, steps)
    curve = [(0, heldout_loss(model, heldout))]
    mixture = [(0, dataset.domain_weights)]
    batches = iter(loader)
    epoch = 0
    with ConsumptionLog(catalog, f"{arm}-seed{seed}", release, flush_rows=4096) as log:
        for step in range(1, steps + 1):
            batch = next(batches, None)
            if batch is None or len(batch["doc_id"]) < draw:
                epoch += 1
                dataset.set_epoch(epoch)
                batches = iter(loader)
                batch = next(batches)
            ids = batch["input_ids"]
            reference_losses = None
            if needs_reference:
                with torch.no_grad():
                    reference_losses = sample_losses(reference, ids).numpy()
            weights_in_force = dataset.domain_weights
            if arm == "selection":
                # Score every drawn sample without a graph; back-propagate through the kept only.
                with torch.no_grad():
                    losses = sample_losses(model, ids)
            else:
                losses = sample_losses(model, ids)
            decision = strategy.update(
                LossReport(
                    step,
                    batch["doc_id"],
                    batch["domain"],
                    losses.detach().numpy(),
                    reference_losses=reference_losses,
                )
            )
            loss_weights = torch.as_tensor(decision.loss_weights, dtype=torch.float32)
            if arm == "selection":
                kept = torch.as_tensor(decision.keep)
                losses, loss_weights = sample_losses(model, ids[kept]), loss_weights[kept]
            loss = (losses * loss_weights).sum() / max(1, int(decision.keep.sum()))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            learning_rate.step()
            log.record(
                step,
                batch["doc_id"],
                batch["domain"],
                decision.loss_weights.tolist(),
                kept=decision.keep.tolist(),
                domain_weights=weights_in_force,
                strategy_state=strategy.state_dict(),
            )
            if decision.domain_weights is not None:
                dataset.set_domain_weights(decision.domain_weights)
                mixture.append((step, dataset.domain_weights))
            if step % EVAL_EVERY == 0:
                curve.append((step, heldout_loss(model, heldout)))
    return {"curve": curve, "mixture": mixture}


def steps_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    """First evaluated step whose held-out loss is at most `target` (None: never)."""
    return next((step for step, loss in curve if step > 0 and loss <= target), None)


def experiment_release(catalog: Catalog) -> dict[str, Any]:
    """Publish `sample-noisy` into `catalog`; its counts, the evaluation batch, reference texts."""
    documents = sample_documents()
    clean = [i for i, document in enumerate(documents) if not document["noisy"]]
    # Split in the draw's random order: sorted, the first HELDOUT_DOCS would all come from the
    # first landing files (one source), not from the clean release's mix.
    held_list = np.random.default_rng(0).choice(clean, HELDOUT_DOCS + REFERENCE_DOCS, False)
    held = set(held_list.tolist())
    # Copies (exact or near) of an evaluation document stay out of the release too, so no
    # arm can train on evaluation text; copies of reference documents stay in.
    evaluated = {(documents[i]["file"], documents[i]["record"]) for i in held_list[:HELDOUT_DOCS]}
    released = [
        document
        for i, document in enumerate(documents)
        if i not in held and document["duplicate_of"] not in evaluated
    ]
    # Rows in a seeded random order, as a curated candidate mixes its sources: written in the
    # sample's file order, every row group would hold one source and the shuffle buffer could
    # only mix within it.
    order = np.random.default_rng(1).permutation(len(released)).tolist()
    publish_rows(catalog, "sample-noisy", [[candidate_row(released[i]) for i in order]])
    return {
        "documents": len(released),
        "evaluation_copies_left_out": len(documents) - len(held) - len(released),
        "noise": sum(document["noisy"] for document in released) / len(released),
        "heldout": pad_batch([byte_ids(documents[i]["text"]) for i in held_list[:HELDOUT_DOCS]]),
        "reference_texts": [documents[i]["text"] for i in held_list[HELDOUT_DOCS:]],
    }


def seed_runs(seed: int, steps: int, work: Path) -> dict[str, Any]:
    """One seed: the reference model, then every arm (its own lake, so seeds run in parallel)."""
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    catalog = Catalog(str(work / f"seed-{seed}" / "lake"))
    release = experiment_release(catalog)
    reference = train_reference(release["reference_texts"], REFERENCE_STEPS, seed)
    runs = {"reference_heldout_loss": heldout_loss(reference, release["heldout"])}
    seconds = {}
    for arm in ARMS:
        arm_started = time.perf_counter()
        runs[arm] = train_arm(
            arm, seed, steps, catalog, "sample-noisy", release["heldout"], reference
        )
        seconds[arm] = round(time.perf_counter() - arm_started, 1)
    runs["seconds"] = {"total": round(time.perf_counter() - started, 1), **seconds}
    print(
        f"  seed {seed}: final held-out loss "
        + ", ".join(f"{arm} {runs[arm]['curve'][-1][1]:.4f}" for arm in ARMS)
        + f" ({runs['seconds']['total']:.0f} s)",
        flush=True,
    )
    return runs


def experiment(seeds: list[int], steps: int, work: Path, jobs: int = 1) -> dict[str, Any]:
    """Every arm × seed; steps to uniform's final held-out loss, as a share of uniform's.
    `jobs` > 1 runs that many seeds at once, one process each (one thread per process)."""
    release = experiment_release(Catalog(str(work / "release")))
    print(
        f"  release sample-noisy: {release['documents']} documents, {release['noise']:.1%} "
        f"planted noise; held out {HELDOUT_DOCS} clean for evaluation, {REFERENCE_DOCS} for "
        f"the reference; {release['evaluation_copies_left_out']} copies of evaluation documents "
        "left out",
        flush=True,
    )
    noise = release["noise"]
    if jobs > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = {seed: pool.submit(seed_runs, seed, steps, work) for seed in seeds}
            by_seed = {seed: future.result() for seed, future in futures.items()}
    else:
        by_seed = {seed: seed_runs(seed, steps, work) for seed in seeds}
    runs = {arm: {seed: by_seed[seed][arm] for seed in seeds} for arm in ARMS}
    reference_losses = {seed: by_seed[seed]["reference_heldout_loss"] for seed in seeds}
    levers = {}
    for arm in ARMS[1:]:
        shares = []
        for seed in seeds:
            target = runs["uniform"][seed]["curve"][-1][1]
            reached = steps_to_reach(runs[arm][seed]["curve"], target)
            shares.append(reached / steps if reached is not None else math.inf)
        finite = [share for share in shares if math.isfinite(share)]
        levers[arm] = {
            "steps_share_per_seed": [round(s, 3) if math.isfinite(s) else None for s in shares],
            "mean_steps_share": round(statistics.mean(shares), 3)
            if len(finite) == len(shares)
            else None,
            "spread_stdev": round(statistics.stdev(finite), 3) if len(finite) > 1 else None,
            "reached_in": f"{len(finite)}/{len(shares)} seeds",
            "final_heldout_loss_mean": round(
                statistics.mean(runs[arm][seed]["curve"][-1][1] for seed in seeds), 4
            ),
        }
    uniform_final = [runs["uniform"][seed]["curve"][-1][1] for seed in seeds]
    return {
        "release_documents": release["documents"],
        "evaluation_copies_left_out": release["evaluation_copies_left_out"],
        "planted_noise_share": round(noise, 4),
        "steps": steps,
        "seeds": seeds,
        "jobs": jobs,
        "seconds_per_seed": {seed: by_seed[seed]["seconds"] for seed in seeds},
        "uniform_final_heldout_loss_mean": round(statistics.mean(uniform_final), 4),
        "uniform_final_heldout_loss_stdev": round(statistics.stdev(uniform_final), 4)
        if len(seeds) > 1
        else None,
        "levers": levers,
        "curves": {arm: {seed: runs[arm][seed]["curve"] for seed in seeds} for arm in ARMS},
        "reference_model": {
            "documents": REFERENCE_DOCS,
            "steps": REFERENCE_STEPS,
            "heldout_loss_per_seed": {
                seed: round(loss, 4) for seed, loss in reference_losses.items()
            },
        },
        "mixture_weights": {
            arm: {seed: runs[arm][seed]["mixture"] for seed in seeds} for arm in MIXTURE_ARMS
        },
    }


def plot_mixture(result: dict[str, Any], path: Path) -> Path:
    """Each mixture arm's domain weights over training steps: one panel per arm, one line per
    domain and seed (solid: the first seed, faint: the others)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(result["mixture_weights"])
    figure, axes = plt.subplots(1, len(arms), figsize=(6 * len(arms), 4), sharey=True)
    for axis, arm in zip(np.atleast_1d(axes), arms, strict=True):
        runs = result["mixture_weights"][arm]
        seeds = sorted(runs)
        domains = sorted(runs[seeds[0]][0][1])
        for domain in domains:
            for index, seed in enumerate(seeds):
                points = runs[seed]
                axis.plot(
                    [step for step, _ in points],
                    [weights[domain] for _, weights in points],
                    color=f"C{domains.index(domain)}",
                    alpha=1.0 if index == 0 else 0.35,
                    label=domain if index == 0 else None,
                )
        axis.set_xlabel("training step")
        axis.set_title(MIXTURE_ARMS.get(arm, arm), fontsize=10)
    np.atleast_1d(axes)[0].set_ylabel("sampling weight")
    np.atleast_1d(axes)[0].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["loading", "experiment", "all"], default="all")
    parser.add_argument("--docs", type=int, default=10_000, help="smaller loading release")
    parser.add_argument("--repeats", type=int, default=3, help="loading runs per engine")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps per run")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once (experiment)")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    parser.add_argument("--plot", type=Path, default=RESULTS / "serving_mixture_weights.png")
    parser.add_argument(
        "--engine", choices=["dataset", "pyarrow", "pyarrow_raw"], help=argparse.SUPPRESS
    )
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--release", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        if args.engine == "dataset":
            print(json.dumps(dataset_engine(args.root, args.release)))
        else:
            raw = args.engine == "pyarrow_raw"
            print(json.dumps(pyarrow_engine(args.root, args.release, raw=raw)))
        return
    work = args.keep or Path(tempfile.mkdtemp(prefix="funnel-bench-serving-"))
    result: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv)}
    try:
        if args.part in ("loading", "all"):
            print(f"loading: {args.docs} and {args.docs * 10} documents", flush=True)
            result["loading"] = loading(args.docs, work / "loading", args.repeats)
            for docs, sizes in result["loading"]["sizes"].items():
                print(f"  {docs} docs: ReleaseDataset / pyarrow = {sizes['ratio_vs_pyarrow']}")
            print(f"  peak memory growth at 10x: {result['loading']['memory_growth_10x']}")
        if args.part in ("experiment", "all"):
            print(f"experiment: seeds {args.seeds}, {args.steps} steps per run", flush=True)
            result["experiment"] = experiment(
                args.seeds, args.steps, work / "experiment", args.jobs
            )
            for arm, lever in result["experiment"]["levers"].items():
                print(
                    f"  {arm}: steps to uniform's final loss / uniform's steps = "
                    f"{lever['mean_steps_share']} (per seed {lever['steps_share_per_seed']}, "
                    f"stdev {lever['spread_stdev']})"
                )
            print(f"  mixture weights plot: {plot_mixture(result['experiment'], args.plot)}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    name = "serving" if args.part == "all" else f"serving_{args.part}"
    print(f"result: {write_result(name, result, RESULTS)}")


if __name__ == "__main__":
    main()
