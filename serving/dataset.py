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
   small cache of decoded row groups (`cache_row_groups`) lets them share one read, and a cache
   of as many units converted to Python objects lets them share one conversion: a piece is then
   its domain's row indices, permuted, picked out of the converted unit (no Arrow copy).
3. Sample `n` of a shard takes the domain whose cumulative-weight interval holds the uniform draw
   `u[n]`. The draws are a fixed sequence per (seed, epoch, shard), independent of the weights,
   so weights may change between steps without disturbing what follows. A domain that runs out
   leaves the draw; the epoch ends when every domain with a positive weight has run out. The
   choices are computed a block of draws at a time (vectorized), cut where the weights change
   or a domain runs out, so each sample's choice is exactly the one the rule above gives.

Memory: at most `buffer_size` rows per domain stream plus `cache_row_groups` decoded row groups
(and one more read ahead) and `cache_row_groups` converted units (≤ `buffer_size` rows each).

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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from lakehouse.catalog import Catalog
from lakehouse.releases import manifest_files, release_manifest
from lakehouse.storage import arrow_filesystem

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
        consumed = sorted((self.consumed or {}).items())
        return {"position": self.position, "consumed": {k: v for k, v in consumed if v}}


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


def _open_parquet(uri: str, storage_options: Mapping[str, str] | None = None) -> pq.ParquetFile:
    """A release file, local or on the lake's object store (read with its storage options)."""
    filesystem, path = arrow_filesystem(uri, storage_options)
    return pq.ParquetFile(filesystem.open_input_file(path))


def release_units(
    files: list[str], buffer_size: int, storage_options: Mapping[str, str] | None = None
) -> list[Unit]:
    """Every unit of the files, in file and row-group order.

    Reads only the `domain` column (or nothing, where row-group statistics show one domain).
    """
    units = []
    for file_index, uri in enumerate(files):
        parquet = _open_parquet(uri, storage_options)
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


@dataclass(frozen=True)
class _UnitRows:
    """One unit converted to Python objects once, for every domain stream that reads it."""

    domain_codes: np.ndarray  # per row: index of its domain in the dataset's domain list
    columns: tuple[np.ndarray, ...]  # doc_id, text (arrays of str objects), weight (float64)

    def rows_of(self, domain_index: int) -> np.ndarray:
        """Row indices (within the unit) of one domain, in file order."""
        return np.flatnonzero(self.domain_codes == domain_index)


