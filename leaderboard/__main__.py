"""``python -m leaderboard build RESULTS --out SITE``: the same as ``visanom leaderboard ...``."""

import sys

from harness.cli.main import main

raise SystemExit(main(["leaderboard", *sys.argv[1:]]))
