"""TSB-AD-U file names, CSV validation, shipped lists and the data folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.core.errors import DataError, UnknownNameError
from tasks.tsb_ad_u.files import (
    ENV_DATA_DIR,
    LISTS,
    find_file,
    label_problem,
    list_files,
    load_series,
    parse_file_name,
    parse_list,
    read_list,
    read_series,
    resolve_data_dir,
)

NAME = "001_NAB_id_1_Facility_tr_1007_1st_2014.csv"


def write(tmp_path: Path, text: str | bytes, name: str = "001_X_id_1_Test_tr_2_1st_3.csv") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def error_of(path: Path, **kw: bool) -> str:
    with pytest.raises(DataError) as e:
        read_series(path, **kw)
    msg = str(e.value)
    assert str(path) in msg  # names the file
    assert "\n" not in msg  # one message
    return msg


# -- file names ----------------------------------------------------------------------------

def test_parse_file_name() -> None:
    info = parse_file_name(NAME)
    assert (info.file, info.idx, info.dataset, info.series_id) == (NAME, 1, "NAB", 1)
    assert (info.domain, info.train_end, info.first_anomaly) == ("Facility", 1007, 2014)


def test_parse_file_name_accepts_paths_and_odd_parts() -> None:
    assert parse_file_name(Path("/x/TSB-AD-U") / NAME).file == NAME
    info = parse_file_name("0999_My_Set_id_12_Web_Service_tr_5_1st_3.csv")
    assert (info.idx, info.dataset, info.series_id, info.domain) == (999, "My_Set", 12, "Web_Service")
    assert (info.train_end, info.first_anomaly) == (5, 3)  # official names can have tr > 1st


@pytest.mark.parametrize("bad", [
    "", "foo.csv", NAME.replace(".csv", ".txt"), NAME.replace("_tr_", "_train_"),
    "001_NAB_id_x_Facility_tr_1007_1st_2014.csv", "NAB_id_1_Facility_tr_1007_1st_2014.csv",
    "001__id_1_Facility_tr_1007_1st_2014.csv", "001_NAB_id_1__tr_1007_1st_2014.csv",
    "001_NAB_id_1_Facility_tr_-5_1st_2014.csv",
])
def test_bad_file_names(bad: str) -> None:
    with pytest.raises(DataError, match="bad TSB-AD-U file name.*expected"):
        parse_file_name(bad)


# -- reading series --------------------------------------------------------------------------

def test_read_series_ok(tmp_path: Path) -> None:
    p = write(tmp_path, "Data,Label\n1.5,0\n-2,0\n3e2,1\n4,1.0\n")
    values, labels = read_series(p)
    assert values.dtype == np.float64 and labels.dtype == np.int8
    assert values.ndim == labels.ndim == 1
    np.testing.assert_array_equal(values, [1.5, -2, 300, 4])
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])


def test_values_parse_like_tsb_ad_loader(tmp_path: Path) -> None:
    """Bit-identical to pandas' default parse, which TSB-AD's own loader uses."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=500) * 10.0 ** rng.integers(-8, 8, size=500)
    text = "Data,Label\n" + "\n".join(f"{v!r},{i % 2}" for i, v in enumerate(x.tolist()))
    p = write(tmp_path, text)
    values, _ = read_series(p)
    np.testing.assert_array_equal(values, pd.read_csv(p)["Data"].to_numpy(dtype=float))


def test_read_series_tolerates_bom_crlf_blank_lines_no_trailing_newline(tmp_path: Path) -> None:
    p = write(tmp_path, b"\xef\xbb\xbfData,Label\r\n1,0\r\n\r\n2,1\r\n3,0")
    values, labels = read_series(p)
    np.testing.assert_array_equal(values, [1, 2, 3])
    np.testing.assert_array_equal(labels, [0, 1, 0])


def test_column_order_does_not_matter(tmp_path: Path) -> None:
    values, labels = read_series(write(tmp_path, "Label,Data\n0,5,\n1,6,\n"))  # trailing commas are fine
    np.testing.assert_array_equal(values, [5, 6])
    np.testing.assert_array_equal(labels, [0, 1])


