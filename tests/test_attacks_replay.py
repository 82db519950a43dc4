"""Issue 22's attacks as regression tests: each replays what a hostile or careless user did
(``benchmarks/attacks.py``, where every child process runs under an address-space, file-size
and time cap) and asserts that it held, with what the user saw in the failure message."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from attacks import ATTACKS, Attack, _load_more  # noqa: E402

_load_more()


@pytest.mark.parametrize("attack", ATTACKS, ids=[f"item{a.item}-{a.name}" for a in ATTACKS])
def test_attack_holds(attack: Attack, tmp_path: Path) -> None:
    if attack.missing():
        pytest.skip(f"needs {', '.join(attack.missing())}: the {attack.extra} extra (pip install -e '.[{attack.extra}]')")
    outcome = attack.run(tmp_path)
    assert outcome.held, f"{attack.name} ({attack.run.__doc__}): {outcome.seen}"
