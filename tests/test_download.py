"""Downloading and unpacking a TSB-AD-U archive, against a real local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from harness.core.errors import DataError
from tasks.tsb_ad_u.download import download_tsb_ad_u, install_archive, main
from tasks.tsb_ad_u.files import list_files, read_series

NAMES = ["001_NAB_id_1_Facility_tr_2_1st_3.csv", "002_YAHOO_id_1_WebService_tr_2_1st_4.csv"]
CSV = "Data,Label\n1,0\n2,0\n3,0\n4,1\n5,0\n"


def make_zip(entries: dict[str, str], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, text in entries.items():
            zf.writestr(name, text)
    return buf.getvalue()


GOOD = make_zip({f"TSB-AD-U/{n}": CSV for n in NAMES} | {"__MACOSX/._x.csv": "junk", "TSB-AD-U/README.txt": "hi"})


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder; ``/short.zip`` promises more bytes than it sends."""

    def do_GET(self) -> None:
        if self.path == "/short.zip":
            self.send_response(200)
            self.send_header("Content-Length", str(len(GOOD)))
            self.end_headers()
            self.wfile.write(GOOD[:100])
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/www``; yields (base URL, folder)."""
    www = tmp_path / "www"
    www.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    finally:
        httpd.shutdown()
        httpd.server_close()


def only_result(dest: Path) -> list[str]:
    """What is left in ``dest``: no temporary files may remain."""
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def test_download_and_unpack(server: tuple[str, Path], tmp_path: Path) -> None:
    url, www = server
    (www / "TSB-AD-U.zip").write_bytes(GOOD)
    dest = tmp_path / "data"
    sha = hashlib.sha256(GOOD).hexdigest()
    folder = download_tsb_ad_u(dest, f"{url}/TSB-AD-U.zip", sha256=sha, require=None, progress=False)
    assert folder == dest / "TSB-AD-U"
    assert sorted(p.name for p in folder.iterdir()) == NAMES  # series files only, no junk
    assert only_result(dest) == ["TSB-AD-U"]
    values, labels = read_series(folder / NAMES[0])
    assert values.tolist() == [1, 2, 3, 4, 5] and labels.tolist() == [0, 0, 0, 1, 0]
    # present already: no second download (the server no longer has the file)
    (www / "TSB-AD-U.zip").unlink()
    assert download_tsb_ad_u(dest, f"{url}/TSB-AD-U.zip", require=None, progress=False) == folder


def test_force_replaces_existing(server: tuple[str, Path], tmp_path: Path) -> None:
    url, www = server
    dest = tmp_path / "data"
    (dest / "TSB-AD-U").mkdir(parents=True)
    (dest / "TSB-AD-U" / "old.csv").write_text("x")
    (www / "a.zip").write_bytes(GOOD)
    folder = download_tsb_ad_u(dest, f"{url}/a.zip", require=None, force=True, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == NAMES
    assert only_result(dest) == ["TSB-AD-U"]


@pytest.mark.parametrize("payload, cause", [
    (b"this is not a zip file at all", "not a valid zip archive"),
    (GOOD[: len(GOOD) // 2], "not a valid zip archive"),
    (make_zip({"notes/readme.txt": "x"}), "no TSB-AD-U series files"),
    (make_zip({"../evil/001_A_id_1_B_tr_1_1st_2.csv": CSV}), "unsafe path"),
])
def test_bad_archives_leave_nothing(server: tuple[str, Path], tmp_path: Path, payload: bytes, cause: str) -> None:
    url, www = server
    (www / "bad.zip").write_bytes(payload)
    dest = tmp_path / "data"
    with pytest.raises(DataError, match=cause):
        download_tsb_ad_u(dest, f"{url}/bad.zip", require=None, progress=False)
    assert only_result(dest) == []
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_damaged_member_is_caught(server: tuple[str, Path], tmp_path: Path, compression: int) -> None:
    url, www = server
    text = "Data,Label\n" + "".join(f"{i * 0.37:.5f},{i % 7 == 0:d}\n" for i in range(3000))
    data = bytearray(make_zip({f"TSB-AD-U/{n}": text for n in NAMES}, compression))
    data[len(data) // 3] ^= 0x10  # flip one bit inside the first member's data
    (www / "crc.zip").write_bytes(bytes(data))
    with pytest.raises(DataError, match="corrupt zip archive"):
        download_tsb_ad_u(tmp_path / "d", f"{url}/crc.zip", require=None, progress=False)
    assert only_result(tmp_path / "d") == []


def test_checksum_mismatch(server: tuple[str, Path], tmp_path: Path) -> None:
    url, www = server
    (www / "a.zip").write_bytes(GOOD)
    with pytest.raises(DataError, match="checksum mismatch.*expected 00"):
        download_tsb_ad_u(tmp_path / "d", f"{url}/a.zip", sha256="00" * 32, require=None, progress=False)
    assert only_result(tmp_path / "d") == []


def test_http_errors(server: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = server
    with pytest.raises(DataError, match="could not download .*missing.zip: HTTP 404"):
        download_tsb_ad_u(tmp_path / "d", f"{url}/missing.zip", require=None, progress=False)
    with pytest.raises(DataError, match="could not download|stopped early"):
        download_tsb_ad_u(tmp_path / "d", f"{url}/short.zip", require=None, progress=False)
    assert only_result(tmp_path / "d") == []


def test_require_official_list(server: tuple[str, Path], tmp_path: Path) -> None:
    url, www = server
    (www / "a.zip").write_bytes(GOOD)
    with pytest.raises(DataError, match="350 file\\(s\\) of the 'eva' list are missing"):
        download_tsb_ad_u(tmp_path / "d", f"{url}/a.zip", require="eva", progress=False)
    assert only_result(tmp_path / "d") == []
    # an archive with every tuning file passes that check (flat layout, no folder)
    archive = tmp_path / "tuning.zip"
    archive.write_bytes(make_zip(dict.fromkeys(list_files("tuning"), CSV)))
    folder = install_archive(archive, tmp_path / "t", require="tuning")
    assert len(list(folder.glob("*.csv"))) == 48


def test_install_refuses_existing_without_force(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(GOOD)
    install_archive(archive, tmp_path / "d", require=None)
    with pytest.raises(DataError, match="already exists"):
        install_archive(archive, tmp_path / "d", require=None)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(GOOD)
    assert main([str(tmp_path / "d"), "--archive", str(archive)]) == 2  # not the full release
    assert "missing" in capsys.readouterr().err
    archive.write_bytes(make_zip(dict.fromkeys(list_files("all"), CSV)))
    assert main([str(tmp_path / "d"), "--archive", str(archive)]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(tmp_path / "d" / "TSB-AD-U")
    assert "VISANOM_TSB_AD_U_DIR" in out.err
