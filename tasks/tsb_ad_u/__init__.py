"""TSB-AD-U: the official univariate TSB-AD benchmark (file lists, loader, scoring)."""

from tasks.tsb_ad_u.task import TSBADUTask

__all__ = ["TSBADUTask"]
