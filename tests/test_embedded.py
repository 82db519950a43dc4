"""The embedded default data set: contents, determinism, atomic and concurrent building."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from harness.core.errors import DataError
from tasks.tsb_ad_u import embedded
from tasks.tsb_ad_u.embedded import (
    LIST_FILE,
    META_FILE,
    VERSION,
    default_embedded_dir,
    ensure_embedded,
    is_complete,
)
from tasks.tsb_ad_u.files import find_file, list_files, load_series, parse_file_name


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_embedded(tmp_path_factory.mktemp("emb") / "v1")


def test_contents(built: Path) -> None:
    names = list_files("embedded", built)
    meta = json.loads((built / META_FILE).read_text())
    assert meta["version"] == VERSION and list(meta["files"]) == names
    assert len(names) == 15 and 30_000 <= meta["n_points"] <= 50_000
    datasets = [parse_file_name(n).dataset for n in names]
    assert datasets.count("GutenTAG") == 12 and {"UCR", "MITDB", "YAHOO"} <= set(datasets)
    kinds = {k for f in meta["files"].values() for k in f["anomaly_kinds"]}
    assert {"extremum", "pattern", "amplitude", "mean", "frequency", "platform", "variance", "trend"} <= kinds
    for name in names:
        s = load_series(find_file(built, name))  # the official loader reads every file
        info, m = s.info, meta["files"][name]
        assert s.notes == ()  # first anomaly in the name matches the labels
        assert 0 < info.train_end < info.first_anomaly  # a clean training prefix
        assert not s.labels[: info.train_end].any()
        assert m["length"] == s.values.size and m["anomaly_points"] == int(s.labels.sum())
        assert m["intervals"][0][0] == info.first_anomaly and len(m["intervals"]) == m["n_anomalies"]
        assert m["sha256"] == hashlib.sha256((built / name).read_bytes()).hexdigest()
        assert m["source"] == info.dataset and m["domain"] == info.domain and m["origin"]
        if info.dataset == "GutenTAG":
            assert 1000 <= s.values.size <= 4000 and m["base_oscillation"]


def test_real_series(built: Path) -> None:
    by_dataset = {parse_file_name(n).dataset: n for n in list_files("embedded", built)}
    ucr, mitdb, yahoo = (load_series(built / by_dataset[d]) for d in ("UCR", "MITDB", "YAHOO"))
    assert (ucr.values.size, ucr.info.train_end, ucr.info.first_anomaly, ucr.info.series_id) == (7501, 1200, 4187, 135)
    assert int(ucr.labels.sum()) == 12 and ucr.info.domain == "Medical"
    assert (mitdb.values.size, mitdb.info.first_anomaly, mitdb.info.domain) == (7500, 6936, "Medical")
    assert (yahoo.values.size, int(yahoo.labels.sum()), yahoo.info.domain) == (1000, 7, "WebService")
    assert yahoo.values[0] == -46.3943563961523  # the shipped values, unrounded


def test_deterministic_bytes(built: Path, tmp_path: Path) -> None:
    again = ensure_embedded(tmp_path / "again")
    assert digests(again) == digests(built)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_same_as_public_gutentag_api() -> None:
    from gutenTAG import GutenTAG

    config = {"timeseries": [
        {"name": f"visanom-embedded-{i + 1}", "length": length, "base-oscillations": [bo], "anomalies": an}
        for i, (_, length, _, bo, an) in enumerate(embedded._GUTENTAG)
    ]}
    with contextlib.redirect_stderr(io.StringIO()):  # GutenTAG.generate prints progress bars
        public = GutenTAG.from_dict(config, seed=embedded.SEED).generate(return_timeseries=True)
    ours = embedded._gutentag_series()
    assert len(public) == len(ours) == 12
    for ts, s in zip(public, ours, strict=True):
        np.testing.assert_array_equal(ts.timeseries.iloc[:, 0].to_numpy(), s.values)
        np.testing.assert_array_equal(ts.timeseries.iloc[:, -1].to_numpy().astype(np.int8), s.labels)


def test_reuse_and_repair(tmp_path: Path) -> None:
    root = ensure_embedded(tmp_path / "set")
    first = sorted(root.iterdir())[0]
    stamp = first.stat().st_mtime_ns
    assert ensure_embedded(root) == root and first.stat().st_mtime_ns == stamp  # not rebuilt
    first.write_text("Data,Label\n1,0\n")  # damage one file of ours
    assert not is_complete(root)
    assert ensure_embedded(root) == root and is_complete(root)
    assert first.read_text() != "Data,Label\n1,0\n"
    listed = (root / LIST_FILE).read_text().splitlines()
    (root / LIST_FILE).write_text("\n".join(listed[:-1]) + "\n")  # drop a series from the list
    assert not is_complete(root)
    assert ensure_embedded(root) == root and (root / LIST_FILE).read_text().splitlines() == listed
    assert [p.name for p in tmp_path.iterdir()] == ["set"]  # no temporary folders left


def test_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(DataError, match="not empty and holds no embedded data set"):
        ensure_embedded(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "user data"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        ensure_embedded(tmp_path / "file")


def test_empty_folder_is_filled(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert is_complete(ensure_embedded(tmp_path / "empty"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # catch_warnings is per process
def test_concurrent_callers(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    results: list[Path | BaseException] = []

    def call() -> None:
        try:
            results.append(ensure_embedded(root))
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            results.append(e)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [root] * 3
    assert is_complete(root) and (root / LIST_FILE).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["shared"]


def test_default_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_embedded_dir() == tmp_path / "visanom" / "embedded" / VERSION
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_embedded_dir() == Path.home() / ".cache" / "visanom" / "embedded" / VERSION
