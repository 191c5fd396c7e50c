"""Loading the encoder: offline by construction, without touching the process's environment."""

import os
import socket

import pytest

from gpu_jobs.encoder import load_encoder


def test_encoder_loads_offline_and_leaves_the_environment_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    def no_network(_socket: socket.socket, address: object) -> None:
        raise OSError(f"this test allows no network connection, asked for {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    before = dict(os.environ)
    encoder = load_encoder("cpu", "fp32", max_tokens=16)
    assert dict(os.environ) == before
    assert encoder.tokenizer("offline")["input_ids"][0] == encoder.tokenizer.cls_token_id
