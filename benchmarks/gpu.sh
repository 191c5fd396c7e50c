#!/usr/bin/env bash
# The score stage's encoder on a CUDA machine, offline: the CUDA tests, then the GPU measurement
# of `benchmarks.score` (encoder-forward tokens/s as a share of the card's bf16 dense peak, and
# the runner's end-to-end documents/s). Within 8 minutes on an H100/H200-class card.
#
#   benchmarks/gpu.sh WHEELS_DIR
#
# Run from anywhere on a machine that has this repository and a folder of wheels; nothing is
# downloaded: the virtual environment is installed from WHEELS_DIR alone
# (`pip install --no-index --find-links WHEELS_DIR`). Results: benchmarks/results/full/
# score_gpu.json, copied with the log to $OUT when it is set. Settings by environment:
# DOCS (documents encoded, default 10000), PYTHON (a Python 3.11, default python3.11 or python3),
# VENV (default build/gpu-venv in the repository).
#
# Filling WHEELS_DIR, on a machine with network, the same Python (3.11) and the same platform
# (Linux x86_64) as the GPU machine, from the repository root:
#
#   pip download --dest WHEELS_DIR 'torch==2.13.0' \
#       --index-url https://download.pytorch.org/whl/cu128 \
#       --extra-index-url https://pypi.org/simple        # the CUDA 12.8 build and its nvidia-* libraries
#   pip download --dest WHEELS_DIR --find-links WHEELS_DIR '.[dev]' 'setuptools>=68' wheel
#
# The first line takes the CUDA build of the exact torch release the project pins (pick the
# cuXXX index that matches the machine's driver; on PyPI itself, torch's Linux x86_64 wheel is a
# CUDA build too). The second adds the project's own requirements (and setuptools, which
# builds the project), resolving torch from the folder. Carry WHEELS_DIR to the GPU machine.
set -euo pipefail

if [[ $# -ne 1 || ! -d "$1" ]]; then
    echo "usage: benchmarks/gpu.sh WHEELS_DIR   (a folder of wheels; see the top of this script)" >&2
    exit 2
fi
WHEELS=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DOCS=${DOCS:-10000}
VENV=${VENV:-$ROOT/build/gpu-venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
LOG=$(mktemp -t funnel-gpu-XXXXXX.log)
cd "$ROOT"

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)" | tee -a "$LOG"; }

step "virtual environment from $WHEELS"
"$PYTHON" -m venv "$VENV"
timeout 240 "$VENV/bin/python" -m pip install -q --no-index --find-links "$WHEELS" \
    -e ".[dev]" 2>&1 | tee -a "$LOG"
PY="$VENV/bin/python"
"$PY" - <<'EOF' 2>&1 | tee -a "$LOG"
import sys
import torch
if not torch.cuda.is_available():
    sys.exit(f"torch {torch.__version__} sees no CUDA device: carry the CUDA wheel of torch "
             "(see the top of benchmarks/gpu.sh) and check nvidia-smi")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}")
EOF

step "CUDA tests"
timeout 90 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/gpu_jobs 2>&1 | tee -a "$LOG"

step "GPU measurement, $DOCS documents"
timeout 120 "$PY" -m benchmarks.score --gpu --docs "$DOCS" 2>&1 | tee -a "$LOG"
RESULT=benchmarks/results/full/score_gpu.json
"$PY" - "$RESULT" <<'EOF' 2>&1 | tee -a "$LOG"
import json, sys
summary = json.load(open(sys.argv[1]))["summary"]
share = summary["forward_fraction_of_sheet_peak"]
print(f"\n{summary['card']}: encoder forward {summary['forward_tokens_per_s']:,} tokens/s = "
      f"{summary['forward_tflops']} TFLOP/s, "
      + (f"{share:.1%} of the {summary['bf16_dense_peak_tflops_sheet']} TFLOP/s bf16 dense peak"
         if share is not None else "card not in the bf16 peak table")
      + f" ({summary['forward_fraction_of_measured_peak']:.1%} of the measured bf16 matmul rate); "
      f"end to end {summary['end_to_end_docs_per_s']:,} documents/s")
EOF

if [[ -n "${OUT:-}" ]]; then
    mkdir -p "$OUT"
    cp "$RESULT" "$LOG" "$OUT/"
    echo "copied $RESULT and the log to $OUT"
fi
