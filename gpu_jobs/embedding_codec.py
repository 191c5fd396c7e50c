"""How embeddings are stored: 384 little-endian float16 values per document, as bytes.

Delta has no half-precision type, so `gold/embeddings.embedding` is binary; half precision keeps
cosine similarities within about 1e-3 of float32 at half the bytes.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from gpu_jobs.encoder import EMBEDDING_DIM

_STORED = np.dtype("<f2")


class EmbeddingFormatError(ValueError):
    """A stored embedding that is not 384 little-endian float16 values."""


def embedding_bytes(embeddings: torch.Tensor) -> pa.Array:
    """One binary value per row of a (documents, 384) tensor: float16, little-endian."""
    if embeddings.ndim != 2 or embeddings.shape[1] != EMBEDDING_DIM:
        raise EmbeddingFormatError(
            f"expected embeddings of shape (documents, {EMBEDDING_DIM}), got "
            f"{tuple(embeddings.shape)}"
        )
    values = embeddings.detach().to("cpu", torch.float32).numpy().astype(_STORED)
    width = EMBEDDING_DIM * _STORED.itemsize
    flat = pa.py_buffer(values.tobytes())
    offsets = pa.py_buffer(np.arange(len(values) + 1, dtype=np.int32) * width)
    return pa.Array.from_buffers(pa.binary(), len(values), [None, offsets, flat])


def embeddings_from_bytes(values: pa.Array | pa.ChunkedArray) -> torch.Tensor:
    """float32 (documents, 384) from stored binary embeddings."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.binary())
    if values.null_count:
        raise EmbeddingFormatError(f"{values.null_count} stored embeddings are null")
    width = EMBEDDING_DIM * _STORED.itemsize
    rows = values.to_pylist()
    wrong = [len(row) for row in rows if len(row) != width]
    if wrong:
        raise EmbeddingFormatError(
            f"{len(wrong)} stored embeddings are not {width} bytes (e.g. {wrong[0]} bytes)"
        )
    if not rows:
        return torch.zeros((0, EMBEDDING_DIM), dtype=torch.float32)
    array = np.frombuffer(b"".join(rows), dtype=_STORED).reshape(len(rows), EMBEDDING_DIM)
    return torch.from_numpy(array.astype(np.float32))
