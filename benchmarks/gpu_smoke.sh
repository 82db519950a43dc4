#!/usr/bin/env bash
# GPU smoke test of the vLLM engine (needs an NVIDIA GPU; about 3-6 minutes, hard cap 8).
#
#   bash benchmarks/gpu_smoke.sh            # from the repository root or anywhere
#
# 1. uses the GPU environment .venv-gpu (or VISANOM_PYTHON), creating it with `make setup-gpu`
#    (visanom[vllm,hf,api]: current vLLM, numpy 2) if it is missing or lacks vllm;
# 2. builds the tiny random Qwen2.5-VL + a LoRA (tests/tinyvlm.py) and renders
#    VISANOM_SMOKE_N samples (visanombench-demo);
# 3. runs the tiny model through both vLLM paths: the offline LLM (with and without the LoRA) and
#    `vllm serve --enable-lora --lora-modules` (started, queried over HTTP, stopped), then
#    transformers; checks the LoRA changes answers;
# 4. if Qwen2.5-VL-3B and the VisAnomReasoner-3B LoRA are cached or reachable, runs them via vLLM.
# Every stage prints samples/s. Exit 0: all ran stages passed; 1: a stage failed; 2: no GPU.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${VISANOM_SMOKE_N:-16}"
BUDGET="${VISANOM_SMOKE_BUDGET:-460}"  # seconds for the whole script, install excluded
WORK="${VISANOM_SMOKE_DIR:-$(mktemp -d -t visanom-gpu-smoke.XXXXXX)}"
export VLLM_LOGGING_LEVEL="${VLLM_LOGGING_LEVEL:-WARNING}" TOKENIZERS_PARALLELISM=false

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_smoke: no NVIDIA GPU visible (nvidia-smi failed)" >&2
  exit 2
fi
nvidia-smi -L

has_stack() { [ -x "$1" ] && "$1" -c "import vllm, transformers, peft, harness" >/dev/null 2>&1; }

PY="${VISANOM_PYTHON:-$ROOT/.venv-gpu/bin/python}"
if ! has_stack "$PY"; then
  [ -n "${VISANOM_PYTHON:-}" ] && { echo "gpu_smoke: VISANOM_PYTHON=$PY lacks vllm/transformers/peft/harness" >&2; exit 1; }
  echo "gpu_smoke: creating .venv-gpu with make setup-gpu (one-off)"
  T0=$SECONDS
  make -C "$ROOT" setup-gpu
  echo "gpu_smoke: .venv-gpu installed in $((SECONDS - T0))s"
  has_stack "$PY" || { echo "gpu_smoke: .venv-gpu still lacks the vLLM stack" >&2; exit 1; }
fi
[ -x "$(dirname "$PY")/vllm" ] || { echo "gpu_smoke: no vllm executable next to $PY" >&2; exit 1; }
echo "gpu_smoke: python $PY; vllm $("$PY" -c 'import vllm; print(vllm.__version__)'); work dir $WORK"

START=$SECONDS
FAILED=()
# stage NAME CAP_SECONDS: run one stage in its own process (frees GPU memory), within the budget.
stage() {
  local name="$1" cap="$2" left rc=0
  left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -lt 30 ]; then
    echo "== $name: SKIPPED (time budget spent)"
    FAILED+=("$name(no time)")
    return 0
  fi
  [ "$cap" -gt "$left" ] && cap="$left"
  echo "== $name (limit ${cap}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$cap" "$PY" benchmarks/gpu_smoke.py "$name" --workdir "$WORK" -n "$N" || rc=$?
  case "$rc" in
    0) echo "== $name: ok in $((SECONDS - t0))s" ;;
    3) echo "== $name: skipped" ;;
    124|137) echo "== $name: TIMED OUT after ${cap}s"; FAILED+=("$name(timeout)") ;;
    *) echo "== $name: FAILED (exit $rc)"; FAILED+=("$name") ;;
  esac
}

stage prepare 90
stage tiny-vllm-lora 120
stage tiny-serve-lora 150
stage tiny-vllm 90
stage compare 20
stage tiny-hf 60
stage real-vllm 240

echo "gpu_smoke: $((SECONDS - START))s in all; outputs in $WORK"
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "gpu_smoke: FAILED: ${FAILED[*]}" >&2
  exit 1
fi
echo "gpu_smoke: all stages passed"