class _UnitCache:
    """Decoded row groups and converted units of one shard, each kept while a domain stream
    of the shard still needs it and at most `capacity` of each (least recently used evicted
    first; an evicted one is read or converted again if it is needed after all).

    When the streams first reach a unit, the row group of the shard's next unit is read ahead
    in a background thread (Parquet reading and decompression release the GIL), so reading
    overlaps with converting and yielding, as a pyarrow dataset scan overlaps it too.
    """

    def __init__(self, dataset: ReleaseDataset, capacity: int, units: list[int]):
        self.dataset = dataset
        self.capacity = capacity
        self.tables: OrderedDict[tuple[int, int], pa.Table] = OrderedDict()
        self.units: OrderedDict[int, _UnitRows] = OrderedDict()
        self.domain_values = pa.array(dataset.domains, pa.string())
        # Who still needs what: the domains with a piece in each unit not yet taken, the
        # units of each row group not yet converted.
        index_of = {domain: index for index, domain in enumerate(dataset.domains)}
        self.readers: dict[int, set[int]] = {}
        self.unconverted: dict[tuple[int, int], int] = {}
        for unit_index in units:
            unit = dataset.units[unit_index]
            self.readers[unit_index] = {index_of[domain] for domain, _ in unit.domains}
            key = (unit.file, unit.row_group)
            self.unconverted[key] = self.unconverted.get(key, 0) + 1
        self.sequence = units
        self.place = {unit_index: place for place, unit_index in enumerate(units)}
        self.frontier = -1
        self.read_ahead: dict[tuple[int, int], Future[pa.Table]] = {}
        self.reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="release-read-ahead")

    def _read(self, key: tuple[int, int]) -> pa.Table:
        parquet = _open_parquet(self.dataset.files[key[0]], self.dataset.storage_options)
        return parquet.read_row_group(key[1], columns=READ_COLUMNS)

    def row_group(self, file: int, group: int) -> pa.Table:
        """Row group `group` of file `file`, decoded (read unless cached or read ahead)."""
        key = (file, group)
        table = self.tables.pop(key, None)
        if table is None:
            ahead = self.read_ahead.pop(key, None)
            if ahead is None:
                self.dataset.row_group_reads += 1
                table = self._read(key)
            else:
                table = ahead.result()
        _remember(self.tables, key, table, self.capacity)
        return table

    def unit_rows(self, unit_index: int, domain_index: int) -> _UnitRows:
        """Unit `unit_index` as Python objects (converted unless cached) for the piece of one
        domain; once every domain with a piece there has taken it, the unit is let go."""
        rows = self.units.pop(unit_index, None)
        if rows is None:
            rows = self._convert(unit_index)
        readers = self.readers.get(unit_index, set())
        readers.discard(domain_index)
        if readers:
            _remember(self.units, unit_index, rows, self.capacity)
        return rows

    def _convert(self, unit_index: int) -> _UnitRows:
        unit = self.dataset.units[unit_index]
        key = (unit.file, unit.row_group)
        table = self.row_group(*key).slice(unit.start, unit.stop - unit.start)
        place = self.place[unit_index]
        if place > self.frontier:
            self.frontier = place
            self._read_next(place, key)
        codes = pc.index_in(table["domain"], value_set=self.domain_values).fill_null(-1)
        # `to_numpy` builds the Python objects in C++, several times faster than `to_pylist`
        # (the release's columns are not nullable, so no null turns into NaN).
        columns = ("doc_id", "text", "weight")
        rows = _UnitRows(
            codes.to_numpy(), tuple(table[name].to_numpy(zero_copy_only=False) for name in columns)
        )
        self.dataset.unit_conversions += 1
        self.unconverted[key] = self.unconverted.get(key, 0) - 1
        if self.unconverted[key] <= 0:
            self.tables.pop(key, None)
        return rows

    def _read_next(self, place: int, current: tuple[int, int]) -> None:
        """Start reading the row group of the unit after `place` (one read ahead at most)."""
        if self.read_ahead or place + 1 >= len(self.sequence):
            return
        unit = self.dataset.units[self.sequence[place + 1]]
        key = (unit.file, unit.row_group)
        if key != current and key not in self.tables:
            self.dataset.row_group_reads += 1
            self.read_ahead[key] = self.reader.submit(self._read, key)


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any, capacity: int) -> None:
    cache[key] = value
    while len(cache) > capacity:
        cache.popitem(last=False)


