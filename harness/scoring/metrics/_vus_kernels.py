"""Numba kernels behind VUS: ramp weights near anomalies and per-window segment existence.

Both run in O(points near anomalies x window + segments x window) time and O(window x
thresholds) memory, never materialising an n x window matrix.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_FAR = np.int64(1) << 40


@njit(cache=True)
def ramp_hist(seg_s, seg_e, jidx, n, max_window, nbins, accumulate):  # pragma: no cover - numba
    """Sum of ramp label weights per (window, threshold bin) over non-anomalous points.

    For window w, a point at distance d >= 1 from an anomaly segment gets sqrt(1 - d/w) from
    that segment when d <= w // 2 (the distance to a segment on its left is measured from
    the segment's end, on its right from its start). Contributions add and are clipped at 1;
    each is >= sqrt(1/2), so two or more always clip to 1 and only the two nearest
    segment borders matter. ``jidx[x]`` is the bin of point x (< 0: skip the point).
    ``accumulate`` reproduces tsb-ad ``metric_VUS_pred``, whose label buffer carries the
    previous window's weights into the next one.
    """
    hist = np.zeros((max_window + 1, nbins))
    nseg = seg_s.shape[0]
    h = max_window // 2
    for k in range(-1, nseg):
        gap_lo = seg_e[k] + 1 if k >= 0 else 0
        gap_hi = seg_s[k + 1] - 1 if k + 1 < nseg else n - 1
        if gap_lo > gap_hi:
            continue
        b1 = min(gap_hi, seg_e[k] + h) if k >= 0 else gap_lo - 1
        a2 = max(gap_lo, seg_s[k + 1] - h) if k + 1 < nseg else gap_hi + 1
        for part in range(2):
            if part == 0:
                lo, hi = gap_lo, b1
            else:
                lo, hi = max(a2, b1 + 1), gap_hi
            for x in range(lo, hi + 1):
                j = jidx[x]
                if j < 0:
                    continue
                d = np.empty(4, dtype=np.int64)
                d[0] = x - seg_e[k] if k >= 0 else _FAR
                d[1] = x - seg_e[k - 1] if k >= 1 else _FAR
                d[2] = seg_s[k + 1] - x if k + 1 < nseg else _FAR
                d[3] = seg_s[k + 2] - x if k + 2 < nseg else _FAR
                d.sort()
                d1, d2 = d[0], d[1]
                if 2 * d1 > max_window:
                    continue
                run = 0.0
                for w in range(2 * d1, max_window + 1):
                    v = 1.0 if 2 * d2 <= w else math.sqrt(1.0 - d1 / w)
                    if accumulate:
                        run = min(1.0, run + v)
                        v = run
                    hist[w, j] += v
    return hist


@njit(cache=True)
def existence_hist(seg_s, seg_e, jidx, n, max_window, nbins):  # pragma: no cover - numba
    """Per window: histogram of the earliest bin at which each padded segment group is hit.

    For window w the segments are padded by h = w // 2 on both sides (clipped to the
    series) and merged while padded neighbours overlap (tsb-ad ``new_sequence``). Returns
    ``(hist[w, bin], n_groups[w])``.
    """
    nseg = seg_s.shape[0]
    hist = np.zeros((max_window + 1, nbins), dtype=np.int64)
    ngroups = np.zeros(max_window + 1, dtype=np.int64)
    m = np.empty(nseg, dtype=np.int64)
    for k in range(nseg):
        best = jidx[seg_s[k]]
        for x in range(seg_s[k] + 1, seg_e[k] + 1):
            best = min(best, jidx[x])
        m[k] = best
    h_cur = 0
    for w in range(max_window + 1):
        h = w // 2
        while h_cur < h:
            h_cur += 1
            for k in range(nseg):
                left = seg_s[k] - h_cur
                right = seg_e[k] + h_cur
                if left >= 0 and jidx[left] < m[k]:
                    m[k] = jidx[left]
                if right < n and jidx[right] < m[k]:
                    m[k] = jidx[right]
        g = m[0]
        count = 0
        for k in range(1, nseg):
            if seg_e[k - 1] + h < seg_s[k] - h:
                hist[w, g] += 1
                count += 1
                g = m[k]
            elif m[k] < g:
                g = m[k]
        hist[w, g] += 1
        ngroups[w] = count + 1
    return hist, ngroups
