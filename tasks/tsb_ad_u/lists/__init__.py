"""Official TSB-AD-U file lists (data files; a package so that they ship in the wheel)."""
