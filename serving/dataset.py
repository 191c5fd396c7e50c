"""`ReleaseDataset`: a published release streamed into training, sharded, shuffled, mixed and
exactly resumable.

What is read is exactly the release: the Parquet files of `gold/release_candidate` at the version
the release's manifest pins. Nothing loads the release whole; the unit of reading and sharding is
a *unit*, at most `buffer_size` consecutive rows of one Parquet row group.

Order of one epoch, all of it a function of (seed, epoch):

1. The units are shuffled and dealt round-robin to the shards. There is one shard per
   (distributed rank × DataLoader worker), so every unit, hence every row, belongs to exactly
   one shard: no overlap and no gap.
2. Inside a shard, each domain is a stream: the rows of that domain in the dealt units, unit by
   unit (a *piece* per unit), each piece's rows in a seeded permutation (the shuffle buffer: at
   most one piece, ≤ `buffer_size` rows, per stream). All streams walk the same unit order, so a
   small cache of decoded row groups (`cache_row_groups`) lets them share one read.
3. Sample `n` of a shard takes the domain whose cumulative-weight interval holds the uniform draw
   `u[n]`. The draws are a fixed sequence per (seed, epoch, shard), independent of the weights,
   so weights may change between steps without disturbing what follows. A domain that runs out
   leaves the draw; the epoch ends when every domain with a positive weight has run out.

Memory: at most `buffer_size` rows per domain stream plus `cache_row_groups` decoded row groups.

Resume state (`state_dict()`), JSON-ready:

- `release`, `manifest_sha256`, `seed`, `buffer_size`, `num_shards`: what the order depends on;
  loading a state taken under other values is refused.
- `epoch`, `domain_weights`: the pass being read and the mixture weights in force.
- `shards`: per shard id, `position` (samples consumed) and `consumed` (samples consumed per
  domain). These fix each domain stream's place (its piece and offset within the piece) and
  the next draw; rows that workers had prefetched but training never consumed are not counted,
  so they are read again after a restart, and nothing consumed is read twice.
- `next_shard`: the shard whose batch comes next, so that a restarted DataLoader continues the
  round-robin over its workers where the interrupted one stopped.
"""

from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from lakehouse.catalog import Catalog
from lakehouse.releases import release_files, release_manifest

DEFAULT_BUFFER_SIZE = 8192
DEFAULT_CACHE_ROW_GROUPS = 3
DRAW_BLOCK = 1024
_UNIT_ORDER, _ROW_ORDER, _DRAWS = 1, 2, 3
READ_COLUMNS = ["doc_id", "domain", "text", "weight"]


class MixtureWeightsError(ValueError):
    """Domain weights that cannot define a mixture."""


class ResumeStateError(ValueError):
    """A saved state that does not belong to this dataset or loader."""


@dataclass(frozen=True)
class Unit:
    """Rows `start` to `stop` of one row group, with how many rows of each domain they hold."""

    file: int
    row_group: int
    start: int
    stop: int
    domains: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Piece:
    """The rows of one domain in one unit."""

    unit: int
    domain: str
    rows: int


@dataclass
class ShardProgress:
    """How far training has consumed one shard of the current epoch."""

    position: int = 0
    consumed: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"position": self.position, "consumed": dict(sorted((self.consumed or {}).items()))}


def validate_domain_weights(weights: Mapping[str, float], domains: list[str]) -> dict[str, float]:
    """Weights of every domain (missing ones 0), checked: known names, finite, ≥ 0, not all 0."""
    unknown = sorted(set(weights) - set(domains))
    if unknown:
        raise MixtureWeightsError(
            f"unknown domain(s) {', '.join(unknown)}; the release has {', '.join(domains)}"
        )
    checked = {}
    for domain in domains:
        value = float(weights.get(domain, 0.0))
        if not math.isfinite(value) or value < 0:
            raise MixtureWeightsError(
                f"weight of domain {domain!r} is {value}; weights must be finite and >= 0"
            )
        checked[domain] = value
    if not any(checked.values()):
        raise MixtureWeightsError("every domain weight is 0; give at least one domain a weight > 0")
    return checked


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng([int(part) for part in key])


