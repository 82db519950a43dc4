"""``python -m leaderboard RESULTS --out SITE``."""

from leaderboard.build import main

raise SystemExit(main())
