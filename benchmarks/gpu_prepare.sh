#!/usr/bin/env bash
# Run here (registries reachable) before benchmarks/gpu_check.sh is carried to a GPU machine without network:
#   .whl/      the wheels that machine's image lacks (snnTorch, NIR, nirtorch: snnTorch's NIR importer), for its
#              Python 3.12, no dependencies
#   .gpudata/  MNIST as the four .gz IDX files (verified on load there by their SHA-256, like any source)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
rm -rf .gpudata  # only the four .gz files travel: what a run unpacks beside them would not fit the carry
mkdir -p .whl .gpudata/mnist
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl snntorch==1.0.0 nir==1.0.8 nirtorch==2.6
root=$("$PY" -c 'from spikevision import data; print(data.fetch("mnist"))')
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gzip -c "$root/$name" > ".gpudata/mnist/$name.gz"
done
du -sh .whl .gpudata
echo "carry: [\".whl\", \".gpudata\"]; run: bash benchmarks/gpu_check.sh"
