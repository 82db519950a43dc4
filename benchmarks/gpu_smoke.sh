#!/usr/bin/env bash
# GPU smoke test of our engines on a CUDA machine (under 5 minutes; hard cap VISANOM_SMOKE_BUDGET).
#
#   bash benchmarks/gpu_wheels.sh     # once, on a machine with PyPI: our missing pure-Python deps
#                                     # as cp312 manylinux wheels in .gpu-wheels/ (git-ignored)
#   bash benchmarks/gpu_smoke.sh      # on the CUDA machine, from the repository root or anywhere
#
# Made for a bare CUDA image with no network (python3.12 with torch, transformers, peft and
# accelerate preinstalled): it uses that interpreter (VISANOM_PYTHON, default python3; .venv-gpu
# when it exists), installs nothing from the network, and puts the wheels of .gpu-wheels/ that
# the interpreter lacks into a private folder on PYTHONPATH (this checkout comes first).
#
# 1. prepare:       the tiny random Qwen2.5-VL + a LoRA (tests/tinyvlm.py) and N plots;
# 2. tiny-hf-lora:  our transformers engine on CUDA with the LoRA, batched, then one by one
#                   (throughput of both and their ratio); tiny-hf: the base model, batched;
# 3. tiny-vllm, tiny-vllm-lora, tiny-serve-lora: the vLLM paths, only where vllm is installed;
# 4. compare:       the LoRA must change answers (vLLM and transformers pairs);
# 5. real-vllm:     Qwen2.5-VL-3B + VisAnomReasoner-3B, only where vllm and the weights are here.
# A stage that could not run is reported "not run", never "passed". Exit 0: every stage that ran
# passed and the transformers stages ran; 1: a stage failed or timed out, or a required stage did
# not run; 2: no CUDA GPU (nothing run).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu_smoke: no NVIDIA GPU visible (nvidia-smi is missing or failed): this script needs a CUDA" \
       "machine; no stage was run (on a CPU machine, 'make test-vllm-cpu' runs the vLLM engines)" >&2
  exit 2
fi
nvidia-smi -L

N="${VISANOM_SMOKE_N:-16}"
BUDGET="${VISANOM_SMOKE_BUDGET:-280}"  # seconds for all stages
WORK="${VISANOM_SMOKE_DIR:-$(mktemp -d -t visanom-gpu-smoke.XXXXXX)}"
export VLLM_LOGGING_LEVEL="${VLLM_LOGGING_LEVEL:-WARNING}" TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1

DEFAULT_PY=python3
[ -x "$ROOT/.venv-gpu/bin/python" ] && DEFAULT_PY="$ROOT/.venv-gpu/bin/python"
PY="${VISANOM_PYTHON:-$DEFAULT_PY}"
if ! "$PY" -c "import torch, transformers, peft; assert torch.cuda.is_available(), 'torch sees no CUDA device'" 2>"$WORK/stack.err"; then
  echo "gpu_smoke: $PY cannot run the transformers engine on CUDA: $(tail -1 "$WORK/stack.err"); no stage was run" >&2
  exit 2
fi

# Our pure-Python dependencies the interpreter lacks, from .gpu-wheels/ (no network).
SITE="$WORK/site"
MISSING="$("$PY" - <<'EOF'
import importlib.util
need = {"PIL": "pillow", "jinja2": "jinja2", "markupsafe": "markupsafe", "yaml": "pyyaml", "tqdm": "tqdm"}
print(" ".join(dist for mod, dist in need.items() if importlib.util.find_spec(mod) is None))
EOF
)"
if [ -n "$MISSING" ]; then
  if ! ls "$ROOT"/.gpu-wheels/*.whl >/dev/null 2>&1; then
    echo "gpu_smoke: $PY lacks $MISSING and .gpu-wheels/ is empty: run 'bash benchmarks/gpu_wheels.sh'" \
         "where PyPI is reachable and carry .gpu-wheels/ along; no stage was run" >&2
    exit 1
  fi
  "$PY" -m pip install --quiet --no-index --no-deps --find-links "$ROOT/.gpu-wheels" --target "$SITE" $MISSING \
    || { echo "gpu_smoke: could not install $MISSING from .gpu-wheels/; no stage was run" >&2; exit 1; }
  echo "gpu_smoke: installed from .gpu-wheels/: $MISSING"
fi
export PYTHONPATH="$ROOT${SITE:+:$SITE}${PYTHONPATH:+:$PYTHONPATH}"
HAS_VLLM=0
"$PY" -c "import vllm" >/dev/null 2>&1 && HAS_VLLM=1
echo "gpu_smoke: python $PY ($("$PY" -c 'import sys, torch, transformers, peft; print(sys.version.split()[0], "torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)')); vllm: $([ $HAS_VLLM = 1 ] && echo yes || echo 'not installed'); work dir $WORK"

START=$SECONDS
PASSED=() FAILED=() NOT_RUN=()
# stage NAME CAP_SECONDS [REASON_NOT_RUN]: one stage in its own process (frees GPU memory).
stage() {
  local name="$1" cap="$2" why="${3:-}" left rc=0
  if [ -n "$why" ]; then echo "== $name: NOT RUN ($why)"; NOT_RUN+=("$name($why)"); return 0; fi
  left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -lt 20 ]; then echo "== $name: NOT RUN (time budget spent)"; NOT_RUN+=("$name(no time)"); return 0; fi
  [ "$cap" -gt "$left" ] && cap="$left"
  echo "== $name (limit ${cap}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$cap" "$PY" benchmarks/gpu_smoke.py "$name" --workdir "$WORK" -n "$N" || rc=$?
  case "$rc" in
    0) echo "== $name: passed in $((SECONDS - t0))s"; PASSED+=("$name") ;;
    3) echo "== $name: NOT RUN"; NOT_RUN+=("$name") ;;
    124|137) echo "== $name: TIMED OUT after ${cap}s"; FAILED+=("$name(timeout)") ;;
    *) echo "== $name: FAILED (exit $rc)"; FAILED+=("$name") ;;
  esac
}

NO_VLLM=""
[ $HAS_VLLM = 1 ] || NO_VLLM="vllm not installed here"
stage prepare 60
stage tiny-hf-lora 90
stage tiny-hf 60
stage tiny-vllm-lora 90 "$NO_VLLM"
stage tiny-serve-lora 120 "$NO_VLLM"
stage tiny-vllm 60 "$NO_VLLM"
stage compare 20
stage real-vllm 180 "$NO_VLLM"

echo "gpu_smoke: $((SECONDS - START))s in all; outputs in $WORK"
echo "gpu_smoke: passed: ${PASSED[*]:-none}"
echo "gpu_smoke: not run: ${NOT_RUN[*]:-none}"
for required in prepare tiny-hf-lora compare; do
  [[ " ${PASSED[*]:-} " == *" $required "* ]] || FAILED+=("$required(required, did not pass)")
done
if [ "${#FAILED[@]}" -gt 0 ]; then
  echo "gpu_smoke: FAILED: ${FAILED[*]}" >&2
  exit 1
fi
if [ "${#NOT_RUN[@]}" -gt 0 ]; then
  echo "gpu_smoke: every stage that ran passed; ${#NOT_RUN[@]} stage(s) not run (see above)"
else
  echo "gpu_smoke: all stages passed"
fi
