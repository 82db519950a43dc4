"""Export and training edge cases: a bad image in the data, push_to_hub up to the network boundary,
training configs, resuming from a checkpoint."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("datasets")

from tinyvlm import build_tiny_vlm  # noqa: E402

from baselines.train.sft import load_config, train  # noqa: E402
from harness.core.errors import DataError, UsageError  # noqa: E402
from harness.curate.dataset import chat_messages, export_dataset, features  # noqa: E402

ANSWER = ("<anomaly>True</anomaly>\n<index>(20, 30)</index>\nStep 1: The x-axis represents the index, ranging "
          "from 0 to 99. Step 2: a spike around index 20 to 30. Step 3: it departs from the pattern.")


def _png(w: int = 200, h: int = 80) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), (255, 255, 255)).save(buf, format="PNG")
    return buf.getvalue()


def _row(sid: str, image: bytes) -> dict:
    return {"image": {"bytes": image, "path": None}, "messages": chat_messages("Any anomaly?", ANSWER),
            "intervals": [[20, 30]], "window": [0, 99], "sample_id": sid, "source": "s", "domain": "d",
            "provenance": {"model": "m", "label": "m", "spec_id": "x", "run": "r", "draw": 0, "reward": 1.0,
                           "terms": "{}", "weights": "{}", "judge": "null"}}


def _dataset(path: Path, images: dict[str, bytes]) -> Path:
    from datasets import Dataset

    Dataset.from_list([_row(k, v) for k, v in images.items()], features=features()).save_to_disk(str(path))
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny") / "base")


def _cfg(base: Path, **kw):
    return load_config("tiny", base=str(base), **kw)


def test_bad_image_is_skipped_and_recorded(tmp_path: Path, base: Path) -> None:
    data = _dataset(tmp_path / "ds", {"ok-1": _png(), "broken": b"\x89PNG\r\n\x1a\nnot really", "ok-2": _png(300)})
    res = train(_cfg(base, max_steps=2), data, tmp_path / "out", echo=None)
    skipped = [json.loads(x) for x in (tmp_path / "out" / "skipped.jsonl").read_text().splitlines()]
    assert [s["sample_id"] for s in skipped] == ["broken"] and "image cannot be decoded" in skipped[0]["reason"]
    assert res["steps"] == 2 and (tmp_path / "out" / "adapter" / "adapter_config.json").is_file()


def test_all_rows_bad_is_a_clear_error(tmp_path: Path, base: Path) -> None:
    data = _dataset(tmp_path / "ds", {"broken": b"nope"})
    with pytest.raises(DataError, match="no usable row"):
        train(_cfg(base, max_steps=1), data, tmp_path / "out", echo=None)
    assert (tmp_path / "out" / "skipped.jsonl").read_text().count("broken") == 1


def test_resume_continues_from_the_last_checkpoint(tmp_path: Path, base: Path) -> None:
    data = _dataset(tmp_path / "ds", {"a": _png(), "b": _png(240)})
    out = tmp_path / "out"
    train(_cfg(base, max_steps=5, save_steps=5), data, out, echo=None)
    lines: list[str] = []
    res = train(_cfg(base, max_steps=7, save_steps=5), data, out, echo=lines.append)
    assert any("resuming from" in x and "checkpoint-5" in x for x in lines)
    assert res["steps"] == 7 and len(res["losses"]) == 2  # only steps 6 and 7 ran
    steps = [json.loads(x)["step"] for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6, 7]


def test_configs_load_and_refuse_bad_settings(tmp_path: Path) -> None:
    paper = load_config("visanomreasoner-7b")
    assert paper.base == "Qwen/Qwen2.5-VL-7B-Instruct" and paper.dtype == "bfloat16"
    assert load_config("visanomreasoner-3b").base == "Qwen/Qwen2.5-VL-3B-Instruct"
    with pytest.raises(UsageError, match="not found"):
        load_config("no-such-config")
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: x\nlearning_rat: 1\n")
    with pytest.raises(UsageError, match="unknown setting"):
        load_config(bad)
    bad.write_text("base: x\nbatch_size: 0\n")
    with pytest.raises(UsageError, match="batch_size"):
        load_config(bad)


def test_not_a_dataset_is_a_usage_error(tmp_path: Path, base: Path) -> None:
    with pytest.raises(UsageError, match="visanom bench export"):
        train(_cfg(base), tmp_path / "missing", tmp_path / "out", echo=None)


class _Hub(BaseHTTPRequestHandler):
    seen: list[str] = []

    def log_message(self, *a) -> None:
        pass

    def _deny(self) -> None:
        _Hub.seen.append(f"{self.command} {self.path}")
        body = json.dumps({"error": "Invalid credentials"}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _deny


def test_push_to_hub_reaches_the_hub_and_keeps_the_local_copy(tmp_path: Path) -> None:
    data = _dataset(tmp_path / "ds", {"a": _png()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "HF_ENDPOINT": f"http://127.0.0.1:{server.server_port}", "HF_TOKEN": "hf_test",
               "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        env.pop("HF_HUB_OFFLINE", None)
        code = ("from harness.curate.dataset import push_dataset\n"
                f"push_dataset({str(data)!r}, 'someone/visanombench-mine')\n")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
    assert proc.returncode != 0
    assert "push_to_hub('someone/visanombench-mine') failed" in proc.stderr
    assert f"the dataset is kept in {data}" in proc.stderr
    assert _Hub.seen  # the request left the process and reached the (local) hub
    from datasets import load_from_disk

    assert len(load_from_disk(str(data))) == 1


def test_overwrite_replaces_only_an_earlier_export(tmp_path: Path) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / "precious.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(UsageError, match="not a visanom export"):
        export_dataset(tmp_path / "elicit", out, overwrite=True, echo=None)
    assert (out / "precious.txt").read_text(encoding="utf-8") == "keep"
