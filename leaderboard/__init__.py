"""Static leaderboard: collect run records, summarise them (``summary.json``), render the site."""

from leaderboard.build import build, build_site
from leaderboard.scan import collect_runs, scan_runs
from leaderboard.summary import summarise

__all__ = ["build", "build_site", "collect_runs", "scan_runs", "summarise"]
