"""Statistics over seeds (utils.stats) and the ablation's bookkeeping (utils.ablation, benchmarks.ablation)."""
import numpy as np
import pytest

from utils.ablation import (append_run, beta_at_stop, check_curve, load_runs, load_step_costs, missing_runs,
                            steps_to_solve, variant_config)
from utils.stats import (bonferroni_confidence, bootstrap_ci, fisher_exact_p, iqm, iqm_difference_ci,
                         mcnemar_exact_p, paired_ratio_ci, performance_profile, sign_test_p)

SCORES = [500, 500, 480, 500, 300, 500, 500, 499, 500, 12]


def test_iqm_is_the_mean_of_the_middle_half():
    assert iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([1, 2, 3, 4, 1_000_000, 5, 6, 7]) == pytest.approx(iqm([1, 2, 3, 4, 8, 5, 6, 7]))


def test_iqm_of_ten_runs_keeps_the_middle_six():
    # floor(10 / 4) = 2 runs cut from each end: 6 of 10 (60%) are averaged, as notebook 7 says.
    assert iqm(np.r_[[-1e6, -1e6], np.arange(6.0), [1e6, 1e6]]) == pytest.approx(2.5)


def test_bootstrap_interval_holds_the_estimate_and_is_reproducible():
    low, high = bootstrap_ci(SCORES)
    assert low <= iqm(SCORES) <= high and low < high
    assert bootstrap_ci(SCORES) == (low, high)
    noisy = np.random.default_rng(0).normal(300, 50, 10)
    assert bootstrap_ci(noisy, seed=1) != bootstrap_ci(noisy, seed=2)  # the resampling is what the seed fixes
    assert bootstrap_ci([500.0] * 10) == (500.0, 500.0)


def test_more_runs_give_a_narrower_interval():
    rng = np.random.default_rng(0)
    few, many = rng.normal(300, 50, 5), rng.normal(300, 50, 100)
    assert np.diff(bootstrap_ci(many)) < np.diff(bootstrap_ci(few))


def test_performance_profile_falls_with_the_threshold():
    profile = performance_profile(SCORES, [0, 250, 475, 499.5], resamples=500)
    assert profile["fraction"] == [1.0, 0.9, 0.8, 0.6]
    assert all(lo <= f <= hi for lo, f, hi in zip(profile["low"], profile["fraction"], profile["high"]))


def test_a_profile_of_costs_counts_the_runs_at_or_below_each_threshold():
    profile = performance_profile([10, 20, 30, 40], [5, 20, 40], resamples=200, higher_is_better=False)
    assert profile["fraction"] == [0.0, 0.5, 1.0]


def test_bonferroni_splits_the_error_rate_over_the_comparisons():
    assert bonferroni_confidence(0.95, 4) == pytest.approx(0.9875)
    assert bonferroni_confidence(0.95, 1) == pytest.approx(0.95)
    for confidence, comparisons in ((1.0, 4), (0.95, 0), (0.95, 2.5)):
        with pytest.raises(ValueError, match="positive integer number of comparisons"):
            bonferroni_confidence(confidence, comparisons)


def test_fisher_exact_test_of_six_of_ten_against_ten_of_ten():
    # Hypergeometric: P(6 of the 16 successes in the first group of 10) = C(16,6) C(4,4) / C(20,10); two-sided, twice.
    assert fisher_exact_p(6, 10, 10, 10) == pytest.approx(2 * 8008 / 184756)
    assert fisher_exact_p(5, 10, 5, 10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="between 0 and the number of runs"):
        fisher_exact_p(11, 10, 10, 10)


def test_sign_test_counts_which_side_of_each_pair_is_lower_ties_dropped():
    # 9 of 10 seeds lower, 1 higher, 2 ties: binomial(9 of 10, 1/2), two-sided = 2 * 11 / 1024.
    a, b = [1] * 9 + [5, 3, 3], [2] * 9 + [4, 3, 3]
    assert sign_test_p(a, b) == pytest.approx(2 * 11 / 1024)
    assert sign_test_p(a, b) == sign_test_p(b, a)
    assert sign_test_p([1, 2], [1, 2]) == 1.0
    with pytest.raises(ValueError, match="one value per seed"):
        sign_test_p([1, 2, 3], [1, 2])


def test_paired_ratio_interval_resamples_seeds_as_pairs():
    # Each seed's ratio is exactly 0.5 however different the seeds: the interval collapses onto it.
    b = np.array([10.0, 1_000.0, 50.0, 7.0, 300.0])
    assert paired_ratio_ci(b / 2, b) == pytest.approx((0.5, 0.5))
    low, high = paired_ratio_ci([1, 2, 3, 4, 5, 6], [2, 2, 2, 2, 2, 2])
    assert low < 1.75 < high
    with pytest.raises(ValueError, match="positive"):
        paired_ratio_ci([0, 1], [1, 1])


