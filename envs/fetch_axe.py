"""Fetch axe-core's ``axe.min.js`` from the npm registry without npm (the fallback of ``make axe``).

    python envs/fetch_axe.py VERSION DEST

Reads the version's metadata, downloads its tarball, checks it against the registry's sha512
``integrity``, and writes ``package/axe.min.js`` to DEST. Exits 1 with a message on any failure.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org/axe-core"


def main(version: str, dest: str) -> int:
    """Fetch, verify and write ``axe.min.js``; 0 on success."""
    try:
        with urllib.request.urlopen(f"{REGISTRY}/{version}", timeout=60) as resp:
            dist = json.load(resp)["dist"]
        algo, digest = dist["integrity"].split("-", 1)
        if algo != "sha512":
            raise ValueError(f"unexpected integrity algorithm {algo}")
        with urllib.request.urlopen(dist["tarball"], timeout=120) as resp:
            tgz = resp.read()
        if base64.b64encode(hashlib.sha512(tgz).digest()).decode() != digest:
            raise ValueError("the tarball does not match the registry's sha512")
        with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
            member = tar.extractfile("package/axe.min.js")
            if member is None:
                raise ValueError("the tarball has no package/axe.min.js")
            data = member.read()
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        Path(dest).write_bytes(data)
    except (OSError, ValueError, KeyError, tarfile.TarError) as exc:
        print(f"fetching axe-core {version} failed ({exc}): the axe accessibility test will be skipped")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
