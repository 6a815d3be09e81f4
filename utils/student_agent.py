"""The student's own agent: trained by their loop in notebook 5, evaluated and filmed in notebook 6.

`train_your_agent` runs the student's `train_dqn` on the full budget with the course's
greedy checks (the same `utils.dqn.TrainingMonitor` that `utils.dqn.train` uses) and saves
the result as `my_dqn_agent.pt`. The file lives next to the notebook that wrote it (the
kernel's working folder): the solution notebooks run by `make check` write into
`solutions/`, never into a student's `notebooks/`, and nothing the course ships is
overwritten. A previous agent is kept as `my_dqn_agent.previous.pt`.
"""
import contextlib
import io
import json
import time
from pathlib import Path

from utils.checks import (CheckFailed, ExerciseNotDone, check_optimize_step, check_td_targets, check_train_dqn,
                          check_update_target)
from utils.checks.core import describe_crash
from utils.dqn import DQNConfig, TrainingMonitor, TrainResult, run_parts, torch_threads
from utils.evaluation import SHIPPED_CHECKPOINT, load_checkpoint, save_checkpoint
from utils.live import LiveTrainingView

AGENT_FILE = "my_dqn_agent.pt"
"""Where notebook 5 saves the agent your loop trained, relative to the notebook's folder."""
PREVIOUS_AGENT_FILE = "my_dqn_agent.previous.pt"
"""The agent saved before the last one: retraining never loses a good agent."""


def agent_path(folder=None) -> Path:
    """The student's agent file in `folder` (default: the current working folder)."""
    return Path.cwd() / AGENT_FILE if folder is None else Path(folder) / AGENT_FILE


def load_agent(folder=None):
    """`(q_net, config, description)`: the student's agent if its file exists, else the shipped one."""
    path = agent_path(folder)
    if path.is_file():
        q_net, config = load_checkpoint(path)
        return q_net, config, f"Showing YOUR agent, trained by your loop in notebook 5 ({path.name})."
    q_net, config = load_checkpoint(SHIPPED_CHECKPOINT)
    return q_net, config, ("Showing the course's reference agent (checkpoints/dqn_cartpole.pt): "
                           f"there is no {AGENT_FILE} here yet; train yours at the end of notebook 5.")


def shipped_record() -> dict:
    """What `tools.train_checkpoint` recorded about the shipped agent (checkpoints/dqn_cartpole.json): env_steps, ..."""
    return json.loads(SHIPPED_CHECKPOINT.with_suffix(".json").read_text())


def require_exercises(td_targets, optimize_step, update_target, train_dqn) -> None:
    """Run the checks of exercises 5.1-5.4 quietly; raise one line naming the first that fails."""
    checks = ((check_td_targets, td_targets), (check_optimize_step, optimize_step),
              (check_update_target, update_target), (check_train_dqn, train_dqn))
    for check, answer in checks:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(answer)
        except ExerciseNotDone as error:
            raise ExerciseNotDone(f"{error} (Your agent trains once exercises 5.1-5.4 pass.)") from None
        except CheckFailed as error:
            raise CheckFailed(f"Your agent cannot train yet: fix this first. {error}") from None


class NotTrained:
    """What `train_your_agent` returns when an exercise is not ready: every use repeats why, in one line."""

    def __init__(self, reason: Exception):
        """Keep the one-line reason (ExerciseNotDone or CheckFailed)."""
        self.reason = reason

    def __getattr__(self, name):
        """Any attribute (`result.q_net`, ...) raises the reason again, so later cells stop politely."""
        raise type(self.reason)(str(self.reason))


def train_your_agent(td_targets, optimize_step, update_target, train_dqn, config: DQNConfig = None,
                     folder=None, mode: str = "auto"):
    """Check exercises 5.1-5.4, train with YOUR `train_dqn` and the course's greedy checks, save the agent.

    Returns the `TrainResult`, or, when an exercise is not done or not right, prints which
    one in one line and returns a `NotTrained` (nothing is trained or saved).
    """
    config = DQNConfig() if config is None else config
    try:
        require_exercises(td_targets, optimize_step, update_target, train_dqn)
    except (ExerciseNotDone, CheckFailed) as reason:
        print(f"⛔ {reason}")
        return NotTrained(reason)
    view = LiveTrainingView(config.max_env_steps, mode=mode)
    result = run_student_loop(train_dqn, config, view.on_episode)
    view.finish(result.verdict)
    print(f"{result.env_steps:,} environment steps, {result.updates:,} updates, {len(result.episode_returns)} "
          f"episodes, {result.wall_s:.0f} s (step counts and times vary by machine)")
    save_agent(result, agent_path(folder))
    return result


def run_student_loop(train_dqn, config: DQNConfig, on_episode=None) -> TrainResult:
    """Build what `utils.dqn.train` builds, in the same order, and let the student's loop train it."""
    with torch_threads(config.num_threads):
        env, rng, q_net, target_net, optimizer, memory = run_parts(config)
        updates = []
        optimizer.register_step_post_hook(lambda *_: updates.append(1))
        monitor = TrainingMonitor(config, on_episode)
        start = time.perf_counter()
        try:
            train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=monitor.on_episode_end)
        except Exception as error:  # a bug the checks' short runs did not reach
            raise CheckFailed(f"Exercise 5.4 (train_dqn): during training your code raised "
                              f"{describe_crash(error)}") from None
        finally:
            env.close()
        stopped = monitor.checks.reached_goal
        env_steps = monitor.end_steps[-1] if stopped else config.max_env_steps
        return monitor.result(q_net, env_steps=env_steps, updates=len(updates), wall_s=time.perf_counter() - start)


def save_agent(result: TrainResult, path: Path) -> None:
    """Save the trained agent to `path`, keeping the one it replaces as PREVIOUS_AGENT_FILE."""
    if path.is_file():
        path.replace(path.with_name(PREVIOUS_AGENT_FILE))
        print(f"your previous agent is now {PREVIOUS_AGENT_FILE}")
    save_checkpoint(path, result.q_net, result.config)
    print(f"saved your agent to {path.name}: notebook 6 evaluates and films it")
