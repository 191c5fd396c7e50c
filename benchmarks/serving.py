"""Serving: releases into training, and the data–model levers.

    python -m benchmarks.serving [--quick] [--part loading|experiment|all] [--docs 10000]
        [--repeats 3] [--seeds 0 1 2] [--steps 400] [--reference-steps N] [--jobs 2] [--keep DIR]

**Loading.** Two releases are published from the sample corpus (its documents cycled under new
doc ids, domains interleaved): `--docs` and ten times as many documents. In fresh processes,
one reader each (what one DataLoader worker runs), engines alternating, `--repeats` rounds:
`ReleaseDataset` (text, no tokenizer, default buffer) against the peer, a plain pyarrow scan of
the same pinned Parquet files producing the same per-sample dicts (`pyarrow.dataset` → record
batches → `to_pylist`). Samples/s (median of the rounds) and the ratio; peak resident memory of
each process at both sizes. A raw Arrow scan (no per-sample objects) is reported too, as the
ceiling.

**Levers.** A release built from the sample corpus with its planted noise kept on purpose
(junk, off-domain pages, exact and near duplicates, per `ground_truth.jsonl.gz`); held out:
clean documents that are not in the release, a random draw split in two (HELDOUT_DOCS for
evaluation, REFERENCE_DOCS for the reference model). A tiny byte-level GPT (2 layers, 4 heads,
width 64, context 128 bytes) is trained on CPU from `ReleaseDataLoader` (batches of 16) with every
step logged to `serving/consumption`, once per arm and seed, one torch thread per seed process;
held-out loss about 40 times a run. Per seed, a reference model of the same architecture is
trained first on the reference holdout, as many steps as the arms (RHO-LOSS's irreducible-loss
model, DoReMi's reference model). All arms use AdamW (3e-3, 20 warm-up steps, cosine decay to
10 %) and the same optimizer steps.

- uniform: the release as it comes (documents drawn uniformly);
- selection: RHO-LOSS — draw SELECTION_DRAW times the batch (64), score all with the model and
  the reference model, train on the 16 with the largest excess loss;
- mixture: excess-loss mixing — domain weights from each domain's excess loss over the
  reference model, around the release's own domain shares;
- mixture_exp3: Online Data Mixing (EXP3 over domains, loss as reward), the paper's rule;
- reweighting: per-sample loss weights from the loss (bounded, mean 1).

Result per lever, as shares of uniform's (same seed), mean ± standard deviation over the seeds:
the optimizer steps, the wall time and the samples read until the held-out loss first reaches
uniform's final held-out loss. Wall time is the training loop's time (held-out evaluations left
out), plus, for the levers that use the reference model (selection and the excess-loss mixture),
the reference model's whole training time. Samples read count every drawn sample, kept or not.
The mixture arms' domain weights over time are drawn to a PNG (`--plot`).
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

from benchmarks.measure import load_average, peak_rss_mb, record, run_engine, spread
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
LEARNING_RATE = 3e-3
WARMUP = 20
HELDOUT_DOCS = 200
REFERENCE_DOCS = 600
# Levers that score with the reference model, so its training is part of their cost.
REFERENCE_ARMS = ("selection", "mixture")
SELECTION_DRAW = 4
FULL_DOCS = 10_000
QUICK_DOCS = 2_000
FULL_STEPS = 400
QUICK_STEPS = 60


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


def loading(docs: int, work: Path, repeats: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Samples/s and peak memory of ReleaseDataset and the pyarrow peers at docs and 10× docs;
    engines alternate, each run in a fresh process; medians over `repeats`: (summary, runs)."""
    root = str(work / "lake")
    catalog = Catalog(root)
    documents = sample_documents()
    sizes: dict[int, Any] = {}
    raw: dict[int, Any] = {}
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
                "samples_per_s": spread([run["samples_per_s"] for run in runs[engine]], 0),
                "peak_rss_mb": round(max(run["peak_rss_mb"] for run in runs[engine]), 1),
            }
            print(
                f"  {docs * factor} docs, {engine}: {results[engine]['samples_per_s']} "
                f"samples/s, peak {results[engine]['peak_rss_mb']:.0f} MiB",
                flush=True,
            )
        # Each round's ratio pairs runs made one after the other, under the same load.
        per_round = [
            ours["samples_per_s"] / peer["samples_per_s"]
            for ours, peer in zip(runs["dataset"], runs["pyarrow"], strict=True)
        ]
        results["ratio_vs_pyarrow"] = spread(per_round)
        sizes[docs * factor] = results
        raw[docs * factor] = runs
    small, large = sizes[docs], sizes[docs * 10]
    summary = {
        "repeats": repeats,
        "sizes": sizes,
        "memory_growth_10x": {
            engine: round(large[engine]["peak_rss_mb"] / small[engine]["peak_rss_mb"], 3)
            for engine in ("dataset", "pyarrow")
        },
    }
    return summary, raw


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
    """Train the tiny model with one lever; every `eval_every(steps)` steps a curve point
    (step, held-out loss, training seconds so far, samples read so far). The training clock
    leaves the evaluations out; samples read count every drawn sample, kept or not."""
    import torch

    from serving.consumption import ConsumptionLog
    from serving.dataset import ReleaseDataLoader, ReleaseDataset
    from serving.strategies import Composite, LossReport

    dataset = ReleaseDataset(catalog, release, seed=seed, buffer_size=1024, tokenizer=byte_ids)
    draw = SELECTION_DRAW * BATCH if arm == "selection" else BATCH
    loader = ReleaseDataLoader(dataset, batch_size=draw, collate_fn=collate)
    strategy = Composite(arm_strategies(arm, dataset.domains, dataset.domain_rows))
    # Excess loss (selection, excess-loss mixing) needs the reference model's view of the batch.
    needs_reference = arm in REFERENCE_ARMS
    model = tiny_gpt(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    learning_rate = schedule(optimizer, steps)
    curve = [(0, heldout_loss(model, heldout), 0.0, 0)]
    every = eval_every(steps)
    seconds = 0.0
    read = 0
    mixture = [(0, dataset.domain_weights)]
    batches = iter(loader)
    epoch = 0
    with ConsumptionLog(catalog, f"{arm}-seed{seed}", release, flush_rows=4096) as log:
        for step in range(1, steps + 1):
            started = time.perf_counter()
            batch = next(batches, None)
            if batch is None or len(batch["doc_id"]) < draw:
                epoch += 1
                dataset.set_epoch(epoch)
                batches = iter(loader)
                batch = next(batches)
            read += len(batch["doc_id"])
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
            seconds += time.perf_counter() - started
            if step % every == 0 or step == steps:
                curve.append((step, heldout_loss(model, heldout), round(seconds, 3), read))
    return {"curve": curve, "mixture": mixture}


def eval_every(steps: int) -> int:
    """Steps between held-out evaluations: about 40 points a run, at least 5 steps apart."""
    return max(5, steps // 40)


def first_reaching(curve: list[Any], target: float) -> tuple[int, float, float, int] | None:
    """The first curve point after step 0 whose held-out loss is at most `target`, as
    (step, loss, training seconds, samples read); None when the run never gets there."""
    for step, loss, seconds, read in curve:
        if step > 0 and loss <= target:
            return step, loss, seconds, read
    return None


def mean_and_spread(values: list[float | None], digits: int = 3) -> dict[str, Any]:
    """Mean, sample standard deviation, min and max over seeds; None figures when a seed
    never got there (a lever that misses on one seed has no mean)."""
    finite = [value for value in values if value is not None]
    reached = len(finite) == len(values)
    return {
        "per_seed": [round(value, digits) if value is not None else None for value in values],
        "mean": round(statistics.mean(finite), digits) if reached else None,
        "stdev": round(statistics.stdev(finite), digits) if reached and len(finite) > 1 else None,
        "min": round(min(finite), digits) if finite else None,
        "max": round(max(finite), digits) if finite else None,
        "reached_in": f"{len(finite)}/{len(values)} seeds",
    }


def lever_costs(
    runs: dict[str, dict[int, dict[str, Any]]], reference_seconds: dict[int, float]
) -> dict[str, Any]:
    """Per lever, what it took to reach uniform's final held-out loss (same seed), as shares
    of what uniform took: optimizer steps, wall time and samples read. Levers that need the
    reference model (REFERENCE_ARMS) are charged its training time."""
    seeds = sorted(reference_seconds)
    costs = {}
    for arm in runs:
        steps_, seconds_, read_ = [], [], []
        for seed in seeds:
            uniform_curve = runs["uniform"][seed]["curve"]
            final_step, target, uniform_seconds, uniform_read = uniform_curve[-1]
            point = first_reaching(runs[arm][seed]["curve"], target)
            if point is None:
                steps_.append(None), seconds_.append(None), read_.append(None)
                continue
            step, _, seconds, read = point
            extra = reference_seconds[seed] if arm in REFERENCE_ARMS else 0.0
            steps_.append(step / final_step)
            seconds_.append((seconds + extra) / uniform_seconds)
            read_.append(read / uniform_read)
        costs[arm] = {
            "steps_share": mean_and_spread(steps_),
            "wall_time_share": mean_and_spread(seconds_),
            "samples_read_share": mean_and_spread(read_),
            "final_heldout_loss": mean_and_spread(
                [runs[arm][seed]["curve"][-1][1] for seed in seeds], 4
            ),
            "charged_reference_training": arm in REFERENCE_ARMS,
        }
    return costs


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


def seed_runs(seed: int, steps: int, reference_steps: int, work: Path) -> dict[str, Any]:
    """One seed: the reference model, then every arm (its own lake, so seeds run in parallel)."""
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    catalog = Catalog(str(work / f"seed-{seed}" / "lake"))
    release = experiment_release(catalog)
    reference_started = time.perf_counter()
    reference = train_reference(release["reference_texts"], reference_steps, seed)
    reference_seconds = round(time.perf_counter() - reference_started, 3)
    runs: dict[str, Any] = {
        "reference_heldout_loss": heldout_loss(reference, release["heldout"]),
        "reference_seconds": reference_seconds,
    }
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


def experiment(
    seeds: list[int], steps: int, reference_steps: int, work: Path, jobs: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every arm × seed: (summary, raw runs). Per lever, the steps, wall time (reference model
    training included where the lever uses it) and samples read to reach uniform's final
    held-out loss, as shares of uniform's. `jobs` > 1 runs that many seeds at once, one
    process each (one torch thread per process)."""
    release = experiment_release(Catalog(str(work / "release")))
    print(
        f"  release sample-noisy: {release['documents']} documents, {release['noise']:.1%} "
        f"planted noise; held out {HELDOUT_DOCS} clean for evaluation, {REFERENCE_DOCS} for "
        f"the reference; {release['evaluation_copies_left_out']} copies of evaluation documents "
        "left out",
        flush=True,
    )
    if jobs > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(jobs, mp_context=context) as pool:
            futures = {
                seed: pool.submit(seed_runs, seed, steps, reference_steps, work) for seed in seeds
            }
            by_seed = {seed: future.result() for seed, future in futures.items()}
    else:
        by_seed = {seed: seed_runs(seed, steps, reference_steps, work) for seed in seeds}
    runs = {arm: {seed: by_seed[seed][arm] for seed in seeds} for arm in ARMS}
    reference_seconds = {seed: by_seed[seed]["reference_seconds"] for seed in seeds}
    uniform = [runs["uniform"][seed]["curve"][-1] for seed in seeds]
    summary = {
        "release_documents": release["documents"],
        "evaluation_copies_left_out": release["evaluation_copies_left_out"],
        "planted_noise_share": round(release["noise"], 4),
        "steps": steps,
        "eval_every": eval_every(steps),
        "batch": BATCH,
        "selection_draw": SELECTION_DRAW * BATCH,
        "seeds": seeds,
        "jobs": jobs,
        "uniform": {
            "final_heldout_loss": mean_and_spread([point[1] for point in uniform], 4),
            "training_seconds": mean_and_spread([point[2] for point in uniform], 1),
            "samples_read": uniform[0][3],
        },
        "reference_model": {
            "documents": REFERENCE_DOCS,
            "steps": reference_steps,
            "training_seconds": mean_and_spread(list(reference_seconds.values()), 1),
            "heldout_loss": mean_and_spread(
                [by_seed[seed]["reference_heldout_loss"] for seed in seeds], 4
            ),
        },
        "levers": {arm: costs for arm, costs in lever_costs(runs, reference_seconds).items()},
    }
    raw = {
        "seconds_per_seed": {seed: by_seed[seed]["seconds"] for seed in seeds},
        "reference_seconds": reference_seconds,
        "curves": {arm: {seed: runs[arm][seed]["curve"] for seed in seeds} for arm in ARMS},
        "mixture_weights": {
            arm: {seed: runs[arm][seed]["mixture"] for seed in seeds} for arm in MIXTURE_ARMS
        },
    }
    return summary, raw


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


def _share(figures: dict[str, Any]) -> str:
    """A share over seeds as `mean ± stdev (min–max)`, or how many seeds reached the target."""
    if figures["mean"] is None:
        return f"not reached ({figures['reached_in']})"
    stdev = f" ± {figures['stdev']}" if figures["stdev"] is not None else ""
    return f"{figures['mean']}{stdev} ({figures['min']}–{figures['max']})"


def render(result: dict[str, Any]) -> str:
    """Markdown tables: loading rates with their ratio, and each lever's costs to reach
    uniform's final held-out loss."""
    summary = result["summary"]
    parts = []
    if "loading" in summary:
        rows = [
            f"**Loading**, median of {summary['loading']['repeats']} alternating rounds "
            "(min–max), one reader each:",
            "",
            "| documents | ReleaseDataset samples/s | pyarrow scan samples/s | ratio (per round) "
            "| raw Arrow scan samples/s | peak RSS ReleaseDataset / pyarrow, MiB |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for docs, engines in summary["loading"]["sizes"].items():
            cells = [
                f"{engines[engine]['samples_per_s']['median']:,.0f} "
                f"({engines[engine]['samples_per_s']['min']:,.0f}–"
                f"{engines[engine]['samples_per_s']['max']:,.0f})"
                for engine in ("dataset", "pyarrow")
            ]
            ratio = engines["ratio_vs_pyarrow"]
            rows.append(
                f"| {int(docs):,} | {cells[0]} | {cells[1]} | {ratio['median']} "
                f"({ratio['min']}–{ratio['max']}) | "
                f"{engines['pyarrow_raw']['samples_per_s']['median']:,.0f} | "
                f"{engines['dataset']['peak_rss_mb']:.0f} / "
                f"{engines['pyarrow']['peak_rss_mb']:.0f} |"
            )
        growth = summary["loading"]["memory_growth_10x"]
        rows += [
            "",
            f"Peak memory at 10× the documents: ReleaseDataset {growth['dataset']}×, "
            f"pyarrow {growth['pyarrow']}×.",
        ]
        parts.append("\n".join(rows))
    if "experiment" in summary:
        experiment_ = summary["experiment"]
        uniform = experiment_["uniform"]
        reference = experiment_["reference_model"]
        rows = [
            f"**Levers**, {len(experiment_['seeds'])} seeds × {experiment_['steps']} optimizer "
            f"steps of {experiment_['batch']} samples (held-out loss every "
            f"{experiment_['eval_every']} steps). Uniform ends at held-out loss "
            f"{uniform['final_heldout_loss']['mean']} ± {uniform['final_heldout_loss']['stdev']} "
            f"after {uniform['training_seconds']['mean']} s of training and "
            f"{uniform['samples_read']:,} samples read; the reference model "
            f"({reference['documents']} documents, {reference['steps']} steps) trains in "
            f"{reference['training_seconds']['mean']} s. Shares of uniform's cost to reach "
            "uniform's final held-out loss, mean ± stdev over seeds (min–max); wall time "
            "includes the reference model's training for the levers that use it (†):",
            "",
            "| lever | final held-out loss | optimizer steps | wall time | samples read |",
            "|---|---:|---:|---:|---:|",
        ]
        for arm, costs in experiment_["levers"].items():
            loss = costs["final_heldout_loss"]
            mark = " †" if costs["charged_reference_training"] else ""
            rows.append(
                f"| {arm}{mark} | {loss['mean']} ± {loss['stdev']} | "
                f"{_share(costs['steps_share'])} | {_share(costs['wall_time_share'])} | "
                f"{_share(costs['samples_read_share'])} |"
            )
        parts.append("\n".join(rows))
    return "\n\n".join(parts)


def main(argv: list[str]) -> None:
    """Command-line entry point: run the chosen parts and record them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="reduced sizes (make bench-quick)")
    parser.add_argument("--part", choices=["loading", "experiment", "all"], default="all")
    parser.add_argument("--docs", type=int, help="smaller loading release (default 10000)")
    parser.add_argument("--repeats", type=int, default=3, help="loading runs per engine")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, help="optimizer steps per run (default 400)")
    parser.add_argument("--reference-steps", type=int, help="default: as many as --steps")
    parser.add_argument("--jobs", type=int, default=2, help="seeds run at once (experiment)")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: temporary)")
    parser.add_argument("--plot", type=Path, default=RESULTS / "serving_mixture_weights.png")
    parser.add_argument(
        "--engine", choices=["dataset", "pyarrow", "pyarrow_raw"], help=argparse.SUPPRESS
    )
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--release", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.engine:
        if args.engine == "dataset":
            print(json.dumps(dataset_engine(args.root, args.release)))
        else:
            raw = args.engine == "pyarrow_raw"
            print(json.dumps(pyarrow_engine(args.root, args.release, raw=raw)))
        return
    docs = args.docs or (QUICK_DOCS if args.quick else FULL_DOCS)
    steps = args.steps or (QUICK_STEPS if args.quick else FULL_STEPS)
    reference_steps = args.reference_steps or steps
    command = " ".join(["python -m benchmarks.serving", *argv])
    load_before = load_average()
    work = args.keep or Path(tempfile.mkdtemp(prefix="funnel-bench-serving-"))
    summary: dict[str, Any] = {}
    runs: dict[str, Any] = {}
    try:
        if args.part in ("loading", "all"):
            print(f"loading: {docs} and {docs * 10} documents", flush=True)
            summary["loading"], runs["loading"] = loading(docs, work / "loading", args.repeats)
            for size, engines in summary["loading"]["sizes"].items():
                ratio = engines["ratio_vs_pyarrow"]
                print(f"  {size} docs: ReleaseDataset / pyarrow = {ratio['median']} {ratio}")
            print(f"  peak memory growth at 10x: {summary['loading']['memory_growth_10x']}")
        if args.part in ("experiment", "all"):
            print(f"experiment: seeds {args.seeds}, {steps} steps per run", flush=True)
            summary["experiment"], runs["experiment"] = experiment(
                args.seeds, steps, reference_steps, work / "experiment", args.jobs
            )
            for arm, costs in summary["experiment"]["levers"].items():
                print(
                    f"  {arm}: to uniform's final loss, shares of uniform's steps "
                    f"{_share(costs['steps_share'])}, wall time {_share(costs['wall_time_share'])}"
                    f", samples read {_share(costs['samples_read_share'])}"
                )
            print(f"  mixture weights plot: {plot_mixture(runs['experiment'], args.plot)}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    name = "serving" if args.part == "all" else f"serving_{args.part}"
    path = record(name, command, summary, runs, quick=args.quick, load_before=load_before)
    print(f"result: {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
