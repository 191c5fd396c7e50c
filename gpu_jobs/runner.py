"""Batched encoder inference: tokenized off the critical path, length-bucketed, token-budgeted.

A background thread tokenizes the documents a chunk at a time, sorts each chunk by token count
and cuts it into batches whose padded size (documents × longest document) stays under a token
budget, so short documents travel in large batches and little compute is spent on padding. The
padded tensors are built in pinned memory on CUDA and copied without blocking, so the next
batch's tokenization and copy overlap the current forward pass. Embeddings are mean-pooled over
the real tokens and L2-normalized, and come back in input order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gpu_jobs.encoder import EMBEDDING_DIM, Encoder
from lakehouse.prefetch import prefetched

ProgressCallback = Callable[[int, int], None]
"""Called after every batch with (documents encoded so far, documents in total)."""

# Documents tokenized and length-sorted together: large enough that batches are well filled,
# small enough that the first batch starts at once and memory stays flat.
TOKENIZE_CHUNK = 2048
# Batches prepared ahead of the forward pass.
PREFETCH_BATCHES = 4


@dataclass(frozen=True)
class EncodedDocuments:
    """Embeddings of documents, in the order the documents were given."""

    embeddings: torch.Tensor
    """float32 (documents, 384), each row of unit L2 norm, on the CPU."""
    tokens: torch.Tensor
    """int32 (documents,): encoder tokens of each document after truncation."""


@dataclass(frozen=True)
class _Batch:
    positions: list[int]
    input_ids: torch.Tensor
    attention_mask: torch.Tensor


def plan_batches(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Indices of `lengths` in batches, longest first, each within `batch_tokens` when padded.

    A batch costs (documents × its longest length) tokens; a document longer than the whole
    budget travels alone. Ties keep input order, so the plan is deterministic.
    """
    if batch_tokens < 1:
        raise ValueError(f"batch_tokens must be positive, got {batch_tokens}")
    order = sorted(range(len(lengths)), key=lambda index: (-lengths[index], index))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1) * max(longest, 1) > batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states over real (unmasked) tokens, L2-normalized, float32."""
    mask = attention_mask.unsqueeze(-1).to(torch.float32)
    summed = (hidden.to(torch.float32) * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1.0)
    return F.normalize(summed / counts, p=2, dim=-1)


def _tokenized_batches(
    encoder: Encoder, texts: Sequence[str], batch_tokens: int, pin: bool
) -> Iterator[_Batch]:
    pad_id = encoder.tokenizer.pad_token_id or 0
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        chunk = list(texts[start : start + TOKENIZE_CHUNK])
        token_ids = encoder.tokenizer(
            chunk,
            truncation=True,
            max_length=encoder.max_tokens,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        lengths = [len(ids) for ids in token_ids]
        for members in plan_batches(lengths, batch_tokens):
            longest = lengths[members[0]]
            input_ids = torch.full((len(members), longest), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(members), longest), dtype=torch.long)
            for row, index in enumerate(members):
                size = lengths[index]
                input_ids[row, :size] = torch.tensor(token_ids[index], dtype=torch.long)
                attention_mask[row, :size] = 1
            if pin:
                input_ids = input_ids.pin_memory()
                attention_mask = attention_mask.pin_memory()
            yield _Batch([start + index for index in members], input_ids, attention_mask)


def encode_documents(
    encoder: Encoder,
    texts: Sequence[str],
    batch_tokens: int = 8192,
    progress: ProgressCallback | None = None,
) -> EncodedDocuments:
    """Embeddings of `texts` (truncated to the encoder's max_tokens), in input order."""
    count = len(texts)
    device = encoder.device
    embeddings = torch.zeros((count, EMBEDDING_DIM), dtype=torch.float32, device=device)
    tokens = torch.zeros(count, dtype=torch.int32, device=device)
    done = 0
    pin = device.type == "cuda"
    batches = prefetched(_tokenized_batches(encoder, texts, batch_tokens, pin), PREFETCH_BATCHES)
    with torch.inference_mode():
        for batch in batches:
            input_ids = batch.input_ids.to(device, non_blocking=True)
            attention_mask = batch.attention_mask.to(device, non_blocking=True)
            with encoder.autocast():
                hidden = encoder.model(
                    input_ids=input_ids, attention_mask=attention_mask
                ).last_hidden_state
            positions = torch.tensor(batch.positions, dtype=torch.long, device=device)
            embeddings[positions] = mean_pool(hidden, attention_mask)
            tokens[positions] = attention_mask.sum(dim=1).to(torch.int32)
            done += len(batch.positions)
            if progress is not None:
                progress(done, count)
    return EncodedDocuments(embeddings.cpu(), tokens.cpu())
