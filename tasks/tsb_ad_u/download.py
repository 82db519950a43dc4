"""Download and unpack the official TSB-AD-U archive (for users with network access).

``python -m tasks.tsb_ad_u.download DEST`` fetches the zip named in TSB-AD's dataset README,
checks it (size, optional sha256, zip CRCs, file names, the official list) and unpacks it
atomically to ``DEST/TSB-AD-U``: a failed or interrupted download leaves nothing behind.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from harness.core.errors import DataError
from harness.core.files import make_temp_dir

from .files import ARCHIVE_FOLDER, ENV_DATA_DIR, list_files, parse_file_name

DEFAULT_URL = "https://www.thedatum.org/datasets/TSB-AD-U.zip"
"""The TSB-AD-U archive linked from TheDatumOrg/TSB-AD ``Datasets/README.md``."""

CHUNK = 1 << 20
MAX_UNPACKED_BYTES = 8 << 30
"""Most bytes an archive may unpack to (the series files together): a zip bomb stops here."""
MAX_RATIO = 100
"""Largest uncompressed/compressed size ratio of a series file over 1 MiB (CSV text of real
series compresses about 3-10x; a run of one repeated byte compresses about 1000x)."""


def _fetch(url: str, target: Path, *, timeout: float, progress: bool) -> str:
    """Stream ``url`` into ``target``; return the sha256. Checks the byte count."""
    req = urllib.request.Request(url, headers={"User-Agent": "visanom"})
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, target.open("wb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            got = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc="TSB-AD-U.zip", disable=not progress) as bar:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = f"HTTP {e.code} {e.reason}" if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
        raise DataError(f"could not download {url}: {reason}") from e
    if total is not None and got != total:
        raise DataError(f"download of {url} stopped early: {got} of {total} bytes")
    if got == 0:
        raise DataError(f"download of {url} returned no data")
    return digest.hexdigest()


def _safe_members(zf: zipfile.ZipFile, archive: Path) -> list[zipfile.ZipInfo]:
    """The members to unpack; refuses absolute paths and ``..``; skips macOS metadata."""
    members = []
    for info in zf.infolist():
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise DataError(f"{archive}: unsafe path {info.filename!r} in the archive")
        if parts and (parts[0] == "__MACOSX" or parts[-1].startswith("._") or parts[-1] == ".DS_Store"):
            continue
        members.append(info)
    return members


def _csv_names(members: list[zipfile.ZipInfo]) -> dict[str, str]:
    """Archive member name of each TSB-AD-U series file, keyed by the bare file name."""
    found = {}
    for info in members:
        base = PurePosixPath(info.filename).name
        if info.is_dir() or not base.endswith(".csv"):
            continue
        try:
            parse_file_name(base)
        except DataError:
            continue
        found[base] = info.filename
    return found


def _check_sizes(series: dict[str, zipfile.ZipInfo], archive: Path) -> None:
    """Refuse an archive whose series would unpack to more than :data:`MAX_UNPACKED_BYTES`
    or compress more than :data:`MAX_RATIO` times (the sizes the zip declares, which also
    bound what is read: a member is never read past its declared size)."""
    total = sum(info.file_size for info in series.values())
    if total > MAX_UNPACKED_BYTES:
        raise DataError(f"{archive}: the series files would unpack to {total:,} bytes (limit "
                        f"{MAX_UNPACKED_BYTES:,}); not unpacked (a zip bomb or not the TSB-AD-U release)")
    for info in series.values():
        if info.file_size > CHUNK and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise DataError(f"{archive}: {info.filename} would unpack {info.compress_size:,} bytes to "
                            f"{info.file_size:,} (over {MAX_RATIO}x); not unpacked (a zip bomb or not the "
                            "TSB-AD-U release)")


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    """Unpack one member, never writing more than its declared size (checked CRC at the end)."""
    written = 0
    with zf.open(info) as src, target.open("wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise DataError(f"{info.filename}: unpacks to more than its declared {info.file_size:,} bytes")
            out.write(chunk)


def install_archive(archive: str | os.PathLike[str], dest: str | os.PathLike[str], *,
                    require: str | None = "all", force: bool = False) -> Path:
    """Check a TSB-AD-U zip and unpack its series atomically into ``dest/TSB-AD-U``.

    Only series files (``*.csv`` with official names) are unpacked, flattened into one
    folder; every CRC is checked while unpacking into a temporary folder that is renamed
    into place at the end.

    ``require`` names a shipped list whose files must all be in the archive (None: at
    least one series file). Returns the folder that holds the CSV files.
    """
    archive, dest = Path(archive), Path(dest)
    final = dest / ARCHIVE_FOLDER
    if final.exists() and not force:
        raise DataError(f"{final} already exists; remove it or pass force=True (--force)")
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{archive}: not a valid zip archive ({e}); the download is corrupt") from e
    with zf:
        series = _csv_names(_safe_members(zf, archive))
        _check_sizes({base: zf.getinfo(member) for base, member in series.items()}, archive)
        if not series:
            raise DataError(f"{archive}: no TSB-AD-U series files (*.csv with the official names) inside")
        if require is not None:
            missing = [n for n in list_files(require) if n not in series]
            if missing:
                raise DataError(
                    f"{archive}: {len(missing)} file(s) of the {require!r} list are missing, "
                    f"e.g. {missing[0]}; the archive is not the TSB-AD-U release"
                )
        dest.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(dest, f".{ARCHIVE_FOLDER}.tmp-")
        try:
            staged = tmp / ARCHIVE_FOLDER
            staged.mkdir()
            for base, member in sorted(series.items()):
                try:  # reading a member to its end checks its CRC
                    _copy_member(zf, zf.getinfo(member), staged / base)
                except (zipfile.BadZipFile, EOFError, NotImplementedError, zlib.error) as e:
                    raise DataError(f"{archive}: corrupt zip archive ({member}: {e})") from e
            old = tmp / "previous" if final.exists() else None
            if old is not None:
                final.rename(old)
            try:
                staged.rename(final)
            except OSError:
                if old is not None:
                    old.rename(final)
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def download_tsb_ad_u(dest: str | os.PathLike[str], url: str = DEFAULT_URL, *,
                      sha256: str | None = None, require: str | None = "all",
                      force: bool = False, progress: bool = True, timeout: float = 60.0) -> Path:
    """Download the TSB-AD-U archive and unpack it to ``dest/TSB-AD-U``; return that folder.

    Skips the download when the folder already exists (unless ``force``). ``sha256``, when
    given, must match the archive. The zip is streamed to a temporary file in ``dest``,
    which is deleted afterwards, whether the check passes or not.
    """
    dest = Path(dest).expanduser()
    final = dest / ARCHIVE_FOLDER
    if final.is_dir() and any(final.glob("*.csv")) and not force:
        return final
    dest.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".TSB-AD-U.zip.part-", dir=dest)
    os.close(fd)
    part = Path(name)
    try:
        digest = _fetch(url, part, timeout=timeout, progress=progress)
        if sha256 is not None and digest.lower() != sha256.lower():
            raise DataError(f"checksum mismatch for {url}: sha256 {digest}, expected {sha256}")
        return install_archive(part, dest, require=require, force=True)
    finally:
        part.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m tasks.tsb_ad_u.download DEST [--url URL] [--sha256 HEX]``."""
    ap = argparse.ArgumentParser(prog="python -m tasks.tsb_ad_u.download", description=__doc__)
    ap.add_argument("dest", help="folder to put TSB-AD-U/ into")
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--sha256", default=None, help="expected sha256 of the zip")
    ap.add_argument("--archive", default=None, help="install an already downloaded zip instead")
    ap.add_argument("--force", action="store_true", help="replace an existing TSB-AD-U/ folder")
    args = ap.parse_args(argv)
    try:
        if args.archive:
            folder = install_archive(args.archive, args.dest, force=args.force)
        else:
            folder = download_tsb_ad_u(args.dest, args.url, sha256=args.sha256, force=args.force)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(folder)
    print(f"use it with: export {ENV_DATA_DIR}={folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
