"""Identify Hugging Face weights for fingerprints: a hub commit hash or a local content hash.

A hub id resolves to the commit of the requested revision: from the local hub cache when it
is there (no network), else from the hub API, else the revision name as given. A local
folder hashes the content of its files, so edited weights never hit an old cache entry.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
FULL_HASH_LIMIT = 64 * 2**20  # files above this are hashed by size + head + tail
EDGE_BYTES = 8 * 2**20


def is_local(model_id: str) -> bool:
    """True when ``model_id`` names an existing folder rather than a hub repository."""
    return Path(model_id).expanduser().is_dir()


def _file_digest(path: Path) -> str:
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        if size <= FULL_HASH_LIMIT:
            for chunk in iter(lambda: fh.read(2**20), b""):
                h.update(chunk)
        else:  # a very large weight file: its size, first and last bytes identify it in practice
            h.update(fh.read(EDGE_BYTES))
            fh.seek(size - EDGE_BYTES)
            h.update(fh.read(EDGE_BYTES))
    return h.hexdigest()


def folder_hash(folder: str | Path) -> str:
    """sha256 over the relative names and contents of the files of ``folder`` (README excluded)."""
    root = Path(folder).expanduser()
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".") or rel.lower() == "readme.md":
            continue
        h.update(rel.encode() + b"\0" + _file_digest(path).encode() + b"\n")
    return h.hexdigest()


def cached_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit hash the local hub cache maps ``revision`` to, without network."""
    rev = revision or "main"
    if COMMIT_RE.match(rev):
        return rev
    try:
        from huggingface_hub import constants
    except ImportError:  # the `hf` extra is not installed
        return None
    ref = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "refs" / rev
    try:
        commit = ref.read_text().strip()
    except OSError:
        return None
    return commit if COMMIT_RE.match(commit) else None


def hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit hash of ``revision`` from the hub API, or ``None`` offline."""
    try:
        from huggingface_hub import HfApi, constants

        if constants.HF_HUB_OFFLINE:
            return None
        return HfApi().model_info(repo_id, revision=revision, timeout=10).sha
    except Exception:  # offline, unknown repo, gated: the caller falls back to the name
        return None


def identify(model_id: str, revision: str | None) -> dict[str, Any]:
    """``{"id", "revision", "resolved"}``: the commit (hub) or content hash (local folder)."""
    if is_local(model_id):
        return {"id": "local", "revision": revision, "resolved": "sha256:" + folder_hash(model_id)}
    commit = cached_commit(model_id, revision) or hub_commit(model_id, revision)
    return {"id": model_id, "revision": revision, "resolved": commit or f"unresolved:{revision or 'main'}"}


def identify_weights(model_id: str, revision: str | None, adapter_id: str | None,
                     adapter_revision: str | None) -> dict[str, Any]:
    """``{"model": identify(base), "adapter": identify(adapter) or None}``: what an engine's
    ``identity()`` reports and its fingerprint hashes."""
    adapter = identify(adapter_id, adapter_revision) if adapter_id else None
    return {"model": identify(model_id, revision), "adapter": adapter}
