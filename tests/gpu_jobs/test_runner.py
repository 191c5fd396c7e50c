import random

import pytest
import torch

from gpu_jobs import encoder as encoder_module
from gpu_jobs.encoder import (
    EMBEDDING_DIM,
    DeviceUnavailableError,
    Encoder,
    cpu_multiplies_bf16,
    encoder_directory,
    resolve_device,
)
from gpu_jobs.runner import encode_documents, mean_pool, plan_batches
from tests.gpu_jobs.conftest import TEST_MAX_TOKENS, cpu_encoder, sample_texts


def test_plan_batches_sorts_longest_first_and_keeps_the_budget() -> None:
    assert plan_batches([5, 10, 3, 10, 1], batch_tokens=20) == [[1, 3], [0, 2, 4]]


def test_a_document_longer_than_the_budget_travels_alone() -> None:
    assert plan_batches([50, 2, 2], batch_tokens=20) == [[0], [1, 2]]


def test_plan_batches_places_every_document_once_within_budget() -> None:
    generator = random.Random(7)
    lengths = [generator.randint(2, 256) for _ in range(500)]
    plan = plan_batches(lengths, batch_tokens=2048)
    placed = sorted(index for batch in plan for index in batch)
    assert placed == list(range(500))
    for batch in plan:
        longest = max(lengths[index] for index in batch)
        assert len(batch) * longest <= 2048
        assert lengths[batch[0]] == longest


def test_plan_batches_rejects_a_budget_below_one() -> None:
    with pytest.raises(ValueError, match="batch_tokens must be positive"):
        plan_batches([3], batch_tokens=0)


def test_mean_pool_averages_real_tokens_only_and_normalizes() -> None:
    hidden = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(mean_pool(hidden, mask), torch.tensor([[1.0, 0.0]]))
    hidden = torch.tensor([[[3.0, 4.0], [3.0, 4.0]]])
    assert torch.allclose(mean_pool(hidden, torch.tensor([[1, 1]])), torch.tensor([[0.6, 0.8]]))


def test_documents_are_truncated_to_max_tokens(encoder: Encoder) -> None:
    long_text = " ".join(["lighthouse"] * 500)
    encoded = encode_documents(encoder, [long_text, "hello world"])
    # [CLS] hello world [SEP]
    assert encoded.tokens.tolist() == [TEST_MAX_TOKENS, 4]
    assert encoded.embeddings.shape == (2, EMBEDDING_DIM)
    norms = encoded.embeddings.norm(dim=1)
    assert torch.allclose(norms, torch.ones(2), atol=1e-5)


def test_results_come_back_in_input_order_whatever_the_batching(encoder: Encoder) -> None:
    texts = [*sample_texts("fortunes_en", 12), "short one", "a", "two words"]
    small = encode_documents(encoder, texts, batch_tokens=64)
    large = encode_documents(encoder, texts, batch_tokens=100_000)
    alone = torch.cat([encode_documents(encoder, [text]).embeddings for text in texts[:3]])
    assert (small.embeddings * large.embeddings).sum(dim=1).min() > 0.9999
    assert (alone * small.embeddings[:3]).sum(dim=1).min() > 0.9999
    assert small.tokens.tolist() == large.tokens.tolist()


def test_encoding_is_deterministic(encoder: Encoder) -> None:
    texts = sample_texts("manpages_en", 6)
    first = encode_documents(encoder, texts, batch_tokens=256)
    second = encode_documents(encoder, texts, batch_tokens=256)
    assert torch.equal(first.embeddings, second.embeddings)


def test_progress_reports_every_batch_up_to_the_total(encoder: Encoder) -> None:
    texts = sample_texts("fortunes_en", 10)
    calls: list[tuple[int, int]] = []
    encode_documents(encoder, texts, batch_tokens=128, progress=lambda d, t: calls.append((d, t)))
    done = [count for count, _ in calls]
    assert len(calls) >= 5 and done == sorted(done) and calls[-1] == (10, 10)
    assert {total for _, total in calls} == {10}


def test_no_documents_give_an_empty_result(encoder: Encoder) -> None:
    encoded = encode_documents(encoder, [])
    assert encoded.embeddings.shape == (0, EMBEDDING_DIM) and encoded.tokens.numel() == 0


def test_embeddings_match_sentence_transformers(encoder: Encoder) -> None:
    from sentence_transformers import SentenceTransformer

    texts = sample_texts("licenses", 4) + sample_texts("stdlib_python", 4)
    reference = SentenceTransformer(str(encoder_directory()), device="cpu")
    reference.max_seq_length = TEST_MAX_TOKENS
    expected = torch.from_numpy(reference.encode(texts, normalize_embeddings=True))
    ours = encode_documents(encoder, texts).embeddings
    assert (expected * ours).sum(dim=1).min() > 0.9999


def test_int8_quantized_encoder_stays_close_to_fp32(encoder: Encoder) -> None:
    """int8 is the faster CPU mode; it is not the default because it misses cosine 0.99."""
    texts = sample_texts("fortunes_en", 16)
    quantized = cpu_encoder(TEST_MAX_TOKENS, "int8")
    assert quantized.precision == "int8" and quantized.identity.endswith("/int8")
    exact = encode_documents(encoder, texts).embeddings
    approximate = encode_documents(quantized, texts).embeddings
    cosine = (exact * approximate).sum(dim=1)
    assert cosine.min() > 0.85 and cosine.mean() > 0.9


def test_bf16_cpu_encoder_stays_within_cosine_0_999_of_fp32(encoder: Encoder) -> None:
    """bf16 autocast on a CPU with native bf16 products: faster, and faithful to fp32."""
    if not cpu_multiplies_bf16():
        pytest.skip("this CPU has no native bf16 matrix products")
    texts = sample_texts("fortunes_en", 16)
    bf16 = cpu_encoder(TEST_MAX_TOKENS, "bf16")
    assert bf16.precision == "bf16" and bf16.identity.endswith("/bf16")
    exact = encode_documents(encoder, texts).embeddings
    approximate = encode_documents(bf16, texts).embeddings
    assert approximate.dtype == torch.float32
    assert torch.allclose(approximate.norm(dim=1), torch.ones(len(texts)), atol=1e-5)
    assert (exact * approximate).sum(dim=1).min() > 0.999


def test_bf16_on_a_cpu_without_native_bf16_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Emulated bf16 is slower than fp32: the recipe's choice is refused, saying what to set.
    monkeypatch.setattr(encoder_module, "cpu_multiplies_bf16", lambda: False)
    with pytest.raises(DeviceUnavailableError, match=r"no native bf16.*set it to fp32"):
        encoder_module.load_encoder("cpu", "bf16", TEST_MAX_TOKENS)


def test_auto_device_is_cpu_without_cuda_and_cuda_without_a_gpu_fails() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(DeviceUnavailableError, match=r"set score\.device to auto or cpu"):
        resolve_device("cuda")


def test_encoder_identity_names_model_truncation_and_precision(encoder: Encoder) -> None:
    assert encoder.identity == f"all-MiniLM-L6-v2@0.1.0/max{TEST_MAX_TOKENS}/fp32"
