"""Can a registered model run on this machine now? A quick check, no weights loaded.

:func:`availability` answers ``(True, "")`` or ``(False, reason)`` from a model's card and
arguments: vLLM needs the package and a CUDA GPU, API models their key variable (only its
name is ever shown), transformers models their weights in the local Hugging Face cache
(else a download); a model with its own ``check`` (tsb-ad detectors: modules, weights, GPU)
is asked through it.
Nothing here imports vLLM, loads a model or touches the network.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.registry.cards import ModelCard

Availability = tuple[bool, str]

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


def api_key_check(card: ModelCard, args: Mapping[str, Any]) -> Availability:
    """An API model runs when its key variable is set (or a key is passed inline)."""
    if args.get("api_key"):
        return True, ""
    var = card.key_variable(args)
    if var and not os.environ.get(var):
        return False, f"{var} not set"
    return True, ""


def vllm_check(card: ModelCard, args: Mapping[str, Any]) -> Availability:
    """vLLM needs the package, a CUDA GPU and the weights here."""
    if not has_module("vllm"):
        return False, "vllm not installed (pip install visanom[vllm]; needs an NVIDIA GPU)"
    if not cuda_available():
        return False, "no CUDA GPU visible (vLLM needs an NVIDIA GPU)"
    reason = weights_reason(args)
    return (False, reason) if reason else (True, "")


def transformers_check(card: ModelCard, args: Mapping[str, Any]) -> Availability:
    """transformers needs torch, transformers (peft for an adapter) and the weights here."""
    missing = [m for m in ("torch", "transformers") if not has_module(m)]
    if missing:
        return False, f"missing module(s): {', '.join(missing)} (pip install visanom[hf])"
    if args.get("adapter_id") and not has_module("peft"):
        return False, "missing module: peft (pip install visanom[hf])"
    reason = weights_reason(args)
    return (False, reason) if reason else (True, "")


def _requires(requires: Any) -> Availability:
    if isinstance(requires, str):
        return (False, f"needs {requires}") if requires.strip() else (True, "")
    missing = [str(m) for m in requires or () if not has_module(str(m))]
    return (False, f"missing module(s): {', '.join(missing)}") if missing else (True, "")


def availability(card: ModelCard | Mapping[str, Any], args: Mapping[str, Any] | None = None) -> Availability:
    """``(True, "")`` when the model can run here now, else ``(False, reason)``.

    Takes a :class:`~harness.registry.cards.ModelCard` (or a display mapping, read as one);
    ``args`` go over the card's arguments. The model's own ``check`` decides, else its engine's
    (``harness.inference.engines``), else its key variable, else the modules it ``requires``.
    """
    if not isinstance(card, ModelCard):
        card = ModelCard.from_display("model", card)
    args = {**dict(card.args), **dict(args or {})}
    spec = card.engine_spec
    check = card.check or (spec.check if spec is not None else None)
    if check:
        from harness.registry.lazy import load_ref

        return load_ref(check)(card, args)
    if card.key_env:
        return api_key_check(card, args)
    return _requires(card.requires_note or card.requires)


def model_availability(name: str) -> Availability:
    """:func:`availability` of a registered model or card."""
    from harness import registry
    from harness.core.errors import UnknownNameError

    try:
        card = registry.model_card(name)
    except UnknownNameError:
        return False, f"its adapter {registry.model_entry(name).adapter!r} is not registered"
    return availability(card)
