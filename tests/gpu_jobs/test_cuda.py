"""The CUDA path: bf16 autocast and SDPA on the GPU agree with the fp32 CPU encoder."""

import pytest
import torch

from gpu_jobs.encoder import load_encoder
from gpu_jobs.runner import encode_documents
from gpu_jobs.semdedup import kmeans
from tests.gpu_jobs.conftest import cpu_encoder, sample_texts

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_cuda_embeddings_match_cpu_embeddings_per_document() -> None:
    texts = sample_texts("fortunes_en", 24) + sample_texts("stdlib_python", 24)
    cuda = load_encoder("cuda", max_tokens=256)
    assert cuda.device.type == "cuda" and cuda.precision == "bf16"
    on_gpu = encode_documents(cuda, texts, batch_tokens=4096)
    on_cpu = encode_documents(cpu_encoder(256), texts, batch_tokens=4096)
    assert on_gpu.embeddings.device.type == "cpu"
    assert on_gpu.tokens.tolist() == on_cpu.tokens.tolist()
    assert float((on_gpu.embeddings * on_cpu.embeddings).sum(dim=1).min()) >= 0.99


def test_kmeans_runs_on_the_gpu_like_on_the_cpu() -> None:
    generator = torch.Generator().manual_seed(0)
    points = torch.nn.functional.normalize(torch.randn(200, 384, generator=generator), dim=1)
    on_cpu, _ = kmeans(points, clusters=8, iterations=10, seed=0)
    on_gpu, centroids = kmeans(points.cuda(), clusters=8, iterations=10, seed=0)
    assert centroids.device.type == "cuda"
    assert (on_cpu == on_gpu).float().mean() > 0.95
