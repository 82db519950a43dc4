"""TSB-AD-U: the official univariate TSB-AD benchmark (file lists, loader, scoring)."""
