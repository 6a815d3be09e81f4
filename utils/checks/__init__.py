"""Exercise checks, one module per notebook topic; importing this installs short errors in Jupyter."""
from utils.checks.core import CheckFailed, ExerciseNotDone, install_short_errors
from utils.checks.mdp import check_bellman_backup, check_discounted_return

install_short_errors()

__all__ = [
    "CheckFailed",
    "ExerciseNotDone",
    "check_bellman_backup",
    "check_discounted_return",
]
