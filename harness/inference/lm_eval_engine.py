"""An engine over any lm-evaluation-harness model backend (``lm_eval.api.registry.get_model``).

Each :class:`~harness.inference.base.ChatRequest` becomes one lm-eval ``generate_until``
request with the image, built as lm-eval builds a multimodal task's request: the context is
``<image>`` + prompt (API backends send the image as its own content part, so the prompt
alone, exactly as our own API engines send it), passed through the backend's ``apply_chat_template`` (with the
system prompt, when given) unless ``apply_chat_template=False``; the generation kwargs are
``until`` / ``max_gen_toks`` / ``do_sample`` / ``temperature`` (and ``top_p``, ``seed`` when
set); the image goes in the ``{"visual": [PIL image]}`` argument. So any backend that
lm-eval's own multimodal tasks run on (``hf-multimodal``, ``vllm-vlm``,
``local-chat-completions``, ...) is one more model here.

The backend is built at the first batch (lm-eval imports torch and loads weights there);
lm-eval is an optional dependency: ``pip install 'visanom[lm-eval]'``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from typing import Any

from harness.core.errors import UsageError
from harness.core.spec import is_secret_arg, public_args
from harness.inference.base import ChatRequest, GenerationConfig, GenerationResult, engine_fingerprint

IMAGE_PLACEHOLDER = "<image>"


def lm_eval_version() -> str | None:
    """The installed lm-eval version (None when it is not installed)."""
    from importlib import metadata

    try:
        return metadata.version("lm_eval")
    except metadata.PackageNotFoundError:
        return None


def require_lm_eval() -> None:
    """UsageError naming the extra to install when lm-eval is missing."""
    if lm_eval_version() is None:
        raise UsageError("the lm-eval model needs lm-evaluation-harness: pip install 'visanom[lm-eval]'")


def backend_names() -> list[str]:
    """The model backends lm-eval has registered."""
    from lm_eval.api.registry import MODEL_REGISTRY

    return sorted(MODEL_REGISTRY)


def gen_kwargs(config: GenerationConfig) -> dict[str, Any]:
    """lm-eval generation kwargs for our decoding settings."""
    out: dict[str, Any] = {"until": list(config.stop), "max_gen_toks": int(config.max_new_tokens),
                           "do_sample": config.temperature > 0, "temperature": float(config.temperature)}
    if config.top_p != 1.0:
        out["top_p"] = float(config.top_p)
    if config.seed is not None:
        out["seed"] = int(config.seed)
    return out


class LMEvalEngine:
    """Our engine contract over one lm-eval model backend.

    ``lm_model`` names the backend in lm-eval's registry; ``lm_args`` are its model
    arguments (as in ``lm_eval --model_args``); ``apply_chat_template`` formats each request
    with the backend's chat template, as ``lm_eval --apply_chat_template`` does.
    """

    def __init__(self, lm_model: str, lm_args: Mapping[str, Any] | None = None, *,
                 apply_chat_template: bool = True, batch_size: int = 8) -> None:
        require_lm_eval()
        import lm_eval.models  # noqa: F401 - registers the built-in backends
        from lm_eval.api.registry import MODEL_REGISTRY

        if lm_model not in MODEL_REGISTRY:
            raise UsageError(f"unknown lm-eval model {lm_model!r}; lm-eval has: {', '.join(backend_names())}")
        self.lm_model = str(lm_model)
        self.lm_args = dict(lm_args or {})
        self.apply_chat_template = bool(apply_chat_template)
        self.batch_size = int(batch_size)
        self._lm: Any = None

    @property
    def lm(self) -> Any:
        """The lm-eval model object (built at first use)."""
        if self._lm is None:
            from lm_eval.api.registry import get_model

            cls = get_model(self.lm_model)
            args = {"batch_size": self.batch_size, **self.lm_args}
            try:
                self._lm = cls.create_from_arg_obj(args)
            except TypeError as exc:
                raise UsageError(f"bad model arguments for lm-eval model {self.lm_model!r}: {exc}") from exc
        return self._lm

    def public_args(self) -> dict[str, Any]:
        """The backend arguments without credentials or URLs (:func:`harness.core.spec.public_args`)."""
        return public_args(self.lm_args)

    def redact(self, text: str) -> str:
        """``text`` with the values of credential-like arguments (keys, tokens, URLs) masked."""
        for key, value in self.lm_args.items():
            if is_secret_arg(key) and isinstance(value, str) and value:
                text = text.replace(value, f"<{key}>")
        return text

    def fingerprint(self) -> str:
        """Backend name and arguments (no secrets), chat-template use, lm-eval version."""
        return engine_fingerprint("lm-eval", backend=self.lm_model, args=self.public_args(),
                                  chat_template=self.apply_chat_template, lm_eval=lm_eval_version())

    def describe(self) -> dict[str, Any]:
        """Backend metadata for run records."""
        return {"engine": "lm-eval", "lm_model": self.lm_model, "lm_args": self.public_args(),
                "apply_chat_template": self.apply_chat_template, "lm_eval_version": lm_eval_version()}

    def _is_api(self) -> bool:
        """API backends send the image as its own content part and need no placeholder."""
        from lm_eval.models.api_models import TemplateAPI

        return isinstance(self.lm, TemplateAPI)

    def context(self, request: ChatRequest) -> Any:
        """The lm-eval context for one request (what ``lm_eval`` builds for a multimodal task)."""
        placeholder = request.image_png is not None and not self._is_api()
        text = request.prompt
        if placeholder:
            text = f"{text}{IMAGE_PLACEHOLDER}" if request.text_first else f"{IMAGE_PLACEHOLDER}{text}"
        if not self.apply_chat_template:
            return text if request.system is None else f"{request.system}\n\n{text}"
        chat = [] if request.system is None else [{"role": "system", "content": request.system}]
        chat.append({"role": "user", "content": text})
        return self.lm.apply_chat_template(chat)

    def _instance(self, request: ChatRequest, kwargs: dict[str, Any], idx: int) -> Any:
        from lm_eval.api.instance import Instance
        from PIL import Image

        args: tuple[Any, ...] = (self.context(request), dict(kwargs))
        if request.image_png is not None:
            with Image.open(io.BytesIO(request.image_png)) as img:
                args = (*args, {"visual": [img.convert("RGB")]})
        return Instance(request_type="generate_until", doc={}, arguments=args, idx=idx,
                        metadata=("visanom", idx, 1))

    def generate(self, requests: Sequence[ChatRequest], config: GenerationConfig) -> list[GenerationResult]:
        """One ``generate_until`` call for the batch; a failure is recorded for every request."""
        if not requests:
            return []
        t0 = time.perf_counter()
        try:
            kwargs = gen_kwargs(config)
            instances = [self._instance(r, kwargs, i) for i, r in enumerate(requests)]
            texts = self.lm.generate_until(instances, disable_tqdm=True)
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - a backend failure is a per-sample record
            why = self.redact(f"lm-eval {self.lm_model}: {type(exc).__name__}: {exc}")
            return [GenerationResult(r.request_id, error=why) for r in requests]
        each = (time.perf_counter() - t0) / len(requests)
        out = []
        for req, text in zip(requests, texts, strict=True):
            out.append(GenerationResult(req.request_id, text=None if text is None else str(text), latency_s=each,
                                        meta={"lm_model": self.lm_model}))
        return out

    def close(self) -> None:
        """Drop the backend (and its weights)."""
        self._lm = None
