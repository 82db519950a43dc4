"""``visanom leaderboard export``: per-sample records as a Hugging Face dataset, and the push
call path up to the network (``HfApi.create_repo`` / ``upload_folder`` are the calls that
would reach the Hub; they are replaced by recorders here)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from extras import requires
from lb_fixtures import write_run2

from harness.cli.main import main as cli

HF = requires("datasets", "huggingface_hub", extra="hf")


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    write_run2(root, "visanombench", "VisAnomReasoner-7B", n=4, answer="<script>x</script> answer")
    write_run2(root, "visanombench", "IForest", n=4)
    write_run2(root, "tsb-ad-u", "POLY", kind="score", headline="VUS-PR", n=3)
    write_run2(root, "tsb-ad-u", "POLY", kind="score", headline="VUS-PR", n=2, finished="2026-01-01T00:00:00Z",
               spec_id=None)  # an older run of the same spec: not exported
    return root


@HF
def test_export_writes_parquet_configs_loadable_by_datasets(results: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import datasets

    out = tmp_path / "ds"
    assert cli(["leaderboard", "export", str(results), "--out", str(out)]) == 0
    assert "tsb-ad-u: 3 records" in capsys.readouterr().out
    vab = datasets.load_dataset("parquet", data_files=str(out / "visanombench" / "train.parquet"),
                                split="train", cache_dir=str(tmp_path / "cache"))
    assert len(vab) == 8 and set(vab["model"]) == {"VisAnomReasoner-7B", "IForest"}
    row = next(r for r in vab if r["model"] == "VisAnomReasoner-7B")
    assert row["text"] == "<script>x</script> answer" and row["target_intervals"] == [[110, 120]]
    assert json.loads(row["metrics_json"])["F1"] == 0.0 and row["status"] == "ok"
    by_config = datasets.load_dataset(str(out), name="tsb-ad-u", split="train", cache_dir=str(tmp_path / "cache"))
    assert len(by_config) == 3 and by_config.features["intervals"].feature.feature.dtype == "int64"
    assert "config_name: visanombench" in (out / "README.md").read_text(encoding="utf-8")


def test_export_missing_results_is_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["leaderboard", "export", str(tmp_path / "nope"), "--out", str(tmp_path / "ds")]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "ds").exists()


@HF
def test_push_to_hub_call_path(results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub

    calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self: Any, **kwargs: Any) -> str:
        calls.append(("create_repo", kwargs))
        return f"https://huggingface.co/datasets/{kwargs['repo_id']}"

    def upload_folder(self: Any, **kwargs: Any) -> None:
        folder = Path(kwargs["folder_path"])
        assert (folder / "visanombench" / "train.parquet").is_file()
        present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        sent = list(huggingface_hub.utils.filter_repo_objects(  # the filter upload_folder applies
            present, allow_patterns=kwargs.get("allow_patterns"), ignore_patterns=kwargs.get("ignore_patterns")))
        calls.append(("upload_folder", {**kwargs, "sent": sorted(sent)}))

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("not part of the dataset", encoding="utf-8")  # --out may hold other files
    assert cli(["leaderboard", "export", str(results), "--out", str(out), "--push-to-hub", "me/board",
                "--force"]) == 0  # private by default; --force: a non-empty folder that is not an earlier export
    assert [name for name, _ in calls] == ["create_repo", "upload_folder"]
    assert calls[0][1] == {"repo_id": "me/board", "repo_type": "dataset", "private": True, "exist_ok": True}
    assert calls[1][1]["repo_id"] == "me/board" and calls[1][1]["repo_type"] == "dataset"
    assert calls[1][1]["folder_path"] == str(out)
    assert calls[1][1]["sent"] == ["README.md", "tsb-ad-u/train.parquet", "visanombench/train.parquet"]  # no notes.txt
    assert "pushed to https://huggingface.co/datasets/me/board" in capsys.readouterr().out


@HF
def test_push_without_network_is_a_clear_error(results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import huggingface_hub

    def offline(self: Any, **kwargs: Any) -> None:
        raise ConnectionError("Failed to resolve 'huggingface.co'")

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", offline)
    code = cli(["leaderboard", "export", str(results), "--out", str(tmp_path / "ds"), "--push-to-hub", "me/board"])
    assert code == 3
    assert "cannot push to the Hugging Face Hub (me/board)" in capsys.readouterr().err


@HF
def test_push_rejects_bad_repo_name(results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli(["leaderboard", "export", str(results), "--out", str(tmp_path / "ds"), "--push-to-hub", "../x"])
    assert code == 2 and "OWNER/NAME" in capsys.readouterr().err


def test_export_without_the_hf_extra_is_a_usage_error_naming_it(results: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A core install (no ``datasets``): a usage error naming the extra, not an internal error; nothing written."""
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError, as where it is absent
    code = cli(["leaderboard", "export", str(results), "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err
    assert code == 2 and "internal error" not in err
    assert "needs the package 'datasets'" in err and "visanom[hf]" in err
    assert not (tmp_path / "ds").exists()
