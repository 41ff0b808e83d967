"""Changes with intervals, and false discoveries controlled across rows.

One module for compare.py (unpaired: two stored runs) and abtest.py (paired:
both builds measured interleaved in one run). Everything is exact and
distribution-free, on the log scale, so that a change is a ratio:

- paired: d_i = log(B_i / A_i), one per pair. The change is the
  Hodges-Lehmann estimate (the median of the Walsh averages (d_i + d_j) / 2,
  i <= j: a median of the paired log-ratios that uses every pair); its
  interval is the one the exact Wilcoxon signed-rank test inverts to.
- unpaired: D_ij = log(b_j / a_i) over every cross pair. The change is their
  median (Hodges-Lehmann shift); its interval is the one the exact
  Mann-Whitney U test inverts to.

With n pairs no interval can cover more than 1 - 2 / 2^n (n = 5: 93.75 %),
whatever the data: below the count that reaches the level asked for the
answer is "too few pairs", not a guess.

A row counts as slower (faster) only when its whole interval lies above
+min_effect (below -min_effect). Its p-value is the smallest error level at
which that happens (the same exact test, shifted to the edge of the band),
so interval and test always agree. Across the rows of one metric the
Benjamini-Hochberg procedure picks the rows that moved at false discovery
rate q; every interval is then shown at level 1 - max(R, 1) q / m (m rows,
R picked): Benjamini and Yekutieli's false-coverage-rate adjustment, so the
intervals of the picked rows are wrong, on average, in at most a fraction q
of them, and with nothing picked the level is Bonferroni's.
"""

from __future__ import annotations

import math
from functools import lru_cache

SLOWER, FASTER, NO_CHANGE = "slower", "faster", "no change"


def pct(log_ratio: float | None) -> float | None:
    """A log-ratio as percent change: (exp(x) - 1) x 100."""
    return None if log_ratio is None else math.expm1(log_ratio) * 100.0


def log_band(min_effect_pct: float) -> float:
    return math.log1p(min_effect_pct / 100.0)


def _median(values: list) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


# ---- null distributions (exact counts, Python integers) ---------------------------

@lru_cache(maxsize=None)
def _signed_rank_cdf(n: int) -> tuple:
    """P(T+ <= t) for t = 0 .. n(n+1)/2, T+ the Wilcoxon signed-rank statistic of n pairs."""
    counts = [1]
    for r in range(1, n + 1):
        nxt = counts + [0] * r
        for t, c in enumerate(counts):
            nxt[t + r] += c
        counts = nxt
    total, acc, out = 2 ** n, 0, []
    for c in counts:
        acc += c
        out.append(acc / total)
    return tuple(out)


@lru_cache(maxsize=None)
def _rank_sum_cdf(n1: int, n2: int) -> tuple:
    """P(U <= u) for u = 0 .. n1 n2, U the Mann-Whitney statistic: the Gaussian
    binomial coefficient [n1 + n2 choose n1] counts the arrangements."""
    m = n1 * n2
    poly = [1] + [0] * m
    # prod_{i=1..n1} (1 - q^(n2+i)) / (1 - q^i)
    for i in range(1, n1 + 1):
        k = n2 + i
        for t in range(m, k - 1, -1):  # multiply by (1 - q^k)
            poly[t] -= poly[t - k]
        for t in range(i, m + 1):  # divide by (1 - q^i)
            poly[t] += poly[t - i]
    total, acc, out = math.comb(n1 + n2, n1), 0, []
    for c in poly:
        acc += c
        out.append(acc / total)
    return tuple(out)


def _cdf(table: tuple, k: int) -> float:
    return 0.0 if k < 0 else table[min(k, len(table) - 1)]


def max_coverage_paired(n: int) -> float:
    return 0.0 if n < 1 else 1.0 - 2.0 / 2 ** n


def max_coverage_unpaired(n1: int, n2: int) -> float:
    return 0.0 if min(n1, n2) < 1 else 1.0 - 2.0 / math.comb(n1 + n2, n1)


def min_pairs(level: float) -> int:
    """The fewest pairs whose exact interval can reach `level`."""
    n = 1
    while max_coverage_paired(n) < level:
        n += 1
    return n


# ---- estimates, intervals and band p-values -------------------------------------------

def _walsh(d: list) -> list:
    return sorted((d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d)))


def _cross(a: list, b: list) -> list:
    return sorted(y - x for x in a for y in b)