@pytest.mark.parametrize("text, cause", [
    ("", "file is empty"),
    ("  \n\n", "file is empty"),
    ("Data,Label\n", "no data rows"),
    ("Data,Label\n1,0\n2,0,7\n", "malformed CSV"),
    ('Data,Label\n1,0\n"2,0\n', "malformed CSV"),
    ("Data,Label\n5,1,0\n6,0,1\n", "malformed CSV: rows have more fields than the header"),
    ("Data,Label\n1,0\n2\n", "malformed CSV: empty Label value at data row 2"),
    ("Data,Label\n1,0\n,1\n", "empty Data value at data row 2"),
    ("Data\n1\n2\n", "missing column(s) Label"),
    ("Value,Label\n1,0\n", "missing column(s) Data"),
    ("value,label\n1,0\n", "missing column(s) Data, Label"),
    ("Data,Label,Extra\n1,0,3\n", "unexpected column(s) ['Extra']"),
    ("Data,Label\n1,0\nabc,0\n", "non-numeric Data value 'abc' at data row 2"),
    ("Data,Label\n1,0\n2,yes\n", "non-numeric Label value 'yes'"),
    ("Data,Label\n1,0\nNA,1\n", "non-numeric Data value 'NA' at data row 2"),
    ("Data,Label\n1,0\nTrue,1\n", "non-numeric Data value 'True'"),
    ("Data,Label\n1,0\n2,False\n", "non-numeric Label value 'False'"),
    ("Data,Label\n1,0\nnan,0\n3,1\n", "NaN/inf Data value(s), first 'nan' at data row 2"),
    ("Data,Label\n1,0\nNaN,0\n3,1\n", "NaN/inf Data"),
    ("Data,Label\n1,0\ninf,0\n-inf,1\n", "2 NaN/inf Data value(s), first 'inf'"),
    ("Data,Label\n1,0\n2,nan\n", "NaN/inf Label"),
    ("Data,Label\n1,0\n2,2\n3,-1\n", "labels must be 0 or 1; found -1, 2 (first at data row 2)"),
    ("Data,Label\n1,0\n2,0.5\n", "labels must be 0 or 1; found 0.5"),
    ("Data,Label\n4,0\n4,1\n4,0\n", "constant series (all 3 values are 4)"),
])
def test_read_series_errors(tmp_path: Path, text: str, cause: str) -> None:
    assert cause in error_of(write(tmp_path, text))


def test_not_utf8_is_malformed(tmp_path: Path) -> None:
    assert "not UTF-8" in error_of(write(tmp_path, b"Data,Label\n1,0\n\xff\xfe,1\n"))


def test_unreadable_file(tmp_path: Path) -> None:
    assert "cannot read file" in error_of(tmp_path / "missing.csv")


def test_constant_series_allowed_on_request(tmp_path: Path) -> None:
    values, _ = read_series(write(tmp_path, "Data,Label\n4,0\n4,1\n"), allow_constant=True)
    np.testing.assert_array_equal(values, [4, 4])


def test_all_zero_or_all_one_labels_are_flagged(tmp_path: Path) -> None:
    p0 = write(tmp_path, "Data,Label\n1,0\n2,0\n", "a.csv")
    p1 = write(tmp_path, "Data,Label\n1,1\n2,1\n", "b.csv")
    assert label_problem(read_series(p0)[1]) == "no anomaly labelled (every label is 0)"
    assert "every label is 1" in label_problem(read_series(p1)[1])
    assert label_problem(np.array([0, 1], dtype=np.int8)) is None
    assert "every label is 0" in error_of(p0, require_anomaly=True)
    assert "every label is 1" in error_of(p1, require_anomaly=True)


