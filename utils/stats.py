"""Statistics over training seeds, the way Agarwal et al. (2021) recommend reporting RL results.

* the interquartile mean (IQM): the mean after cutting the lowest and the highest 25% of
  runs (⌊n/4⌋ from each end, scipy's trim_mean: of 10 runs it keeps the middle 6), robust
  to one lucky or unlucky seed yet using more runs than the median;
* 95% confidence intervals by the percentile bootstrap over runs (`scipy.stats.bootstrap`);
  with one task, rliable's stratified bootstrap is exactly this;
* performance profiles: the fraction of runs that did better than each threshold;
* the Bonferroni correction for several comparisons at once, two exact tests of success
  counts (Fisher's for independent runs, McNemar's for runs paired by seed), and for a
  measured quantity of runs paired by seed, the sign test and a paired bootstrap interval.
"""
import importlib

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 5_000


def _scipy_stats():
    """scipy.stats, imported at first use: notebooks 1-6 import this module (through the explorers)
    but never call it, and the import costs them ~0.5 s of their first cell."""
    return importlib.import_module("scipy.stats")


def iqm(scores, axis: int = -1):
    """Interquartile mean: the mean after cutting ⌊n/4⌋ runs from each end (scipy's trim_mean)."""
    return _scipy_stats().trim_mean(np.asarray(scores, dtype=float), 0.25, axis=axis)


def bootstrap_ci(scores, statistic=iqm, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                 seed: int = 0) -> tuple:
    """(low, high): the percentile-bootstrap confidence interval of `statistic` over the runs in `scores`."""
    scores = _runs(scores)
    result = _scipy_stats().bootstrap((scores,), statistic, confidence_level=confidence, n_resamples=resamples,
                                      method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def iqm_difference_ci(scores, baseline, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                      seed: int = 0, paired: bool = False) -> tuple:
    """(low, high): the bootstrap interval of IQM(scores) − IQM(baseline); an interval without 0 shows a difference.

    By default each group's runs are resampled on their own, as for independent runs. With
    `paired=True` the two hold one run per seed in the same seed order, and the seeds are
    resampled, each keeping its two runs together.
    """
    groups = _paired(scores, baseline) if paired else (_runs(scores), _runs(baseline))
    result = _scipy_stats().bootstrap(groups, lambda a, b, axis: iqm(a, axis=axis) - iqm(b, axis=axis),
                                      confidence_level=confidence, n_resamples=resamples, method="percentile",
                                      vectorized=True, paired=paired, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def bonferroni_confidence(confidence: float, comparisons: int) -> float:
    """The confidence of each of `comparisons` intervals so that all hold together with `confidence`.

    With m intervals at 1 − (1 − c)/m each, the chance that any one misses its true value
    is at most 1 − c (Bonferroni: the union bound), whatever their dependence.
    """
    if not 0.0 < confidence < 1.0 or isinstance(comparisons, bool) or not isinstance(comparisons, int) \
            or comparisons < 1:
        raise ValueError(f"need 0 < confidence < 1 and a positive integer number of comparisons, "
                         f"got {confidence!r} and {comparisons!r}")
    return 1.0 - (1.0 - confidence) / comparisons


def fraction_above(threshold: float):
    """The statistic 'fraction of runs scoring above `threshold`', in the form scipy's bootstrap takes."""
    def statistic(scores, axis=-1):
        """Share of `scores` above the threshold along `axis`."""
        return np.mean(np.asarray(scores) > threshold, axis=axis)
    return statistic


def fraction_at_most(threshold: float):
    """The statistic 'fraction of runs at or below `threshold`' (for costs such as steps to solve)."""
    def statistic(scores, axis=-1):
        """Share of `scores` at or below the threshold along `axis`."""
        return np.mean(np.asarray(scores) <= threshold, axis=axis)
    return statistic


def performance_profile(scores, thresholds, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                        seed: int = 0, higher_is_better: bool = True) -> dict:
    """For each threshold τ: the fraction of runs better than τ, with its bootstrap interval.

    Better means scoring above τ, or, with `higher_is_better=False` (a cost, such as the
    env steps to solve), being at or below τ.
    """
    scores = _runs(scores)
    fraction_better = fraction_above if higher_is_better else fraction_at_most
    fractions, lows, highs = [], [], []
    for tau in thresholds:
        fractions.append(float(fraction_better(tau)(scores)))
        low, high = bootstrap_ci(scores, fraction_better(tau), confidence, resamples, seed)
        lows.append(low)
        highs.append(high)
    return {"thresholds": list(map(float, thresholds)), "fraction": fractions, "low": lows, "high": highs}


def fisher_exact_p(successes_a: int, runs_a: int, successes_b: int, runs_b: int) -> float:
    """Two-sided p-value of Fisher's exact test: do two groups of independent runs succeed equally often?"""
    for successes, runs in ((successes_a, runs_a), (successes_b, runs_b)):
        if not 0 <= successes <= runs:
            raise ValueError(f"successes must lie between 0 and the number of runs, got {successes} of {runs}")
    table = [[successes_a, runs_a - successes_a], [successes_b, runs_b - successes_b]]
    return float(_scipy_stats().fisher_exact(table, alternative="two-sided").pvalue)


def mcnemar_exact_p(successes_a, successes_b) -> float:
    """Two-sided p-value of McNemar's exact test for runs paired by seed (one bool per seed in each).

    Only the seeds where the two disagree count: under "no difference" each of them is
    equally likely to favour either side, a binomial test with p = 1/2.
    """
    a, b = np.asarray(successes_a, dtype=bool), np.asarray(successes_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"expected two 1-D sequences of one success flag per seed, got shapes {a.shape}, {b.shape}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if only_a + only_b == 0:
        return 1.0
    return float(_scipy_stats().binomtest(only_a, only_a + only_b, 0.5).pvalue)


def sign_test_p(values_a, values_b) -> float:
    """Two-sided p-value of the exact sign test for runs paired by seed: is a lower than b as often as higher?

    McNemar's logic on a measured quantity: ties drop out, and under "no difference" each
    remaining seed is equally likely to favour either side (a binomial test with p = 1/2).
    """
    a, b = _paired(values_a, values_b)
    lower, higher = int(np.sum(a < b)), int(np.sum(a > b))
    if lower + higher == 0:
        return 1.0
    return float(_scipy_stats().binomtest(lower, lower + higher, 0.5).pvalue)


def paired_ratio_ci(values_a, values_b, statistic=np.median, confidence: float = CONFIDENCE,
                    resamples: int = RESAMPLES, seed: int = 0) -> tuple:
    """(low, high): the bootstrap interval of `statistic` of the per-seed ratios a/b, seeds resampled as pairs."""
    a, b = _paired(values_a, values_b)
    if np.any(b <= 0) or np.any(a <= 0):
        raise ValueError("a ratio needs positive values on both sides")
    return bootstrap_ci(a / b, statistic=statistic, confidence=confidence, resamples=resamples, seed=seed)


def _paired(values_a, values_b) -> tuple:
    """Two equally long 1-D float arrays of one value per seed, or a clear error."""
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"expected two 1-D sequences of one value per seed, equally long (at least 2), "
                         f"got shapes {a.shape}, {b.shape}")
    return a, b


def _runs(scores) -> np.ndarray:
    """`scores` as a 1-D float array of at least two runs, or a clear error."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or scores.size < 2 or not np.all(np.isfinite(scores)):
        raise ValueError(f"expected a 1-D sequence of at least 2 finite run scores, got shape {scores.shape}")
    return scores
