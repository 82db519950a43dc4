"""``visanom train``: LoRA supervised fine-tuning of a Qwen2.5-VL base on an exported dataset.

A plain transformers + peft loop (TRL does not resolve with our ``datasets<4.1`` pin; see
docs/reasoning.md). It reads the dataset written by ``visanom bench export`` unchanged
(``datasets.load_from_disk``): each row's user turn (plot + question) is encoded exactly as
the transformers engine encodes a request at inference (same chat template, same image
fitting, :func:`harness.inference.transformers_engine.pixel_budget`), the assistant turn is
appended, and the loss is computed ONLY on the assistant answer (prompt tokens are labelled
-100).

Bad rows: an image that cannot be decoded or that the processor rejects, or a row longer
than ``max_length``, is skipped, written to ``OUT/skipped.jsonl`` with the reason, and
counted; training stops with a clear error only when no row is usable.

Checkpoints: every ``save_steps`` optimiser steps, ``OUT/checkpoint-N/`` holds the adapter,
the optimiser and scheduler states and the step; running the same command again resumes
from the newest checkpoint (``--restart`` ignores them). The data order is a seeded
permutation per epoch, so a resumed run sees the same examples as an uninterrupted one.
At the end ``OUT/adapter/`` is a peft adapter: evaluate it with

    visanom run --task visanombench-demo --model hf-vlm --model-args adapter=OUT/adapter
"""

from __future__ import annotations

import json
import math
import random
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import DataError, OutputError, UsageError

