"""Can a registered model run on this machine now? A quick check, no weights loaded.

:func:`availability` answers ``(True, "")`` or ``(False, reason)`` from a model's display
metadata and arguments: vLLM needs the package and a CUDA GPU, API models their key
variable (only its name is ever shown), transformers models their weights in the local
Hugging Face cache (else a download), tsb-ad detectors their extra modules / weights / GPU.
Nothing here imports vLLM, loads a model or touches the network.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Availability = tuple[bool, str]

API_ENGINES = {"api", "openai", "openai-compat", "anthropic"}
HF_ENGINES = {"transformers", "hf", "huggingface"}
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "openai-compat": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
MODEL_ARG_KEYS = ("model_id", "base_model", "pretrained")
ADAPTER_ARG_KEYS = ("adapter_id", "adapter", "lora")


def has_module(name: str) -> bool:
    """True when ``name`` can be imported (found on the path; not imported)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


NVIDIA_DRIVER_MARKERS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0")
"""Files the NVIDIA driver creates; with none of them no CUDA device can be visible."""


def cuda_available() -> bool:
    """True when torch sees a CUDA device.

    Without any NVIDIA driver file this is False without importing torch (seconds), so
    ``visanom ls models`` stays cheap on machines with no GPU.
    """
    if not has_module("torch") or not any(os.path.exists(p) for p in NVIDIA_DRIVER_MARKERS):
        return False
    import torch

    return bool(torch.cuda.is_available())


def in_hf_cache(repo_id: str, filename: str = "config.json", revision: str | None = None) -> bool:
    """True for a local folder, or a hub repo whose ``filename`` is in the local HF cache."""
    if Path(repo_id).expanduser().is_dir():
        return True
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        return isinstance(try_to_load_from_cache(repo_id, filename, revision=revision), str)
    except Exception:  # a malformed repo id
        return False


def weights_reason(args: Mapping[str, Any]) -> str | None:
    """Why the model's weights (and adapter) are not here, or ``None`` when they are."""
    missing = []
    model = next((args[k] for k in MODEL_ARG_KEYS if args.get(k)), None)
    if model and not in_hf_cache(str(model), "config.json", args.get("revision")):
        missing.append(str(model))
    adapter = next((args[k] for k in ADAPTER_ARG_KEYS if args.get(k)), None)
    if adapter and not in_hf_cache(str(adapter), "adapter_config.json", args.get("adapter_revision")):
        missing.append(str(adapter))
    if missing:
        return f"weights not in local cache; needs network ({', '.join(missing)})"
    return None


def key_variable(engine: str, display: Mapping[str, Any], args: Mapping[str, Any]) -> str | None:
    """The environment variable an API model reads its key from (``None``: no key needed)."""
    explicit = display.get("key_env") or args.get("api_key_env")
    if explicit:
        return str(explicit)
    if engine == "openai-compat" or (engine == "openai" and args.get("provider")):
        try:
            from harness.inference.openai_engine import PROVIDERS
        except ImportError:
            PROVIDERS = {}  # noqa: N806
        preset = PROVIDERS.get(str(args.get("provider", "openai")))
        if preset is not None:
            return preset.key_env if preset.key_required else None
    return DEFAULT_KEY_ENV.get(engine)


def _api(engine: str, display: Mapping[str, Any], args: Mapping[str, Any]) -> Availability:
    if args.get("api_key"):
        return True, ""
    var = key_variable(engine, display, args)
    if var and not os.environ.get(var):
        return False, f"{var} not set"
    return True, ""


def _vllm(args: Mapping[str, Any]) -> Availability:
    if not has_module("vllm"):
        return False, "vllm not installed (pip install visanom[vllm]; needs an NVIDIA GPU)"
    if not cuda_available():
        return False, "no CUDA GPU visible (vLLM needs an NVIDIA GPU)"
    reason = weights_reason(args)
    return (False, reason) if reason else (True, "")


def _transformers(args: Mapping[str, Any]) -> Availability:
    missing = [m for m in ("torch", "transformers") if not has_module(m)]
    if missing:
        return False, f"missing module(s): {', '.join(missing)} (pip install visanom[hf])"
    if args.get("adapter_id") and not has_module("peft"):
        return False, "missing module: peft (pip install visanom[hf])"
    reason = weights_reason(args)
    return (False, reason) if reason else (True, "")


def detector_availability(spec: Any) -> Availability:
    """Whether a tsb-ad detector (a :class:`~baselines.tsbad.catalog.DetectorSpec`) can run here:
    its extra modules, its weights in the local HF cache, a GPU where tsb-ad demands one.

    The one check both ``visanom ls models`` and building the detector use.
    """
    if not has_module("TSB_AD"):
        return False, ("tsb-ad is not installed in this environment (the detectors extra, numpy<2): run it "
                       "in the detectors environment (`make setup` creates .venv; `visanom env` lists them)")
    missing = [m for m in spec.requires if not has_module(m)]
    if missing:
        weights = f"; it also downloads {spec.weights}" if spec.weights else ""
        return False, f"missing module(s): {', '.join(missing)}{weights}"
    if spec.hub_repo and not in_hf_cache(spec.hub_repo):
        return False, (f"weights not in local cache; needs network ({spec.hub_repo}; "
                       f"e.g. `huggingface-cli download {spec.hub_repo}`)")
    if spec.needs_gpu and not cuda_available():
        return False, "no CUDA GPU visible (tsb-ad moves it to CUDA)"
    return True, ""


def _tsb_ad(display: Mapping[str, Any]) -> Availability | None:
    """tsb-ad detectors, by the catalogue entry their display names."""
    try:
        from baselines.tsbad.catalog import BY_TSB_NAME
    except ImportError:
        return None
    spec = BY_TSB_NAME.get(str(display.get("tsb_ad_name")))
    return None if spec is None else detector_availability(spec)


def _requires(requires: Any) -> Availability:
    if isinstance(requires, str):
        return (False, f"needs {requires}") if requires.strip() else (True, "")
    missing = [str(m) for m in requires or () if not has_module(str(m))]
    return (False, f"missing module(s): {', '.join(missing)}") if missing else (True, "")


def availability(display_or_card: Any, args: Mapping[str, Any] | None = None) -> Availability:
    """``(True, "")`` when the model can run here now, else ``(False, reason)``.

    Takes a registry entry (``.display`` + ``.args``) or a display mapping (with the
    model's arguments in ``args`` or under the mapping's ``"args"``).
    """
    if hasattr(display_or_card, "display"):
        display = dict(display_or_card.display)
        args = {**(getattr(display_or_card, "args", None) or {}), **(args or {})}
    else:
        display = dict(display_or_card)
        args = {**(display.get("args") or {}), **(args or {})}
    engine = str(display.get("engine") or "").lower()
    if engine == "vllm":
        return _vllm(args)
    if engine in API_ENGINES or display.get("key_env"):
        return _api(engine, display, args)
    if engine in HF_ENGINES:
        return _transformers(args)
    if display.get("source") == "tsb-ad":
        checked = _tsb_ad(display)
        if checked is not None:
            return checked
    return _requires(display.get("requires"))


def model_availability(name: str) -> Availability:
    """:func:`availability` of a registered model or card (card arguments over its adapter's)."""
    from harness import registry
    from harness.core.errors import UnknownNameError

    entry = registry.model_entry(name)
    try:
        base = registry.model_entry(entry.adapter) if entry.adapter else None
        display = registry.describe_model(name)
    except UnknownNameError:
        return False, f"its adapter {entry.adapter!r} is not registered"
    args = {**(base.args if base else {}), **entry.args}
    return availability(display, args)
