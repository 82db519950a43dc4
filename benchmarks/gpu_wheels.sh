#!/usr/bin/env bash
# Download the wheels benchmarks/gpu_smoke.sh installs on a bare CUDA box without network:
# our dependencies that such an image (python3.12 + torch, transformers, peft, accelerate) may
# lack, as CPython 3.12 manylinux x86_64 wheels, into .gpu-wheels/ (git-ignored). Then prints
# what a command sent to that machine carries: this checkout's tracked files plus the wheels
# (the limit there is 64 MiB).
#
#   bash benchmarks/gpu_wheels.sh        # needs PyPI (pip download); about 10 MB
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT=.gpu-wheels
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
# pillow: images (harness.inference.images, the Qwen2-VL image processor); the rest are light
# dependencies of the core that torch/transformers images usually carry already.
"$PY" -m pip download --quiet --dest "$OUT" --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --abi cp312 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  "pillow>=10" "jinja2>=3.1" "markupsafe>=2" "pyyaml>=6" "tqdm>=4.66"
ls -1 "$OUT"
wheels=$(du -cb "$OUT"/*.whl | tail -1 | cut -f1)
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | awk '/\ttotal$/ {s += $1} END {print s + 0}')
echo "carried: tracked files $((tracked / 1024)) KiB + wheels $((wheels / 1024)) KiB = $(((tracked + wheels) / 1048576)) MiB (limit 64 MiB)"
