"""Exercise checks, one module per notebook topic; importing this installs short errors in Jupyter."""
from utils.checks.core import CheckFailed, ExerciseNotDone, install_short_errors
from utils.checks.mdp import check_bellman_backup, check_discounted_return
from utils.checks.replay import check_replay_memory
from utils.checks.network import check_greedy, check_q_network
from utils.checks.exploration import check_epsilon_greedy, check_epsilon_schedule, check_run_episodes

install_short_errors()

__all__ = [
    "CheckFailed",
    "ExerciseNotDone",
    "check_bellman_backup",
    "check_discounted_return",
    "check_replay_memory",
    "check_q_network",
    "check_greedy",
    "check_epsilon_schedule",
    "check_epsilon_greedy",
    "check_run_episodes",
]

from utils.checks.training import check_optimize_step, check_td_targets, check_train_dqn, check_update_target  # noqa: E402

__all__ += ["check_td_targets", "check_optimize_step", "check_update_target", "check_train_dqn"]

from utils.checks.evaluation import check_evaluate_greedy, check_solved_runs  # noqa: E402

__all__ += ["check_evaluate_greedy", "check_solved_runs"]

from utils.checks.beyond import (check_dueling_network, check_iqm_bootstrap, check_n_step_targets,  # noqa: E402
                                 check_per_weights, check_prioritized_slots, check_sum_tree)

__all__ += ["check_dueling_network", "check_n_step_targets", "check_sum_tree", "check_per_weights",
            "check_prioritized_slots", "check_iqm_bootstrap"]

from utils.checks.capstone import check_count_bonus, check_negative_reward_task, check_sb3_wrapper  # noqa: E402

__all__ += ["check_negative_reward_task", "check_count_bonus", "check_sb3_wrapper"]
