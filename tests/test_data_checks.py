"""TSB-AD-U input checks: a TrainEnd beyond the series is refused with the file and cause
(issue 10, item 7); a directory or an unfollowable link named like a series, and a value
beyond float64, are reported as what they are (item 9)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from harness.cli.main import main
from harness.core.errors import DataError
from tasks.tsb_ad_u.files import find_file, read_series
from tasks.tsb_ad_u.task import TSBADUTask

SHORT = "009_NAB_id_9_Traffic_tr_500_1st_438.csv"  # TrainEnd 500, but only 10 points
GOOD = "010_NAB_id_10_Traffic_tr_40_1st_60.csv"


def _series_csv(n: int, at: int) -> str:
    x = np.sin(np.arange(n) / 4.0)
    x[at] += 5.0
    return "Data,Label\n" + "".join(f"{v!r},{int(i == at)}\n" for i, v in enumerate(x))


def _folder(tmp_path: Path, names: dict[str, str]) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name, text in names.items():
        (data / name).write_text(text)
    (data / "mylist.csv").write_text("file_name\n" + "\n".join([*names, GOOD]) + "\n")
    (data / GOOD).write_text(_series_csv(200, 60))
    return data


@pytest.mark.detectors
def test_train_end_beyond_the_series_is_refused_by_the_task(tmp_path: Path) -> None:
    data = _folder(tmp_path, {SHORT: _series_csv(10, 7)})
    task = TSBADUTask(data_dir=data, file_list="mylist")
    samples = {s.id: s for s in task.samples()}
    bad = samples[SHORT.removesuffix(".csv")]
    assert bad.error is not None
    assert SHORT in bad.error and "train end 500" in bad.error and "1..10" in bad.error
    assert samples[GOOD.removesuffix(".csv")].error is None


@pytest.mark.detectors
def test_train_end_beyond_the_series_never_reaches_a_detector(tmp_path: Path) -> None:
    data = _folder(tmp_path, {SHORT: _series_csv(10, 7)})
    code = main(["run", "--model", "POLY", "--task", "tsb-ad-u", "--task-args", f"data_dir={data}",
                 "file_list=mylist", "--output", str(tmp_path / "out"), "--no-cache", "--no-progress"])
    assert code == 4
    run = json.loads(next((tmp_path / "out").glob("**/run.json")).read_text())
    (failure,) = run["failures"]
    assert "train end 500 from the file name is outside 1..10" in failure["error"]
    assert "POLY" not in failure["error"] and "ZeroDivision" not in failure["error"]


def test_a_directory_named_like_a_series_is_not_reported_missing(tmp_path: Path) -> None:
    (tmp_path / SHORT).mkdir()
    with pytest.raises(DataError) as exc:
        find_file(tmp_path, SHORT)
    assert "is a directory" in str(exc.value) and "not found" not in str(exc.value)
    assert str(tmp_path / SHORT) in str(exc.value)


def test_a_symlink_loop_named_like_a_series_is_not_reported_missing(tmp_path: Path) -> None:
    os.symlink(tmp_path / SHORT, tmp_path / SHORT)  # a link to itself: a loop
    with pytest.raises(DataError) as exc:
        find_file(tmp_path, SHORT)
    assert "symbolic link" in str(exc.value) and "not found" not in str(exc.value)


def test_a_dangling_symlink_is_named_as_such(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.csv", tmp_path / SHORT)
    with pytest.raises(DataError) as exc:
        find_file(tmp_path, SHORT)
    assert "symbolic link" in str(exc.value)


def test_a_real_file_elsewhere_still_wins_over_an_unusable_candidate(tmp_path: Path) -> None:
    (tmp_path / SHORT).mkdir()
    (tmp_path / "TSB-AD-U").mkdir()
    (tmp_path / "TSB-AD-U" / SHORT).write_text(_series_csv(10, 7))
    assert find_file(tmp_path, SHORT) == tmp_path / "TSB-AD-U" / SHORT


@pytest.mark.parametrize("value", ["1e309", "-1e400", "1E+999"])
def test_a_value_beyond_float64_is_out_of_range_not_non_numeric(tmp_path: Path, value: str) -> None:
    path = tmp_path / GOOD
    path.write_text(f"Data,Label\n1.0,0\n2.0,0\n{value},1\n")
    with pytest.raises(DataError) as exc:
        read_series(path)
    msg = str(exc.value)
    assert "non-numeric" not in msg
    assert f"Data value {value!r} at data row 3 is out of range" in msg


def test_text_is_still_non_numeric(tmp_path: Path) -> None:
    path = tmp_path / GOOD
    path.write_text("Data,Label\n1.0,0\nabc,1\n")
    with pytest.raises(DataError, match="non-numeric Data value 'abc' at data row 2"):
        read_series(path)
