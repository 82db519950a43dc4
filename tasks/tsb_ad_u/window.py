"""The TSB-AD-U sliding window: the period estimate of TSB-AD's ``find_length_rank``, without tsb-ad.

TSB-AD picks each series' window from its autocorrelation function (ACF): the lag of the
highest local maximum of the ACF over lags 3..400, computed on the first 20,000 points, or
125 when there is no usable maximum. tsb-ad does this with statsmodels' FFT-based ``acf``
and scipy's ``argrelextrema``; this module computes the same numbers with numpy alone, so
the task runs in environments without tsb-ad (numpy 2). ``tests/test_tsb_ad_u_window.py``
checks it equals tsb-ad's on the embedded series and real-series-like inputs wherever tsb-ad
is installed.
"""

from __future__ import annotations

import numpy as np

MAX_POINTS = 20_000
MAX_LAG = 400
BASE_LAG = 3  # lags below this are ignored
DEFAULT_WINDOW = 125  # tsb-ad's answer when the ACF has no usable maximum
MAX_PERIOD = 300


def next_regular(target: int) -> int:
    """The smallest 5-smooth number (2^a 3^b 5^c) >= ``target``: the FFT length statsmodels uses."""
    if target <= 6 or not target & (target - 1):
        return target
    best = float("inf")
    p5 = 1
    while p5 < target:
        p35 = p5
        while p35 < target:
            quotient = -(-target // p35)
            n = 2 ** ((quotient - 1).bit_length()) * p35
            if n == target:
                return n
            best = min(best, n)
            p35 *= 3
            if p35 == target:
                return p35
        best = min(best, p35)
        p5 *= 5
        if p5 == target:
            return p5
    return int(min(best, p5))


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Biased sample ACF of a 1-D series for lags ``0..max_lag`` (fewer if the series is shorter).

    The same arithmetic as ``statsmodels.tsa.stattools.acf(x, nlags=max_lag, fft=True)``:
    demean, zero-pad to a 5-smooth length >= 2n+1, FFT, power spectrum, inverse FFT, divide by
    n and then by the lag-0 value. A constant series gives NaNs (0/0), as there.
    """
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    centred = x - x.mean()
    spectrum = np.fft.fft(centred, n=next_regular(2 * n + 1))
    acov = (np.fft.ifft(spectrum * np.conjugate(spectrum))[:n] / (n * np.ones(n))).real
    with np.errstate(invalid="ignore", divide="ignore"):
        return acov[: max_lag + 1] / acov[0]


def local_maxima(values: np.ndarray) -> np.ndarray:
    """Indices strictly greater than both neighbours (never the ends), like ``argrelextrema(v, np.greater)``."""
    v = np.asarray(values)
    if len(v) < 3:
        return np.zeros(0, dtype=np.int64)
    inner = (v[1:-1] > v[:-2]) & (v[1:-1] > v[2:])
    return np.nonzero(inner)[0] + 1


def find_length_rank(data: np.ndarray, rank: int = 1) -> int:
    """The TSB-AD-U sliding window of a series (tsb-ad's ``find_length_rank``, ranks 0 and 1).

    ``data`` is the series, 1-D or one column. Returns 0 for multivariate input (as tsb-ad
    does), 1 for ``rank=0``, else the lag (+3) of the highest ACF local maximum, or 125 when
    there is none or it lies outside lags 3..300 (after the +3 offset's base).
    """
    if rank not in (0, 1):
        raise ValueError(f"only rank 0 and 1 are implemented (the TSB-AD-U window is rank 1), got {rank}")
    series = np.asarray(data).squeeze()
    if series.ndim > 1:
        return 0
    if rank == 0:
        return 1
    series = series[: min(MAX_POINTS, len(series))]
    acf = autocorrelation(series, MAX_LAG)[BASE_LAG:]
    peaks = local_maxima(acf)
    if len(peaks) == 0:
        return DEFAULT_WINDOW
    # tsb-ad: np.argsort(values)[::-1][0], the same sort call so ties break alike
    best = peaks[np.argsort([acf[p] for p in peaks])[::-1][0]]
    if best < BASE_LAG or best > MAX_PERIOD:
        return DEFAULT_WINDOW
    return int(best + BASE_LAG)