def test_load_series(tmp_path: Path) -> None:
    s = load_series(write(tmp_path, "Data,Label\n1,0\n2,0\n3,1\n4,0\n", "001_X_id_1_Dom_tr_2_1st_2.csv"))
    assert s.info.train_end == 2 and s.values.size == 4 and s.notes == ()
    s = load_series(write(tmp_path, "Data,Label\n1,0\n2,0\n3,1\n", "002_X_id_1_Dom_tr_2_1st_1.csv"))
    assert s.notes == ("first anomaly at 2, the file name says 1",)
    with pytest.raises(DataError, match="train end 9 from the file name is outside 1..3"):
        load_series(write(tmp_path, "Data,Label\n1,0\n2,0\n3,1\n", "003_X_id_1_Dom_tr_9_1st_2.csv"))


# -- lists -----------------------------------------------------------------------------------

def test_shipped_lists() -> None:
    eva, tuning, everything = list_files("eva"), list_files("tuning"), list_files("all")
    assert (len(eva), len(tuning), len(everything), len(list_files("eval-full"))) == (350, 48, 870, 822)
    assert list_files("eval") == eva == list_files("TSB-AD-U-Eva.csv")
    assert eva[0] == NAME and eva[-1].endswith("_tr_1477_1st_1577.csv")  # last line has no newline
    assert set(eva) <= set(everything) and set(tuning) <= set(everything)
    assert not set(eva) & set(tuning)
    assert len({parse_file_name(n).dataset for n in everything}) == 23


def test_unknown_list_name() -> None:
    with pytest.raises(UnknownNameError, match="unknown TSB-AD-U file list 'nope'.*eva"):
        list_files("nope")
    assert set(LISTS) >= {"eva", "tuning", "all"}


def test_list_from_data_dir_and_path(tmp_path: Path) -> None:
    (tmp_path / "mine.csv").write_text(f"file_name\n{NAME}\n")
    assert list_files("mine", tmp_path) == [NAME]
    assert list_files(str(tmp_path / "mine.csv")) == [NAME]
    assert read_list(tmp_path / "mine.csv") == [NAME]


@pytest.mark.parametrize("text, cause", [
    ("name\nx.csv\n", "must start with the header 'file_name'"),
    ("file_name\n", "the file list is empty"),
    (f"file_name\n{NAME}\n{NAME}\n", "duplicate file"),
    ("file_name\nfoo.csv\n", "bad TSB-AD-U file name 'foo.csv'"),
])
def test_bad_lists(text: str, cause: str) -> None:
    with pytest.raises(DataError, match=cause):
        parse_list(text, "my list")


# -- data folder -----------------------------------------------------------------------------

def test_resolve_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DATA_DIR, raising=False)
    with pytest.raises(DataError) as e:
        resolve_data_dir()
    msg = str(e.value)
    assert "--task-args data_dir=DIR" in msg and ENV_DATA_DIR in msg and "visanom data download tsb-ad-u" in msg
    assert resolve_data_dir(tmp_path) == tmp_path
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path))
    assert resolve_data_dir() == tmp_path
    (tmp_path / "sub").mkdir()
    assert resolve_data_dir(tmp_path / "sub") == tmp_path / "sub"  # the flag wins over the env var
    with pytest.raises(DataError, match="does not exist.*visanom data download tsb-ad-u"):
        resolve_data_dir(tmp_path / "nope")
    monkeypatch.setenv(ENV_DATA_DIR, str(tmp_path / "gone"))
    with pytest.raises(DataError, match=f"gone \\(\\${ENV_DATA_DIR}\\) does not exist"):
        resolve_data_dir()


def test_find_file(tmp_path: Path) -> None:
    (tmp_path / "TSB-AD-U").mkdir()
    (tmp_path / "other" / "TSB-AD-U").mkdir(parents=True)
    root_file = write(tmp_path, "x", "a.csv")
    nested = write(tmp_path / "TSB-AD-U", "x", "b.csv")
    deeper = write(tmp_path / "other" / "TSB-AD-U", "x", "c.csv")
    assert find_file(tmp_path, "a.csv") == root_file
    assert find_file(tmp_path, "b.csv") == nested
    assert find_file(tmp_path, "c.csv") == deeper
    with pytest.raises(DataError, match="d.csv not found in the TSB-AD-U data folder"):
        find_file(tmp_path, "d.csv")
