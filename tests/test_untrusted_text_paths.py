"""The helpers behind issue 22's hardening: printable text, folder words, regular files only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.core.paths import NotRegular, folder_problem, read_regular
from harness.core.text import printable


def test_printable_escapes_every_control_character() -> None:
    shown = printable("a\x1b]0;title\x07\x1b[2J\x9b\u202eb\nc\td")
    assert shown == "a\\e]0;title\\x07\\e[2J\\x9b\\u202eb\\nc\\td"
    assert printable("line one\n\x1bline two", keep_newlines=True) == "line one\n\\eline two"
    assert printable("plain ünïcode / name") == "plain ünïcode / name"


def test_folder_problem_names_what_the_path_is(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "file").write_text("x")
    assert folder_problem(tmp_path) is None
    assert folder_problem(tmp_path / "pipe") == "is a named pipe (FIFO), not a folder"
    assert folder_problem(tmp_path / "file") == "is a file, not a folder"
    assert folder_problem(tmp_path / "missing") == "does not exist"


def test_read_regular_refuses_fifo_device_outside_and_oversize(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.mkfifo(root / "pipe")  # opened non-blocking: this must not hang
    (root / "zero").symlink_to("/dev/zero")
    (tmp_path / "secret").write_text("s")
    (root / "out").symlink_to(tmp_path / "secret")
    (root / "big").write_bytes(b"x" * 101)
    (root / "ok").write_bytes(b"fine")
    with pytest.raises(NotRegular, match="named pipe"):
        read_regular(root / "pipe", root=root)
    with pytest.raises(NotRegular, match="character device"):
        read_regular(root / "zero")
    with pytest.raises(NotRegular, match="outside"):
        read_regular(root / "out", root=root)
    with pytest.raises(NotRegular, match="too large"):
        read_regular(root / "big", root=root, max_bytes=100)
    assert read_regular(root / "ok", root=root, max_bytes=100) == b"fine"


def test_read_regular_containment_with_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("results").mkdir()
    Path("secret").write_text("s")
    Path("results/link").symlink_to(tmp_path / "secret")
    with pytest.raises(NotRegular, match="outside"):
        read_regular(Path("results/link"), root=Path("results"))
