"""The ``vllm serve`` engine's process management, against a fake ``vllm`` executable.

``tests/fake_vllm.py`` stands in for vLLM: it parses the ``vllm serve`` options, records
them, and serves the OpenAI wire format (``tests/fake_chat_server.py``) plus ``/health`` on
the port it was given, on 127.0.0.1. The real vLLM CLI parser checks the same command line
in ``tests/test_vllm_real.py`` (where vllm is installed).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import pytest
from fake_chat_server import FakeChatServer, answer_for

from harness import registry
from harness.core.errors import UsageError
from harness.inference import hf_revisions
from harness.inference.base import ChatRequest, GenerationConfig
from harness.inference.vllm_serve import ADAPTER_NAME, VLLMServeEngine, serve_command

FAKE = Path(__file__).resolve().parent / "fake_vllm.py"
PNG = b"\x89PNG\r\n\x1a\nnot-really-a-png"


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hf_revisions, "hub_commit", lambda repo, rev: None)


@pytest.fixture()
def fake_vllm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An executable named ``vllm`` in a fake environment's bin/, next to a ``python``."""
    bin_dir = tmp_path / "venv-gpu" / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "vllm"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    exe.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    monkeypatch.setenv("FAKE_VLLM_RECORD", str(tmp_path / "record.json"))
    return exe


def adapter_dir(tmp_path: Path, rank: int = 16) -> Path:
    d = tmp_path / "my-lora"
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"r": rank}))
    return d


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_serve_command_with_lora() -> None:
    cmd = serve_command(["vllm"], "Qwen/Qwen2.5-VL-3B-Instruct", host="127.0.0.1", port=8123,
                        served_model_name="Qwen/Qwen2.5-VL-3B-Instruct", lora_modules={"adapter": "/a"},
                        max_lora_rank=64, max_model_len=8192, revision="abc")
    assert cmd[:3] == ["vllm", "serve", "Qwen/Qwen2.5-VL-3B-Instruct"]
    joined = " ".join(cmd)
    assert "--enable-lora" in cmd and "--lora-modules adapter=/a" in joined and "--max-lora-rank 64" in joined
    assert "--port 8123" in joined and "--max-model-len 8192" in joined and "--revision abc" in joined
    assert json.loads(cmd[cmd.index("--limit-mm-per-prompt") + 1]) == {"image": 1}
    assert "--enable-lora" not in serve_command(["vllm"], "m", host="h", port=1)


def test_starts_serves_with_the_lora_and_stops(fake_vllm: Path, tmp_path: Path) -> None:
    lora = adapter_dir(tmp_path, rank=100)
    eng = VLLMServeEngine("Qwen/tiny", adapter_id=str(lora), executable=str(fake_vllm), max_model_len=4096)
    reqs = [ChatRequest(f"r{i}", f"prompt {i}", image_png=PNG) for i in range(3)]
    results = eng.generate(reqs, GenerationConfig(max_new_tokens=32))
    try:
        assert [r.error for r in results] == [None] * 3
        import base64

        b64 = base64.b64encode(PNG).decode()
        assert [r.text for r in results] == [answer_for(b64, f"prompt {i}") for i in range(3)]
        assert {r.meta["served_model"] for r in results} == {ADAPTER_NAME}  # requests go to the LoRA
        rec = json.loads((tmp_path / "record.json").read_text())
        assert rec["model"] == "Qwen/tiny" and rec["enable_lora"]
        assert rec["lora_modules"] == {ADAPTER_NAME: str(lora)}
        assert "--max-lora-rank" in rec["argv"] and rec["argv"][rec["argv"].index("--max-lora-rank") + 1] == "128"
        server = eng.server
        assert server is not None and server.running() and port_open(server.port)
        pid = server.proc.pid
    finally:
        eng.close()
    assert eng.server is None and not port_open(server.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert "fake vllm stopped" in server.log_tail()  # it was asked to stop (SIGTERM), not killed


def test_server_that_dies_fails_every_request_with_its_log(fake_vllm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VLLM_MODE", "crash")
    eng = VLLMServeEngine("Qwen/tiny", executable=str(fake_vllm))
    results = eng.generate([ChatRequest("a", "p"), ChatRequest("b", "q")], GenerationConfig())
    assert all(r.text is None for r in results)
    assert all("exited with code 1" in r.error and "no GPU" in r.error for r in results)
    assert eng.generate([ChatRequest("c", "p")], GenerationConfig())[0].error == results[0].error  # no restart
    eng.close()


def test_executable_comes_from_the_vllm_environment(fake_vllm: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "envs.toml"
    cfg.write_text(f'[environments.gpu]\npython = "{fake_vllm.parent / "python"}"\n'
                   'provides = ["vllm", "hf", "api"]\nsetup = "make setup-gpu"\n')
    monkeypatch.setenv("VISANOM_ENVS", str(cfg))
    eng = VLLMServeEngine("Qwen/tiny")
    try:
        (res,) = eng.generate([ChatRequest("a", "p")], GenerationConfig())
        assert res.error is None and res.meta["served_model"] == "Qwen/tiny"
        assert eng.server.command[0] == str(fake_vllm)
    finally:
        eng.close()


def test_missing_environment_is_a_usage_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "envs.toml"
    cfg.write_text('[environments.gpu]\npython = "nowhere/bin/python"\nprovides = ["vllm"]\n'
                   'setup = "make setup-gpu"\n')
    monkeypatch.setenv("VISANOM_ENVS", str(cfg))
    eng = VLLMServeEngine("Qwen/tiny")
    with pytest.raises(UsageError, match=r"environment 'gpu'.*make setup-gpu"):
        eng.generate([ChatRequest("a", "p")], GenerationConfig())


def test_base_url_uses_a_running_server_and_starts_nothing(srv: FakeChatServer) -> None:
    model = registry.make_model("vllm-serve", model_id="Qwen/tiny", base_url=srv.base_url)
    assert "base_url" not in model.public_args
    (res,) = model.engine.generate([ChatRequest("a", "p", image_png=PNG)], GenerationConfig())
    assert res.error is None and model.engine.server is None
    assert srv.requests[-1]["body"]["model"] == "Qwen/tiny"
    model.close()
    # the fingerprint ignores where the server is
    other = registry.make_model("vllm-serve", model_id="Qwen/tiny", base_url="http://10.0.0.1:9/v1")
    assert other.fingerprint() == model.fingerprint()


def test_engine_requirements() -> None:
    from harness.environments.config import requirements_for_model

    assert requirements_for_model("vllm-serve") == {"api"}
    assert requirements_for_model("vllm-vlm") == {"vllm", "hf"}
    assert requirements_for_model("vllm-serve", {"base_url": "http://x/v1"}) == {"api"}


