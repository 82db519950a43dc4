"""``python -m leaderboard build RESULTS --out SITE`` (same as ``visanom leaderboard ...``)."""

from leaderboard.build import main

raise SystemExit(main())
