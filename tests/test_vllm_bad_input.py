"""Bad input to the vLLM engines is refused before any sample is scored, with a message naming
the environment or file and the command that fixes it, and no server process is left behind.

Runs without vLLM: the environment and folder checks happen before vLLM is imported, and the
server that never becomes healthy is a real process (a Python script that starts a child and
never answers ``/health``)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.core.errors import UsageError
from harness.inference.vllm_engine import VLLMEngine, check_local_weights
from harness.inference.vllm_serve import ServerFailed, VLLMServeEngine, VLLMServer, free_port

SETUP = "make setup-vllm-cpu"


def model_folder(root: Path) -> Path:
    """A folder that looks like a Hugging Face model to the checks (config.json)."""
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"architectures": ["Qwen2_5_VLForConditionalGeneration"],
                                                  "model_type": "qwen2_5_vl"}))
    return root


def envs_config(tmp_path: Path, vllm_python: Path) -> Path:
    """This interpreter as the client environment, ``vllm-cpu`` at ``vllm_python``."""
    path = tmp_path / "envs.toml"
    path.write_text(f'[environments.here]\npython = "{sys.executable}"\nprovides = ["api", "hf", "data"]\n'
                    f'[environments.vllm-cpu]\npython = "{vllm_python}"\nprovides = ["vllm", "hf", "api"]\n'
                    f'setup = "{SETUP}"\n')
    return path


@pytest.mark.parametrize("model", ["vllm-vlm", "vllm-serve"])
@pytest.mark.parametrize("broken", ["missing", "no-vllm"])
def test_a_missing_or_broken_vllm_cpu_environment_is_named_with_its_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, model: str,
        broken: str) -> None:
    if broken == "missing":
        python = tmp_path / "gone" / "bin" / "python"
    else:  # a venv without vllm (nor anything else)
        import venv

        venv.create(tmp_path / "bare", with_pip=False)
        python = tmp_path / "bare" / "bin" / "python"
    monkeypatch.setenv("VISANOM_ENVS", str(envs_config(tmp_path, python)))
    monkeypatch.delenv("VISANOM_ENV", raising=False)
    out = tmp_path / "out"
    tiny = model_folder(tmp_path / "tiny")
    code = main(["run", "--task", "visanombench-demo", "--model", model, "--model-args", f"model_id={tiny}",
                 "--limit", "1", "--output", str(out), "--no-cache", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and "environment 'vllm-cpu'" in err and f"`{SETUP}`" in err, err
    assert ("does not exist" in err) if broken == "missing" else ("cannot import" in err and "vllm" in err), err
    assert not out.exists()  # refused before any sample


def test_an_adapter_folder_that_is_not_a_lora_is_refused(tmp_path: Path) -> None:
    tiny = model_folder(tmp_path / "tiny")
    empty = tmp_path / "not-an-adapter"
    empty.mkdir()
    (empty / "model.safetensors").write_bytes(b"")
    prefix = tmp_path / "prefix-tuning"
    prefix.mkdir()
    (prefix / "adapter_config.json").write_text(json.dumps({"peft_type": "PREFIX_TUNING"}))
    cases = [(empty, "has no readable adapter_config.json"), (prefix, "is a PREFIX_TUNING adapter"),
             (tmp_path / "nowhere", "does not exist")]
    for folder, why in cases:
        for make in (lambda a: VLLMEngine(str(tiny), adapter_id=a),
                     lambda a: VLLMServeEngine(str(tiny), adapter_id=a)):
            with pytest.raises(UsageError) as info:
                make(str(folder))
            msg = str(info.value)
            assert f"adapter folder {folder} is not a LoRA adapter" in msg and why in msg, msg
            assert "save_pretrained" in msg
    good = tmp_path / "lora"
    good.mkdir()
    (good / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    check_local_weights(str(tiny), str(good))  # a LoRA folder passes
    check_local_weights("Qwen/Qwen2.5-VL-3B-Instruct", "PLAN-Lab/VisAnomReasoner-3B")  # hub ids: vLLM checks


def test_a_model_folder_vllm_cannot_load_is_refused_before_any_sample(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    bad_json = tmp_path / "bad-json"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{not json")
    no_arch = tmp_path / "no-arch"
    no_arch.mkdir()
    (no_arch / "config.json").write_text("{}")
    for folder, why in [(no_config, "has no readable config.json"), (bad_json, "has no readable config.json"),
                        (no_arch, "has a config.json that names no architectures or model_type")]:
        with pytest.raises(UsageError) as info:
            VLLMEngine(str(folder))
        assert f"model folder {folder} {why}" in str(info.value) and "hf download" in str(info.value)
    # this interpreter is the environment for vllm-vlm (a configuration file says so), so the
    # run reaches the engine's own folder check whichever environments this machine has
    envs = tmp_path / "envs.toml"
    envs.write_text(f'[environments.here]\npython = "{sys.executable}"\n'
                    'provides = ["vllm", "hf", "api", "data"]\n')
    monkeypatch.setenv("VISANOM_ENVS", str(envs))
    monkeypatch.delenv("VISANOM_ENV", raising=False)
    out = tmp_path / "out"
    code = main(["run", "--task", "visanombench-demo", "--model", "vllm-vlm", "--model-args",
                 f"model_id={no_config}", "--limit", "1", "--output", str(out), "--no-cache", "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0 and f"model folder {no_config}" in err, err
    assert not list(out.glob("*/*/*/samples.jsonl"))


SLEEPER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
with open(sys.argv[1] + ".tmp", "w") as fh:  # written whole, then renamed: the test's clock watches the name
    fh.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_a_server_that_never_becomes_healthy_is_stopped_with_its_children(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import types

    from harness.inference import vllm_serve

    pids = tmp_path / "pids"
    script = tmp_path / "never_healthy.py"
    script.write_text(SLEEPER)
    # a clock that stands still until the server and its child are up, then jumps past the
    # deadline: the timeout path runs whatever the machine's load
    clock = types.SimpleNamespace(monotonic=lambda: 1e9 if pids.exists() else 0.0, sleep=time.sleep,
                                  perf_counter=time.perf_counter)
    monkeypatch.setattr(vllm_serve, "time", clock)
    port = free_port()
    server = VLLMServer([sys.executable, str(script), str(pids)], port=port, startup_timeout_s=3,
                        log_path=tmp_path / "server.log")
    with pytest.raises(ServerFailed) as info:
        server.start()
    assert "was not ready within 3 s" in str(info.value) and str(tmp_path / "server.log") in str(info.value)
    parent, child = (int(p) for p in pids.read_text().split())
    for _ in range(6000):  # a hang guard only (60 s): the signals are sent; the kernel ends them at once
        if not alive(parent) and not alive(child):
            break
        time.sleep(0.01)
    assert not alive(parent) and not alive(child)  # the whole process group went
    assert not server.running()


def test_vllm_serve_engine_reports_a_server_that_exits_as_every_samples_error(tmp_path: Path) -> None:
    from harness.inference.base import ChatRequest, GenerationConfig

    fake = tmp_path / "bin" / "vllm"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'No module named vllm.entrypoints' >&2\nexit 3\n")
    fake.chmod(0o755)
    tiny = model_folder(tmp_path / "tiny")
    engine = VLLMServeEngine(str(tiny), executable=str(fake), startup_timeout_s=60,
                             log_path=str(tmp_path / "serve.log"))
    results = engine.generate([ChatRequest("a", "q"), ChatRequest("b", "q")], GenerationConfig())
    assert [r.text for r in results] == [None, None]
    assert all("vllm serve could not start" in r.error and "exited with code 3" in r.error
               and "No module named vllm.entrypoints" in r.error for r in results)
    assert engine.server is None or not engine.server.running()
    engine.close()