def _open_parquet(uri: str) -> pq.ParquetFile:
    filesystem, path = pafs.FileSystem.from_uri(uri) if "://" in uri else (None, uri)
    if filesystem is None:
        return pq.ParquetFile(path)
    return pq.ParquetFile(filesystem.open_input_file(path))


def release_units(files: list[str], buffer_size: int) -> list[Unit]:
    """Every unit of the files, in file and row-group order.

    Reads only the `domain` column (or nothing, where row-group statistics show one domain).
    """
    units = []
    for file_index, uri in enumerate(files):
        parquet = _open_parquet(uri)
        domain_column = parquet.schema_arrow.get_field_index("domain")
        for group in range(parquet.metadata.num_row_groups):
            meta = parquet.metadata.row_group(group)
            stats = meta.column(domain_column).statistics
            single = stats is not None and stats.has_min_max and stats.min == stats.max
            values = None if single else parquet.read_row_group(group, columns=["domain"])
            for start in range(0, meta.num_rows, buffer_size):
                stop = min(meta.num_rows, start + buffer_size)
                if values is None:
                    counts = {str(stats.min): stop - start}
                else:
                    chunk = values["domain"].slice(start, stop - start)
                    counted = pc.value_counts(chunk).to_pylist()
                    counts = {entry["values"]: entry["counts"] for entry in counted}
                units.append(Unit(file_index, group, start, stop, tuple(sorted(counts.items()))))
    return units


class _RowGroupCache:
    """The last few decoded row groups of a shard, least recently used evicted first."""

    def __init__(self, files: list[str], capacity: int):
        self.files = files
        self.capacity = capacity
        self.tables: OrderedDict[tuple[int, int], pa.Table] = OrderedDict()
        self.reads = 0

    def row_group(self, file: int, group: int) -> pa.Table:
        """Row group `group` of file `file`, decoded (read unless cached)."""
        key = (file, group)
        table = self.tables.get(key)
        if table is None:
            table = _open_parquet(self.files[file]).read_row_group(group, columns=READ_COLUMNS)
            self.reads += 1
            self.tables[key] = table
            while len(self.tables) > self.capacity:
                self.tables.popitem(last=False)
        else:
            self.tables.move_to_end(key)
        return table


class _DomainStream:
    """One domain's rows in one shard: its pieces of the dealt units in order, each permuted."""

    def __init__(
        self,
        dataset: ReleaseDataset,
        cache: _RowGroupCache,
        domain_index: int,
        pieces: list[Piece],
        consumed: int,
    ):
        self.dataset = dataset
        self.cache = cache
        self.domain_index = domain_index
        self.domain = dataset.domains[domain_index]
        self.pieces = pieces
        self.total = sum(piece.rows for piece in pieces)
        self.consumed = consumed
        self.piece_index = -1
        self.rows: dict[str, list[Any]] = {}
        self.offset = 0
        if consumed > self.total:
            raise ResumeStateError(
                f"the state says {consumed} rows of domain {self.domain} were consumed, but "
                f"this shard holds {self.total}; the state belongs to another release or layout"
            )
        ends = np.cumsum([piece.rows for piece in pieces]).tolist()
        if consumed < self.total:
            self._load(bisect.bisect_right(ends, consumed))
            self.offset = consumed - (ends[self.piece_index] - pieces[self.piece_index].rows)

    @property
    def remaining(self) -> int:
        """Rows of this stream not yet taken."""
        return self.total - self.consumed

    def _load(self, index: int) -> None:
        piece = self.pieces[index]
        unit = self.dataset.units[piece.unit]
        table = self.cache.row_group(unit.file, unit.row_group)
        table = table.slice(unit.start, unit.stop - unit.start)
        if len(unit.domains) > 1:
            table = table.filter(pc.equal(table["domain"], self.domain))
        order = _rng(
            self.dataset.seed, self.dataset.epoch, _ROW_ORDER, self.domain_index, piece.unit
        ).permutation(piece.rows)
        table = table.take(pa.array(order))
        self.rows = {name: table[name].to_pylist() for name in ("doc_id", "text", "weight")}
        self.piece_index = index
        self.offset = 0
        self.dataset.peak_buffered_rows = max(self.dataset.peak_buffered_rows, piece.rows)

    def take(self) -> int:
        """Index into `rows` of the next row (loading the next piece when this one is done)."""
        if self.offset >= self.pieces[self.piece_index].rows:
            self._load(self.piece_index + 1)
        index = self.offset
        self.offset += 1
        self.consumed += 1
        return index