class _DomainStream:
    """One domain's rows in one shard: its pieces of the dealt units in order, each permuted."""

    def __init__(
        self,
        dataset: ReleaseDataset,
        cache: _UnitCache,
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
        self.next_piece = len(pieces)
        # The rest of the current piece: (doc_id, text, weight) tuples.
        self.rows: Iterator[tuple[Any, Any, Any]] = iter(())
        if consumed > self.total:
            raise ResumeStateError(
                f"the state says {consumed} rows of domain {self.domain} were consumed, but "
                f"this shard holds {self.total}; the state belongs to another release or layout"
            )
        ends = np.cumsum([piece.rows for piece in pieces]).tolist()
        if consumed < self.total:
            index = bisect.bisect_right(ends, consumed)
            self.rows = self._piece_rows(index, consumed - (ends[index] - pieces[index].rows))
            self.next_piece = index + 1

    def _piece_rows(self, index: int, skip: int) -> Iterator[tuple[Any, Any, Any]]:
        piece = self.pieces[index]
        unit_rows = self.cache.unit_rows(piece.unit, self.domain_index)
        rows = unit_rows.rows_of(self.domain_index)
        # The index and the rows come from the same pinned (immutable) files.
        assert len(rows) == piece.rows, (piece, len(rows))
        order = _rng(
            self.dataset.seed, self.dataset.epoch, _ROW_ORDER, self.domain_index, piece.unit
        ).permutation(piece.rows)
        picked = rows[order[skip:]]
        doc_ids, texts, weights = (column[picked].tolist() for column in unit_rows.columns)
        self.dataset.peak_buffered_rows = max(self.dataset.peak_buffered_rows, piece.rows)
        return zip(doc_ids, texts, weights, strict=True)

    def load_next_piece(self) -> Iterator[tuple[Any, Any, Any]]:
        """Rows of the next piece (call when the current one is used up); also kept in `rows`."""
        self.rows = self._piece_rows(self.next_piece, 0)
        self.next_piece += 1
        return self.rows


class _DomainDraws:
    """The domain choices of one shard: the fixed uniform draws `u[n]` of (seed, epoch, shard),
    mapped to domains a block at a time."""

    def __init__(self, seed: int, epoch: int, shard: int):
        self.key = (seed, epoch, _DRAWS, shard)
        self.block = -1
        self.uniforms = np.empty(0)

    def _uniforms(self, block: int) -> np.ndarray:
        if block != self.block:
            self.uniforms = _rng(*self.key, block).random(DRAW_BLOCK)
            self.block = block
        return self.uniforms

    def choices(self, n: int, weights: np.ndarray, remaining: list[int]) -> list[int]:
        """Domain indices of samples `n`, `n + 1`, … to the end of n's block of draws, under
        `weights` (per domain) with `remaining` rows per domain; cut after the draw that takes
        a domain's last row (the next draw must not see that domain). Empty: nothing is left
        to draw."""
        cumulative, total, last_active = _cumulative(weights, remaining)
        if total <= 0:
            return []
        block, offset = divmod(n, DRAW_BLOCK)
        draws = self._uniforms(block)[offset:]
        # bisect_right on each draw; one that rounds up to the total belongs to the last
        # domain still drawn.
        chosen = np.searchsorted(np.asarray(cumulative), draws * total, side="right")
        chosen = np.minimum(chosen, last_active)
        cut = len(chosen)
        for index, left in enumerate(remaining):
            if left > 0:
                hits = np.flatnonzero(chosen[:cut] == index)
                if len(hits) >= left:
                    cut = int(hits[left - 1]) + 1
        return chosen[:cut].tolist()


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
        self.files = manifest_files(catalog, manifest)
        # Workers (DataLoader processes, other ranks) open the files with the lake's options.
        self.storage_options = dict(catalog.storage_options)
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
        self.units = release_units(self.files, self.buffer_size, self.storage_options)
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
        self.row_group_reads = 0
        self.unit_conversions = 0

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

    def shard_units(self, shard: int, num_shards: int) -> list[int]:
        """The units shard `shard` of `num_shards` reads this epoch, in order."""
        order = _rng(self.seed, self.epoch, _UNIT_ORDER).permutation(len(self.units))
        return order[shard::num_shards].tolist()

    def shard_pieces(self, shard: int, num_shards: int) -> dict[str, list[Piece]]:
        """The pieces shard `shard` of `num_shards` reads this epoch, per domain, in order."""
        dealt: dict[str, list[Piece]] = {domain: [] for domain in self.domains}
        for unit_index in self.shard_units(shard, num_shards):
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
        cache = _UnitCache(self, self.cache_row_groups, self.shard_units(shard, num_shards))
        streams = [
            _DomainStream(self, cache, index, dealt[domain], consumed.get(domain, 0))
            for index, domain in enumerate(self.domains)
        ]
        return self._samples(shard, progress, streams)

    def _samples(
        self, shard: int, progress: ShardProgress, streams: list[_DomainStream]
    ) -> Iterator[dict[str, Any]]:
        weights_view = self._weights.numpy()
        draws = _DomainDraws(self.seed, self.epoch, shard)
        consumed = progress.consumed
        assert consumed is not None
        for stream in streams:
            consumed.setdefault(stream.domain, 0)
        tokenizer = self.tokenizer
        domains = self.domains
        rows = [stream.rows for stream in streams]
        n = progress.position
        while True:
            version = weights_view[0]
            remaining = [stream.total - consumed[stream.domain] for stream in streams]
            choices = draws.choices(n, weights_view[1:], remaining)
            if not choices:
                return
            # The choices hold until the weights change (checked before every sample, as
            # training may set them between any two) or the end of the run of choices.
            for chosen in choices:
                if weights_view[0] != version:
                    break
                row = next(rows[chosen], None)
                if row is None:
                    rows[chosen] = streams[chosen].load_next_piece()
                    row = next(rows[chosen])
                doc_id, text, weight = row
                domain = domains[chosen]
                if tokenizer is None:
                    sample = {
                        "doc_id": doc_id,
                        "domain": domain,
                        "weight": weight,
                        "shard": shard,
                        "position": n,
                        "text": text,
                    }
                else:
                    sample = {
                        "doc_id": doc_id,
                        "domain": domain,
                        "weight": weight,
                        "shard": shard,
                        "position": n,
                        "input_ids": tokenizer(text),
                    }
                n += 1
                progress.position = n
                consumed[domain] += 1
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


def _cumulative(weights: np.ndarray, remaining: list[int]) -> tuple[list[float], float, int]:
    """Cumulative weights over domains that still have rows (exhausted ones weigh 0), their
    total, and the index of the last domain with a positive weight."""
    cumulative = []
    total = 0.0
    last_active = 0
    for index, (weight, left) in enumerate(zip(weights.tolist(), remaining, strict=True)):
        if left > 0 and weight > 0:
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
