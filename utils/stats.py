"""Statistics over training seeds, the way Agarwal et al. (2021) recommend reporting RL results.

* the interquartile mean (IQM): the mean of the middle 50% of runs, robust to one lucky
  or unlucky seed yet using more runs than the median;
* 95% confidence intervals by the percentile bootstrap over runs (`scipy.stats.bootstrap`);
  with one task, rliable's stratified bootstrap is exactly this;
* performance profiles: the fraction of runs whose score exceeds each threshold.
"""
import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 5_000


def iqm(scores, axis: int = -1):
    """Interquartile mean: the mean after cutting 25% of the runs from each end (scipy's trim_mean)."""
    return stats.trim_mean(np.asarray(scores, dtype=float), 0.25, axis=axis)


def bootstrap_ci(scores, statistic=iqm, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                 seed: int = 0) -> tuple:
    """(low, high): the percentile-bootstrap confidence interval of `statistic` over the runs in `scores`."""
    scores = _runs(scores)
    result = stats.bootstrap((scores,), statistic, confidence_level=confidence, n_resamples=resamples,
                             method="percentile", vectorized=True, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def iqm_difference_ci(scores, baseline, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                      seed: int = 0) -> tuple:
    """(low, high): the bootstrap interval of IQM(scores) − IQM(baseline), each group's runs resampled on its own.

    The runs of two variants are independent (different training runs), so they are
    resampled independently; an interval that excludes 0 is evidence of a difference.
    """
    result = stats.bootstrap((_runs(scores), _runs(baseline)),
                             lambda a, b, axis: iqm(a, axis=axis) - iqm(b, axis=axis),
                             confidence_level=confidence, n_resamples=resamples, method="percentile",
                             vectorized=True, paired=False, rng=np.random.default_rng(seed))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def fraction_above(threshold: float):
    """The statistic 'fraction of runs scoring above `threshold`', in the form scipy's bootstrap takes."""
    def statistic(scores, axis=-1):
        """Share of `scores` above the threshold along `axis`."""
        return np.mean(np.asarray(scores) > threshold, axis=axis)
    return statistic


def performance_profile(scores, thresholds, confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                        seed: int = 0) -> dict:
    """For each threshold τ: the fraction of runs scoring above τ, with its bootstrap interval."""
    scores = _runs(scores)
    fractions, lows, highs = [], [], []
    for tau in thresholds:
        fractions.append(float(fraction_above(tau)(scores)))
        low, high = bootstrap_ci(scores, fraction_above(tau), confidence, resamples, seed)
        lows.append(low)
        highs.append(high)
    return {"thresholds": list(map(float, thresholds)), "fraction": fractions, "low": lows, "high": highs}


def _runs(scores) -> np.ndarray:
    """`scores` as a 1-D float array of at least two runs, or a clear error."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or scores.size < 2 or not np.all(np.isfinite(scores)):
        raise ValueError(f"expected a 1-D sequence of at least 2 finite run scores, got shape {scores.shape}")
    return scores