class ReleaseDataset(IterableDataset):
    """A published release as a torch `IterableDataset` (see the module docstring for the order
    and the resume state).

    Samples are dicts: `doc_id`, `domain`, `text` (or `input_ids` when a tokenizer is given),
    `weight` (the release's per-sample weight), `shard` and `position` (the sample's place in its
    shard's stream, what resume tracking counts).
    """

    def __init__(
        self,
        catalog: Catalog | str,
        release: str,
        *,
        seed: int = 0,
        epoch: int = 0,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        cache_row_groups: int = DEFAULT_CACHE_ROW_GROUPS,
        domain_weights: Mapping[str, float] | None = None,
        tokenizer: Callable[[str], list[int]] | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ):
        super().__init__()
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
        catalog = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
        manifest = release_manifest(catalog, release)
        self.release = release
        self.manifest_sha256 = manifest.sha256
        self.files = release_files(catalog, release)
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.buffer_size = int(buffer_size)
        self.tokenizer = tokenizer
        if world_size is None and dist.is_available() and dist.is_initialized():
            world_size = dist.get_world_size()
            rank = dist.get_rank() if rank is None else rank
        self.world_size = int(world_size or 1)
        self.rank = int(rank or 0)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in [0, world_size={self.world_size})")
        if cache_row_groups < 1:
            raise ValueError(f"cache_row_groups must be >= 1, got {cache_row_groups}")
        self.cache_row_groups = int(cache_row_groups)
        self.units = release_units(self.files, self.buffer_size)
        domain_rows: dict[str, int] = {}
        for unit in self.units:
            for domain, rows in unit.domains:
                domain_rows[domain] = domain_rows.get(domain, 0) + rows
        self.domain_rows = dict(sorted(domain_rows.items()))
        self.domains = list(self.domain_rows)
        # Shared memory: DataLoader workers see weights set in the training process.
        self._weights = torch.zeros(len(self.domains) + 1, dtype=torch.float64).share_memory_()
        self.set_domain_weights(domain_weights or self.domain_rows)
        self._progress: dict[int, ShardProgress] = {}
        self._progress_shards: int | None = None
        self.next_shard = 0
        self.peak_buffered_rows = 0

    @property
    def num_rows(self) -> int:
        """Rows of the release: the samples of one epoch over all shards."""
        return sum(self.domain_rows.values())

    # Mixture weights ------------------------------------------------------------------------

    @property
    def domain_weights(self) -> dict[str, float]:
        """The mixture weights in force, normalized to sum to 1."""
        values = self._weights[1:].tolist()
        total = sum(values)
        return {domain: value / total for domain, value in zip(self.domains, values, strict=True)}

    def set_domain_weights(self, weights: Mapping[str, float]) -> None:
        """Sampling weight per domain from the next sample on (unnormalized, ≥ 0)."""
        checked = validate_domain_weights(weights, self.domains)
        total = sum(checked.values())
        self._weights[1:] = torch.tensor(
            [checked[d] / total for d in self.domains], dtype=torch.float64
        )
        self._weights[0] += 1  # version, so readers notice a change cheaply

    # Sharding and epochs --------------------------------------------------------------------

    def num_shards(self, num_workers: int) -> int:
        """Shards of one epoch: ranks × DataLoader workers (a worker-less loader counts as 1)."""
        return self.world_size * max(1, num_workers)

    def shard_pieces(self, shard: int, num_shards: int) -> dict[str, list[Piece]]:
        """The pieces shard `shard` of `num_shards` reads this epoch, per domain, in order."""
        order = _rng(self.seed, self.epoch, _UNIT_ORDER).permutation(len(self.units))
        dealt: dict[str, list[Piece]] = {domain: [] for domain in self.domains}
        for unit_index in order[shard::num_shards].tolist():
            for domain, rows in self.units[unit_index].domains:
                dealt[domain].append(Piece(unit_index, domain, rows))
        return dealt

    def set_epoch(self, epoch: int) -> None:
        """Start pass `epoch`: a new shuffle, nothing consumed yet."""
        self.epoch = int(epoch)
        self._progress = {}
        self.next_shard = 0

    # Reading --------------------------------------------------------------------------------

    def _current_shard(self) -> tuple[int, int]:
        info = get_worker_info()
        workers = info.num_workers if info is not None else 0
        worker = info.id if info is not None else 0
        num_shards = self.num_shards(workers)
        local = (worker + self.next_shard) % max(1, workers)
        return self.rank * max(1, workers) + local, num_shards

    def __iter__(self) -> Iterator[dict[str, Any]]:
        shard, num_shards = self._current_shard()
        return self.shard_samples(shard, num_shards)

    def shard_samples(self, shard: int, num_shards: int) -> Iterator[dict[str, Any]]:
        """The samples of shard `shard` of `num_shards`, from where its progress stands
        (what a DataLoader worker yields; callable directly to inspect sharding)."""
        if not 0 <= shard < num_shards:
            raise ValueError(f"shard {shard} is not in [0, {num_shards})")
        if self._progress and self._progress_shards not in (None, num_shards):
            raise ResumeStateError(
                f"the resume state was taken with {self._progress_shards} shards (ranks × "
                f"workers) but this run has {num_shards}; resume with the same world size and "
                "num_workers"
            )
        self._progress_shards = num_shards
        progress = self._progress.setdefault(shard, ShardProgress(0, {}))
        consumed = progress.consumed if progress.consumed is not None else {}
        progress.consumed = consumed
        dealt = self.shard_pieces(shard, num_shards)
        cache = _RowGroupCache(self.files, self.cache_row_groups)
        streams = [
            _DomainStream(self, cache, index, dealt[domain], consumed.get(domain, 0))
            for index, domain in enumerate(self.domains)
        ]
        return self._samples(shard, progress, streams)

    def _samples(
        self, shard: int, progress: ShardProgress, streams: list[_DomainStream]
    ) -> Iterator[dict[str, Any]]:
        weights_view = self._weights.numpy()
        seen_version = -1.0
        cumulative: list[float] = []
        total = 0.0
        last_active = 0
        block = -1
        draws: list[float] = []
        consumed = progress.consumed
        assert consumed is not None
        tokenizer = self.tokenizer
        domains = self.domains
        n = progress.position
        while True:
            if weights_view[0] != seen_version or not cumulative:
                seen_version = float(weights_view[0])
                cumulative, total, last_active = _cumulative(weights_view[1:], streams)
                if total <= 0:
                    return
            if n // DRAW_BLOCK != block:
                block = n // DRAW_BLOCK
                draws = _rng(self.seed, self.epoch, _DRAWS, shard, block).random(DRAW_BLOCK)
                draws = draws.tolist()
            # A draw that rounds up to the total belongs to the last domain still drawn.
            chosen = bisect.bisect_right(cumulative, draws[n % DRAW_BLOCK] * total)
            chosen = min(chosen, last_active)
            stream = streams[chosen]
            row = stream.take()
            rows = stream.rows
            domain = domains[chosen]
            sample = {
                "doc_id": rows["doc_id"][row],
                "domain": domain,
                "weight": rows["weight"][row],
                "shard": shard,
                "position": n,
            }
            text = rows["text"][row]
            if tokenizer is None:
                sample["text"] = text
            else:
                sample["input_ids"] = tokenizer(text)
            n += 1
            progress.position = n
            consumed[domain] = consumed.get(domain, 0) + 1
            if stream.remaining == 0:
                cumulative = []
            yield sample

    # Resume state ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Where reading stands (see the module docstring for the fields)."""
        return {
            "release": self.release,
            "manifest_sha256": self.manifest_sha256,
            "seed": self.seed,
            "buffer_size": self.buffer_size,
            "num_shards": self._progress_shards,
            "epoch": self.epoch,
            "domain_weights": self.domain_weights,
            "shards": {str(k): v.as_dict() for k, v in sorted(self._progress.items())},
            "next_shard": self.next_shard,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from `state`: the next sample is the one after the last one consumed."""
        expected = {
            "release": self.release,
            "manifest_sha256": self.manifest_sha256,
            "seed": self.seed,
            "buffer_size": self.buffer_size,
        }
        missing = sorted({*expected, "epoch", "shards", "domain_weights"} - set(state))
        if missing:
            raise ResumeStateError(f"resume state lacks {', '.join(missing)}")
        for key, value in expected.items():
            if state[key] != value:
                raise ResumeStateError(
                    f"resume state has {key}={state[key]!r} but this dataset has {value!r}; "
                    "a state only resumes the same release, seed and buffer_size"
                )
        self.epoch = int(state["epoch"])
        self.set_domain_weights(state["domain_weights"])
        self._progress = {
            int(shard): ShardProgress(int(entry["position"]), dict(entry["consumed"]))
            for shard, entry in state["shards"].items()
        }
        if state.get("num_shards") is not None:
            self._progress_shards = int(state["num_shards"])
        self.next_shard = int(state.get("next_shard", 0))

    def record_consumed(self, shards: list[int], domains: list[str], positions: list[int]) -> None:
        """Count samples the training process consumed (what a loader with workers reports)."""
        for shard, domain, position in zip(shards, domains, positions, strict=True):
            progress = self._progress.setdefault(shard, ShardProgress(0, {}))
            assert progress.consumed is not None
            progress.position = position + 1
            progress.consumed[domain] = progress.consumed.get(domain, 0) + 1


def _cumulative(
    weights: np.ndarray, streams: list[_DomainStream]
) -> tuple[list[float], float, int]:
    """Cumulative weights over domains that still have rows (exhausted ones weigh 0), their
    total, and the index of the last domain with a positive weight."""
    cumulative = []
    total = 0.0
    last_active = 0
    for index, (weight, stream) in enumerate(zip(weights.tolist(), streams, strict=True)):
        if stream.remaining > 0 and weight > 0:
            total += weight
            last_active = index
        cumulative.append(total)
    return cumulative, total, last_active


def _consumed_columns(batch: Any) -> tuple[list[int], list[str], list[int]]:
    """Shard, domain and position of every sample of a batch (collated dict or list of dicts)."""
    if isinstance(batch, Mapping):
        shards = torch.as_tensor(batch["shard"]).reshape(-1).tolist()
        positions = torch.as_tensor(batch["position"]).reshape(-1).tolist()
        domains = batch["domain"]
        domains = [domains] if isinstance(domains, str) else list(domains)
        return shards, domains, positions
    samples = list(batch)
    return (
        [int(sample["shard"]) for sample in samples],
        [sample["domain"] for sample in samples],
        [int(sample["position"]) for sample in samples],
    )


class ReleaseDataLoader(DataLoader):
    """A DataLoader over a `ReleaseDataset` whose `state_dict()` counts what training consumed.

    With worker processes the dataset copies in the workers run ahead (prefetching); the loader
    counts each batch as it hands it to training, so a state saved between steps resumes after
    the last consumed sample. Batches must keep the samples' `shard`, `domain` and `position`.
    """

    def __init__(self, dataset: ReleaseDataset, **kwargs: Any):
        if kwargs.get("persistent_workers"):
            raise ValueError(
                "persistent_workers cannot follow resume state or epoch changes; leave it False"
            )
        super().__init__(dataset, **kwargs)
        self.release_dataset = dataset

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        dataset = self.release_dataset
        workers = self.num_workers
        if workers == 0:
            yield from super().__iter__()
            return
        num_shards = dataset.num_shards(workers)
        known = dataset._progress_shards
        if dataset._progress and known is not None and known != num_shards:
            raise ResumeStateError(
                f"the resume state was taken with {known} shards (ranks × workers) but this "
                f"loader has {num_shards}; resume with the same world size and num_workers"
            )
        dataset._progress_shards = num_shards
        for batch in super().__iter__():
            shards, domains, positions = _consumed_columns(batch)
            dataset.record_consumed(shards, domains, positions)
            if shards:
                dataset.next_shard = (shards[-1] - dataset.rank * workers + 1) % workers
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """The dataset's resume state as of the last batch handed out."""
        return self.release_dataset.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume after the last batch consumed when `state` was taken."""
        self.release_dataset.load_state_dict(state)
