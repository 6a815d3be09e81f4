"""Exercise checks, one module per notebook topic; importing this installs short errors in Jupyter.

A check's module is imported the first time one of its checks is asked for, so notebook 1 does
not pay for the imports notebook 7's checks need (SciPy's statistics, for one).
"""
import importlib

from utils.checks.core import CheckFailed, ExerciseNotDone, install_short_errors

CHECK_MODULES = {
    "mdp": ["check_discounted_return", "check_bellman_backup"],
    "replay": ["check_replay_memory"],
    "network": ["check_q_network", "check_greedy"],
    "exploration": ["check_epsilon_schedule", "check_epsilon_greedy", "check_run_episodes"],
    "training": ["check_td_targets", "check_optimize_step", "check_update_target"],
    "loop": ["check_train_dqn"],
    "evaluation": ["check_evaluate_greedy", "check_solved_runs"],
    "beyond": ["check_dueling_network", "check_n_step_targets", "check_sum_tree", "check_per_weights",
               "check_prioritized_slots", "check_iqm_bootstrap"],
    "capstone": ["check_negative_reward_task", "check_count_bonus", "check_sb3_wrapper"],
}
MODULE_OF = {check: module for module, checks in CHECK_MODULES.items() for check in checks}
__all__ = ["CheckFailed", "ExerciseNotDone", *MODULE_OF]

install_short_errors()


def __getattr__(name: str):
    """Import the module of check `name` on first use, and keep the check here."""
    if name not in MODULE_OF:
        raise AttributeError(f"module 'utils.checks' has no attribute {name!r}")
    check = getattr(importlib.import_module(f"utils.checks.{MODULE_OF[name]}"), name)
    globals()[name] = check
    return check


def __dir__() -> list[str]:
    """Every check, loaded or not."""
    return sorted(set(globals()) | set(__all__))
