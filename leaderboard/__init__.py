"""Static leaderboard: collect ``run.json`` records, summarise them, render HTML."""

from leaderboard.build import build_site, collect_runs, summarise

__all__ = ["build_site", "collect_runs", "summarise"]
