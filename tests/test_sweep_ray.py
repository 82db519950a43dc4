"""The Ray executor gives the same records as the local one, and workers never get the
results folder (they return records through the object store; the driver writes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweep_helpers import records_of, write_small_sweep

from harness.sweep.driver import run_sweep
from harness.sweep.executors import Unit
from harness.sweep.file import load_sweep

ray = pytest.importorskip("ray", reason="ray is not installed here (pip install 'visanom[ray]')")
pytestmark = pytest.mark.slow


def test_local_and_ray_executors_give_identical_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = load_sweep(str(write_small_sweep(tmp_path)))
    local = run_sweep(sweep, output=tmp_path / "local", executor="local", workers=2, progress=False,
                      print_fn=lambda s: None)
    assert local.ok
    payloads: list[str] = []
    original = Unit.payload

    def spy(self: Unit, with_cache: bool = True) -> dict:
        data = original(self, with_cache)
        payloads.append(json.dumps(data))
        return data

    monkeypatch.setattr(Unit, "payload", spy)
    try:
        remote = run_sweep(sweep, output=tmp_path / "ray", executor="ray", workers=2, progress=False,
                           print_fn=lambda s: None)
    finally:
        ray.shutdown()
    assert remote.ok and [j.state for j in remote.jobs] == ["done"] * 3
    assert records_of(tmp_path / "ray") == records_of(tmp_path / "local")
    assert payloads and not any(str(tmp_path) in p for p in payloads)  # no path of this machine's folders
