"""Rank statistics against published values (Demšar 2006) and, where installed, scipy."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard import stats

# Demšar (2006), "Statistical Comparisons of Classifiers over Multiple Data Sets", JMLR 7,
# table 5(a): critical values q_alpha of the two-tailed Nemenyi test, k = 2..10.
Q05 = [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164]
Q10 = [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920]


@pytest.mark.parametrize("k", range(2, 11))
def test_q_alpha_matches_demsar_table(k: int) -> None:
    assert stats.q_alpha(k, 0.05) == pytest.approx(Q05[k - 2], abs=1.5e-3)
    assert stats.q_alpha(k, 0.10) == pytest.approx(Q10[k - 2], abs=1.5e-3)


def test_friedman_and_cd_match_demsar_worked_example() -> None:
    # Demšar 2006, section 3.2.4: four C4.5 variants over 14 data sets, average ranks
    # 3.143, 2.000, 2.893, 1.964 -> chi2_F = 9.28, F_F = 3.69, CD(alpha=.05) = 1.25 (rounded)
    out = stats.friedman_from_ranks([3.143, 2.000, 2.893, 1.964], 14)
    assert out["chi2"] == pytest.approx(9.28, abs=0.01)
    assert out["F"] == pytest.approx(3.69, abs=0.01)
    assert (out["df1"], out["df2"]) == (3, 39)
    assert stats.nemenyi_cd(4, 14) == pytest.approx(1.25, abs=0.005)


def test_chi2_sf_against_known_quantiles() -> None:
    # chi-square table: P(X > 3.841 | df 1) = .05, P(X > 9.488 | df 4) = .05, P(X > 23.209 | df 10) = .01
    assert stats.chi2_sf(3.841, 1) == pytest.approx(0.05, abs=2e-4)
    assert stats.chi2_sf(9.488, 4) == pytest.approx(0.05, abs=2e-4)
    assert stats.chi2_sf(23.209, 10) == pytest.approx(0.01, abs=1e-4)
    assert stats.chi2_sf(0.0, 3) == 1.0


def test_against_scipy_when_installed() -> None:
    sp = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    x = rng.random((30, 5))
    x[:, 2] += 0.3
    x[3] = 0.5  # a block of ties
    ours = stats.friedman(x)
    ranks = np.vstack([sp.rankdata(-row) for row in x])
    assert np.allclose(stats.rank_rows(x), ranks)
    for df in (1, 3, 7, 40):
        for q in (0.5, 3.0, 12.0, 60.0):
            assert stats.chi2_sf(q, df) == pytest.approx(float(sp.chi2.sf(q, df)), rel=1e-8, abs=1e-12)
    assert ours["p"] == pytest.approx(float(sp.chi2.sf(ours["chi2"], 4)), rel=1e-9)
    if hasattr(sp, "studentized_range"):
        for k in (12, 30, 50):
            ref = float(sp.studentized_range.ppf(0.95, k, 10_000)) / np.sqrt(2)
            assert stats.q_alpha(k) == pytest.approx(ref, abs=5e-3)


def test_ranks_ties_and_direction() -> None:
    x = np.array([[0.9, 0.5, 0.5], [0.1, 0.2, 0.3]])
    assert stats.rank_rows(x).tolist() == [[1.0, 2.5, 2.5], [3.0, 2.0, 1.0]]
    assert stats.average_ranks(x).tolist() == [2.0, 2.25, 1.75]


def test_cliques_are_maximal_runs_within_cd() -> None:
    assert stats.cliques([1.0, 1.5, 3.0, 3.2, 5.0], 1.0) == [(0, 1), (2, 3)]
    assert stats.cliques([1.0, 1.9, 2.8], 1.0) == [(0, 1), (1, 2)]
    assert stats.cliques([1.0, 4.0], 1.0) == []


def test_bootstrap_intervals_cover_a_clear_leader() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((200, 3)) * 0.1
    x[:, 0] += 0.5  # model 0 is always best
    lo, hi = stats.bootstrap_rank_intervals(x, resamples=300)
    assert (lo[0], hi[0]) == (1.0, 1.0)
    assert lo[1] >= 2.0 and lo[2] >= 2.0
    a, b = stats.paired_bootstrap_ci(x[:, 0] - x[:, 1])
    assert 0.45 < a < b < 0.55
