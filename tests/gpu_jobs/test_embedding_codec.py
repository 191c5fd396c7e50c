import struct

import pyarrow as pa
import pytest
import torch

from gpu_jobs.embedding_codec import (
    EmbeddingFormatError,
    embedding_bytes,
    embeddings_from_bytes,
)


def test_embeddings_round_trip_as_little_endian_float16() -> None:
    generator = torch.Generator().manual_seed(0)
    embeddings = torch.nn.functional.normalize(torch.randn(5, 384, generator=generator), dim=1)
    stored = embedding_bytes(embeddings)
    assert stored.type == pa.binary() and len(stored) == 5
    assert all(len(value) == 768 for value in stored.to_pylist())
    first = struct.unpack("<e", stored[0].as_py()[:2])[0]
    assert first == pytest.approx(float(embeddings[0, 0]), abs=1e-3)
    restored = embeddings_from_bytes(pa.chunked_array([stored]))
    assert restored.dtype == torch.float32
    assert (restored * embeddings).sum(dim=1).min() > 0.9999


def test_no_rows_round_trip() -> None:
    assert embeddings_from_bytes(embedding_bytes(torch.zeros(0, 384))).shape == (0, 384)


def test_wrong_shapes_and_sizes_are_refused() -> None:
    with pytest.raises(EmbeddingFormatError, match=r"shape \(documents, 384\)"):
        embedding_bytes(torch.zeros(2, 128))
    with pytest.raises(EmbeddingFormatError, match="not 768 bytes"):
        embeddings_from_bytes(pa.array([b"\x00" * 10], pa.binary()))
    with pytest.raises(EmbeddingFormatError, match="1 stored embeddings are null"):
        embeddings_from_bytes(pa.array([None], pa.binary()))