class Shift:
    """A location shift on the log scale with its exact rank interval.

    `points` are the sorted Walsh averages (paired) or cross differences
    (unpaired); `cdf` is the null distribution of the count of them above
    zero; an interval [points[k-1], points[M-k]] covers with probability
    1 - 2 cdf(k - 1)."""

    def __init__(self, points: list, cdf: tuple, n: tuple):
        self.points, self.cdf_table, self.n = points, cdf, n
        self.estimate = _median(points) if points else None

    @property
    def max_coverage(self) -> float:
        return 1.0 - 2.0 * _cdf(self.cdf_table, 0) if self.points else 0.0

    def interval(self, alpha: float) -> tuple:
        """(lo, hi, coverage) at error level alpha (two-sided), or the widest
        interval the data allow (min, max) with its lower coverage."""
        m = len(self.points)
        if not m:
            return None, None, 0.0
        k = 1
        while k + 1 <= (m + 1) // 2 and 2 * _cdf(self.cdf_table, k) <= alpha:
            k += 1
        return self.points[k - 1], self.points[m - k], 1.0 - 2 * _cdf(self.cdf_table, k - 1)

    def band_p(self, band: float) -> float:
        """The smallest two-sided error level at which the interval lies wholly
        beyond +band or wholly beyond -band (band >= 0, log scale)."""
        if not self.points:
            return 1.0
        below = sum(1 for w in self.points if w <= band)  # slower needs them all above +band
        above = sum(1 for w in self.points if w >= -band)  # faster needs them all below -band
        return min(1.0, 2 * min(_cdf(self.cdf_table, below), _cdf(self.cdf_table, above)))


def paired(d: list) -> Shift:
    """d: the per-pair log-ratios, log(B / A) (slower positive)."""
    d = [float(x) for x in d]
    return Shift(_walsh(d), _signed_rank_cdf(len(d)) if d else (), (len(d),))


def unpaired(a: list, b: list) -> Shift:
    """a, b: the log values of the two runs (slower positive: log times, or -log rates)."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    return Shift(_cross(a, b), _rank_sum_cdf(len(a), len(b)) if a and b else (), (len(a), len(b)))


# ---- many rows ---------------------------------------------------------------------

def benjamini_hochberg(pvalues: list, q: float) -> list:
    """Which hypotheses the BH step-up procedure rejects at false discovery rate q."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    r = 0
    for rank, i in enumerate(order, 1):
        if pvalues[i] <= rank * q / m:
            r = rank
    picked = [False] * m
    for i in order[:r]:
        picked[i] = True
    return picked


def judge(shifts: list, min_effect_pct: float, q: float, level: float) -> dict:
    """Verdicts and adjusted intervals for the rows of one metric.

    shifts: a Shift per row. A row whose exact interval cannot reach `level`
    even unadjusted is "too few" and takes no part in the FDR procedure.
    Returns {"rows": [{"verdict", "estimate_pct", "ci_pct": [lo, hi],
    "coverage", "p_value", "testable"}], "picked": R, "tested": m,
    "level": the adjusted level}."""
    band = log_band(min_effect_pct)
    testable = [s.max_coverage >= level for s in shifts]
    idx = [i for i, t in enumerate(testable) if t]
    ps = [shifts[i].band_p(band) for i in idx]
    picked_sub = benjamini_hochberg(ps, q) if idx else []
    picked = [False] * len(shifts)
    for i, flag in zip(idx, picked_sub):
        picked[i] = flag
    m, r = len(idx), sum(picked_sub)
    alpha_adj = max(r, 1) * q / m if m else 1 - level
    alpha_adj = min(alpha_adj, 1 - level)  # never less confident than the level asked for
    rows = []
    for i, s in enumerate(shifts):
        lo, hi, cov = s.interval(alpha_adj if testable[i] else 1 - level)
        if not testable[i]:
            verdict = "too few"
        elif picked[i] and lo is not None and lo > band:
            verdict = SLOWER
        elif picked[i] and hi is not None and hi < -band:
            verdict = FASTER
        else:
            verdict = NO_CHANGE
        rows.append({"verdict": verdict, "estimate_pct": pct(s.estimate), "ci_pct": [pct(lo), pct(hi)],
                     "coverage": cov, "p_value": ps[idx.index(i)] if testable[i] else None,
                     "testable": testable[i]})
    return {"rows": rows, "picked": r, "tested": m, "level": 1 - alpha_adj}


def criterion(estimate_pct, ci_pct) -> str:
    """criterion.rs's way: change: [-2.1% +0.4% +2.9%]."""
    if estimate_pct is None:
        return "change: [-]"
    lo, hi = ci_pct
    if lo is None or hi is None:
        return f"change: [- {estimate_pct:+.1f}% -]"
    return f"change: [{lo:+.1f}% {estimate_pct:+.1f}% {hi:+.1f}%]"