def test_mcnemar_counts_only_the_seeds_where_the_two_disagree():
    agree = [True] * 6
    assert mcnemar_exact_p(agree + [False] * 4, agree + [True] * 4) == pytest.approx(2 * 0.5 ** 4)
    assert mcnemar_exact_p([True, False], [True, False]) == 1.0
    with pytest.raises(ValueError, match="one success flag per seed"):
        mcnemar_exact_p([True, False], [True])


@pytest.mark.parametrize("bad", [[500.0], [[1.0, 2.0]], [1.0, np.nan]])
def test_bad_scores_are_refused(bad):
    with pytest.raises(ValueError, match="at least 2 finite run scores"):
        bootstrap_ci(bad)


def test_unsolved_runs_count_as_their_budget_and_curves_carry_the_last_check():
    rows = [{"solved_at": 40_000, "max_env_steps": 100_000}, {"solved_at": None, "max_env_steps": 100_000}]
    assert steps_to_solve(rows).tolist() == [40_000, 100_000]
    row = {"check_steps": [2_000, 4_100, 6_000], "check_returns": [20.0, 150.0, 500.0]}
    curve = check_curve(row, [1_000, 2_000, 4_000, 4_100, 10_000])
    assert np.isnan(curve[0]) and curve[1:].tolist() == [20.0, 20.0, 150.0, 500.0]


def test_results_file_resumes_where_it_stopped(tmp_path):
    path = tmp_path / "runs.jsonl"
    assert load_runs(path) == []
    append_run(path, {"variant": "default", "seed": 0})
    append_run(path, {"variant": "dueling", "seed": 0})
    assert missing_runs(load_runs(path), "variant", ["default", "dueling"], [0, 1]) == [(1, "default"), (1, "dueling")]


def test_variants_are_configs_and_unknown_ones_are_refused():
    assert variant_config("all three", 3, max_env_steps=5_000).n_step == 3
    with pytest.raises(ValueError, match="unknown variant 'rainbow'"):
        variant_config("rainbow", 0)


def test_the_difference_interval_excludes_zero_only_for_a_real_difference():
    rng = np.random.default_rng(0)
    baseline = rng.normal(40_000, 8_000, 10)
    low, high = iqm_difference_ci(baseline - 15_000, baseline)
    assert high < 0 and low < -15_000 < high
    low, high = iqm_difference_ci(rng.normal(40_000, 8_000, 10), baseline)
    assert low < 0 < high


def test_a_paired_difference_interval_resamples_seeds_with_both_their_runs():
    baseline = np.random.default_rng(0).normal(40_000, 8_000, 10)
    # each seed 1,000 steps faster: every resample of seeds keeps the same shift
    assert iqm_difference_ci(baseline - 1_000, baseline, paired=True) == pytest.approx((-1_000, -1_000))
    low, high = iqm_difference_ci(baseline - 1_000, baseline)
    assert low < -1_000 < high and low < 0 < high  # unpaired, the seeds' spread hides the shift
    with pytest.raises(ValueError, match="one value per seed, equally long"):
        iqm_difference_ci(baseline[:9], baseline, paired=True)


def test_beta_at_stop_is_where_the_annealing_had_got_to():
    row = {"env_steps": 35_000, "max_env_steps": 100_000, "config": {"prioritized": True}}
    assert beta_at_stop(row) == pytest.approx(0.4 + 0.6 * 0.35)
    assert beta_at_stop({**row, "config": {"per_beta_start": 0.5}, "env_steps": 100_000}) == 1.0


def test_a_missing_step_cost_table_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmarks.step_cost --variants --json"):
        load_step_costs(tmp_path / "step_cost.json")


def test_the_step_cost_table_notebook_7_shows_round_trips(tmp_path):
    from benchmarks.step_cost import write_variant_table
    write_variant_table(tmp_path / "costs.json", [("default", 1000.0, 40.0, 300.0, 1.0),
                                                  ("dueling", 1100.0, 60.0, 330.0, 1.1)])
    table = load_step_costs(tmp_path / "costs.json")
    assert [row["variant"] for row in table["rows"]] == ["default", "dueling"]
    assert table["rows"][1] == {"variant": "dueling", "update_us": 1100.0, "action_us": 60.0,
                                "loop_us_per_step": 330.0, "x_default": 1.1}
    assert "logical CPUs" in table["machine"] and table["load_average"] >= 0