CONFIG_DIR = Path(__file__).resolve().parent
LOG_FILE = "train_log.jsonl"
SKIPPED_FILE = "skipped.jsonl"
ADAPTER_DIR = "adapter"


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (a YAML file; see ``baselines/train/*.yaml``)."""

    base: str
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"
    learning_rate: float = 2e-4
    epochs: int = 3
    max_steps: int | None = None
    batch_size: int = 1
    grad_accum: int = 8
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 4096
    save_steps: int = 100
    log_steps: int = 1
    seed: int = 42
    dtype: str = "bfloat16"
    device: str = "auto"
    max_pixels: int | None = None
    min_pixels: int | None = None

    def __post_init__(self) -> None:
        for name in ("lora_r", "epochs", "batch_size", "grad_accum", "max_length", "save_steps", "log_steps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UsageError(f"training config: {name} must be a whole number >= 1, got {v!r}")
        if self.max_steps is not None and (not isinstance(self.max_steps, int) or self.max_steps < 1):
            raise UsageError(f"training config: max_steps must be >= 1 or null, got {self.max_steps!r}")
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise UsageError(f"training config: dtype must be float32, bfloat16 or float16, got {self.dtype!r}")
        if not self.learning_rate > 0:
            raise UsageError(f"training config: learning_rate must be positive, got {self.learning_rate!r}")


def load_config(name: str | Path, **overrides: Any) -> TrainConfig:
    """A config by stem (``visanomreasoner-7b`` = ``baselines/train/visanomreasoner-7b.yaml``) or path."""
    path = Path(name).expanduser()
    if not path.is_file():
        path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise UsageError(f"training config {name!r} not found (built-in: {known}; or a path to a YAML file)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise UsageError(f"{where}: not a readable YAML training config ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a training config is a mapping of settings")
    known_keys = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(raw) - known_keys - {"paper"})
    if unknown:
        raise UsageError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known_keys))}")
    raw = {k: v for k, v in raw.items() if k in known_keys}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    if "base" not in raw:
        raise UsageError(f"{path}: no 'base' model (or pass --base)")
    for key in ("learning_rate", "lora_dropout", "warmup_ratio", "weight_decay", "max_grad_norm"):
        if key in raw:
            try:
                raw[key] = float(raw[key])
            except (TypeError, ValueError):
                raise UsageError(f"{path}: {key} must be a number, got {raw[key]!r}") from None
    try:
        return TrainConfig(**raw)
    except TypeError as exc:
        raise UsageError(f"{path}: {exc}") from exc


# ------------------------------------------------------------------------------ encoding
def _answer_and_prompt(messages: Any) -> tuple[str, str]:
    users = [m for m in messages if m["role"] == "user"]
    answers = [m for m in messages if m["role"] == "assistant"]
    if not users or not answers:
        raise ValueError("a row needs a user and an assistant message")

    def text(m: Any) -> str:
        c = m["content"]
        return c if isinstance(c, str) else "".join(p.get("text") or "" for p in c if p.get("type") == "text")

    return text(users[-1]), text(answers[-1])


def encode_row(processor: Any, row: dict[str, Any], max_length: int) -> dict[str, Any]:
    """Token ids, labels (prompt masked) and vision inputs of one dataset row; raises ``ValueError``
    (with the reason) for a row that cannot be used."""
    from harness.inference.images import fit_image, open_image
    from harness.inference.transformers_engine import pixel_budget

    img = row["image"]
    data = img.get("bytes") if isinstance(img, dict) else None
    if not data:
        raise ValueError("row has no image bytes")
    max_px, min_px, factor = pixel_budget(processor)
    try:
        image, _ = fit_image(open_image(data), max_px or 0, min_px, factor)
    except Exception as exc:
        raise ValueError(f"image cannot be decoded: {type(exc).__name__}: {exc}") from exc
    image = image.convert("RGB") if image.mode != "RGB" else image
    prompt, answer = _answer_and_prompt(row["messages"])
    user = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": prompt}]}]
    full = [*user, {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
    try:
        p = processor.apply_chat_template([user], add_generation_prompt=True, tokenize=True, return_dict=True,
                                          return_tensors="pt")
        f = processor.apply_chat_template([full], tokenize=True, return_dict=True, return_tensors="pt")
    except Exception as exc:
        raise ValueError(f"the processor rejected the row: {type(exc).__name__}: {exc}") from exc
    ids = f["input_ids"][0]
    n_prompt = int(p["input_ids"].shape[1])
    if ids.shape[0] <= n_prompt or not bool((ids[:n_prompt] == p["input_ids"][0]).all()):
        raise ValueError("the chat template does not extend the prompt with the answer")
    if ids.shape[0] > max_length:
        raise ValueError(f"{ids.shape[0]} tokens, more than max_length={max_length}")
    labels = ids.clone()
    labels[:n_prompt] = -100
    out = {"input_ids": ids, "attention_mask": f["attention_mask"][0], "labels": labels}
    for k in ("pixel_values", "image_grid_thw"):
        if k in f:
            out[k] = f[k]
    return out


def collate(rows: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Right-pad the token tensors of a micro-batch; concatenate the vision tensors."""
    import torch

    n = max(int(r["input_ids"].shape[0]) for r in rows)

    def pad(key: str, value: int) -> Any:
        return torch.stack([torch.cat([r[key], torch.full((n - r[key].shape[0],), value, dtype=r[key].dtype)])
                            for r in rows])

    batch = {"input_ids": pad("input_ids", pad_id), "attention_mask": pad("attention_mask", 0),
             "labels": pad("labels", -100)}
    for k in ("pixel_values", "image_grid_thw"):
        if all(k in r for r in rows):
            batch[k] = torch.cat([r[k] for r in rows])
    return batch


# ------------------------------------------------------------------------------ training
def _latest_checkpoint(out: Path) -> Path | None:
    found = []
    for p in out.glob("checkpoint-*"):
        suffix = p.name.split("-", 1)[1]
        if suffix.isdigit() and (p / "state.json").is_file():
            found.append((int(suffix), p))
    return max(found)[1] if found else None


def _plan(n_rows: int, cfg: TrainConfig) -> list[list[int]]:
    """Micro-batches of row indices over all epochs (a seeded permutation per epoch)."""
    batches = []
    for epoch in range(cfg.epochs):
        order = list(range(n_rows))
        random.Random(cfg.seed + epoch).shuffle(order)
        batches += [order[i:i + cfg.batch_size] for i in range(0, n_rows, cfg.batch_size)]
    return batches


def load_rows(data: Path) -> Any:
    """The exported dataset with images left encoded (a bad image is then one bad row, not a crash)."""
    try:
        from datasets import Image, load_from_disk

        ds = load_from_disk(str(data))
    except FileNotFoundError as exc:
        raise UsageError(f"{data} is not a saved dataset (make one with `visanom bench export`): {exc}") from exc
    except Exception as exc:
        raise DataError(f"cannot load the dataset {data}: {type(exc).__name__}: {exc}") from exc
    missing = {"image", "messages"} - set(ds.column_names)
    if missing:
        raise DataError(f"{data}: the dataset lacks column(s) {', '.join(sorted(missing))} "
                        "(expected the format of `visanom bench export`)")
    return ds.cast_column("image", Image(decode=False))


def train(cfg: TrainConfig, data: Path, out: Path, *, resume: bool = True,
          echo: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Fine-tune, checkpoint and save ``out/adapter``; returns a summary (losses per step)."""
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from transformers import AutoModelForImageTextToText, AutoProcessor, get_linear_schedule_with_warmup

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot use {out} as the training output folder: {exc.strerror or exc}") from None
    rows = load_rows(data)
    ckpt = _latest_checkpoint(out) if resume else None
    if not resume:
        for p in out.glob("checkpoint-*"):
            shutil.rmtree(p, ignore_errors=True)
        (out / LOG_FILE).unlink(missing_ok=True)
    torch.manual_seed(cfg.seed)
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = getattr(torch, cfg.dtype)
    try:
        processor = AutoProcessor.from_pretrained(cfg.base)
        model = AutoModelForImageTextToText.from_pretrained(cfg.base, dtype=dtype)
    except Exception as exc:
        raise UsageError(f"cannot load the base model {cfg.base!r}: {type(exc).__name__}: {exc}") from exc
    from harness.inference.transformers_engine import set_pixel_limits

    set_pixel_limits(processor, cfg.max_pixels, cfg.min_pixels)  # as the engine does with max_pixels=...
    tok = getattr(processor, "tokenizer", processor)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    encoded, skipped = [], []
    for i in range(len(rows)):
        row = rows[i]
        try:
            encoded.append(encode_row(processor, row, cfg.max_length))
        except ValueError as exc:
            skipped.append({"row": i, "sample_id": row.get("sample_id"), "reason": str(exc)})
    (out / SKIPPED_FILE).write_text("".join(json.dumps(s) + "\n" for s in skipped), encoding="utf-8")
    if echo is not None and skipped:
        echo(f"skipped {len(skipped)} of {len(rows)} row(s) (reasons in {out / SKIPPED_FILE}): "
             + "; ".join(f"{s['sample_id']}: {s['reason']}" for s in skipped[:3]))
    if not encoded:
        raise DataError(f"no usable row in {data}: all {len(rows)} were skipped (see {out / SKIPPED_FILE})")

    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora).to(device)
    plan = _plan(len(encoded), cfg)
    total = cfg.max_steps or math.ceil(len(plan) / cfg.grad_accum)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    sched = get_linear_schedule_with_warmup(opt, int(cfg.warmup_ratio * total), total)
    step = 0
    if ckpt is not None:
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
        step = int(json.loads((ckpt / "state.json").read_text())["step"])
        if echo is not None:
            echo(f"resuming from {ckpt} (step {step} of {total})")
    model.train()
    losses: list[float] = []
    micro = step * cfg.grad_accum
    while step < total:
        opt.zero_grad(set_to_none=True)
        acc_loss, n_micro = 0.0, 0
        for _ in range(cfg.grad_accum):
            idx = plan[micro % len(plan)]
            micro += 1
            batch = {k: v.to(device) for k, v in collate([encoded[i] for i in idx], pad_id).items()}
            if "pixel_values" in batch:
                batch["pixel_values"] = batch["pixel_values"].to(dtype)
            loss = model(**batch).loss
            (loss / cfg.grad_accum).backward()
            acc_loss += float(loss.detach())
            n_micro += 1
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        sched.step()
        step += 1
        mean = acc_loss / n_micro
        losses.append(mean)
        with (out / LOG_FILE).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"step": step, "loss": mean, "lr": sched.get_last_lr()[0]}) + "\n")
        if echo is not None and step % cfg.log_steps == 0:
            echo(f"step {step}/{total} loss {mean:.4f}")
        if step % cfg.save_steps == 0 or step == total:
            _save_checkpoint(out, step, model, opt, sched)
    adapter = out / ADAPTER_DIR
    model.save_pretrained(str(adapter))
    (adapter / "visanom_train.json").write_text(json.dumps({
        "config": asdict(cfg), "data": str(data), "rows": len(rows), "used": len(encoded), "skipped": len(skipped),
        "steps": step}, indent=1), encoding="utf-8")
    if echo is not None:
        echo(f"adapter written to {adapter}; evaluate it with:\n  visanom run --task visanombench-demo "
             f"--model hf-vlm --model-args adapter={adapter}")
    return {"adapter": adapter, "losses": losses, "steps": step, "skipped": skipped}


def _save_checkpoint(out: Path, step: int, model: Any, opt: Any, sched: Any) -> None:
    import torch

    final = out / f"checkpoint-{step}"
    tmp = out / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    torch.save(opt.state_dict(), tmp / "optimizer.pt")
    torch.save(sched.state_dict(), tmp / "scheduler.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step}), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
