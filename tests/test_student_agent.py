"""The student's own agent: notebook 5's solutions train it through utils.student_agent, notebook 6 loads it."""
import re
from pathlib import Path

import jupytext
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotDone
from utils.dqn import DQNConfig, train
from utils.evaluation import SHIPPED_CHECKPOINT, config_record, load_checkpoint, save_checkpoint
from utils.networks import QNetwork
from utils.student_agent import (AGENT_FILE, PREVIOUS_AGENT_FILE, load_agent, run_student_loop, save_agent,
                                 shipped_record, train_your_agent)

SOURCE = Path(__file__).resolve().parent.parent / "solutions" / "05_training.py"
EXERCISES = ("td_targets", "optimize_step", "update_target", "train_dqn")
SHORT = DQNConfig(seed=3, max_env_steps=5_000, check_every=1_000)


@pytest.fixture(scope="module")
def solutions() -> dict:
    """Notebook 5's setup cell and exercise cells, run like a student's notebook: {name: function}."""
    notebook = jupytext.read(SOURCE, fmt="py:percent")
    namespace = {}
    setup = next(c for c in notebook.cells if c.cell_type == "code")
    for cell in [setup] + [c for c in notebook.cells if "exercise" in c.metadata]:
        exec(compile(cell.source, str(SOURCE), "exec"), namespace)
    return namespace


def answers(solutions: dict, **replaced) -> tuple:
    """The four exercise answers in train_your_agent's order, some replaced."""
    return tuple(replaced.get(name, solutions[name]) for name in EXERCISES)


def test_the_students_loop_trains_exactly_what_the_course_trainer_trains(solutions):
    course = train(SHORT)
    student = run_student_loop(solutions["train_dqn"], SHORT)
    assert student.episode_returns == course.episode_returns
    assert (student.check_steps, student.check_returns, student.check_values) == \
           (course.check_steps, course.check_returns, course.check_values)
    assert (student.env_steps, student.updates) == (course.env_steps, course.updates)
    for mine, theirs in zip(student.q_net.state_dict().values(), course.q_net.state_dict().values()):
        assert torch.equal(mine, theirs)


def test_the_solutions_train_save_and_reload_an_agent(solutions, tmp_path, capsys):
    """The full-budget run of the solutions (it solves) is nbval's run of solutions/05_training.ipynb."""
    config = DQNConfig(seed=1, max_env_steps=4_000, check_every=2_000)
    result = train_your_agent(*answers(solutions), config, folder=tmp_path, mode="text")
    out = capsys.readouterr().out
    assert result.verdict in out and f"saved your agent to {AGENT_FILE}" in out
    q_net, saved_config, description = load_agent(tmp_path)
    assert saved_config == config and description.startswith("Showing YOUR agent")
    assert all(torch.equal(a, b) for a, b in zip(q_net.state_dict().values(), result.q_net.state_dict().values()))


def stub(label: str, namespace: dict):
    """An untouched exercise as the student notebook has it, defined in the notebook's namespace."""
    exec(f"def stubbed(*args, **kwargs):\n    raise NotImplementedError('Exercise {label}')", namespace)
    return namespace.pop("stubbed")


@pytest.mark.parametrize("name, label", [("td_targets", "5.1: td_targets"), ("train_dqn", "5.4: train_dqn")])
def test_an_unfinished_exercise_stops_before_training(solutions, tmp_path, capsys, name, label):
    result = train_your_agent(*answers(solutions, **{name: stub(label, solutions)}), folder=tmp_path, mode="text")
    message = rf"Exercise {label} is not done yet.*exercises 5\.1-5\.4 pass"
    assert re.fullmatch(rf"⛔ {message}.*\n", capsys.readouterr().out)
    with pytest.raises(ExerciseNotDone, match=rf"^{message}"):
        result.q_net  # later cells that use the result stop with the same line
    assert not (tmp_path / AGENT_FILE).exists()


def test_a_wrong_exercise_is_named_before_training(solutions, tmp_path, capsys):
    def no_zero_grad(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
        predicted = q_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        loss = torch.nn.functional.smooth_l1_loss(predicted, targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    result = train_your_agent(*answers(solutions, optimize_step=no_zero_grad), folder=tmp_path, mode="text")
    assert "⛔ Your agent cannot train yet: fix this first. Exercise 5.2 (optimize_step)" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match=r"fix this first\. Exercise 5\.2"):
        result.episode_returns
    assert not (tmp_path / AGENT_FILE).exists()


def test_a_crash_during_training_is_one_line_naming_the_students_line(solutions):
    def crashes_late(env, config, *args, on_episode_end=None):
        if config.max_env_steps > 1_000:  # the checks' short runs pass, the real run crashes
            raise ZeroDivisionError("division by zero")
        return solutions["train_dqn"](env, config, *args, on_episode_end=on_episode_end)

    with pytest.raises(CheckFailed, match=r"^Exercise 5\.4 \(train_dqn\): during training your code raised "
                                          r"ZeroDivisionError.*line \d+ of your code"):
        run_student_loop(crashes_late, SHORT)


def test_without_an_agent_file_notebook_6_shows_the_shipped_agent(tmp_path):
    _, config, description = load_agent(tmp_path)
    assert config == DQNConfig() and "reference agent" in description and AGENT_FILE in description


def test_the_shipped_agents_record_matches_its_checkpoint():
    record, (_, config) = shipped_record(), load_checkpoint(SHIPPED_CHECKPOINT)
    assert record["config"] == config_record(config)
    assert 0 < record["updates"] < record["env_steps"] <= config.max_env_steps


def test_saving_again_keeps_the_previous_agent(tmp_path, capsys):
    first, second = QNetwork(), QNetwork()
    save_checkpoint(tmp_path / AGENT_FILE, first, DQNConfig(seed=1))
    result = run_result(second, DQNConfig(seed=2))
    save_agent(result, tmp_path / AGENT_FILE)
    kept, kept_config = load_checkpoint(tmp_path / PREVIOUS_AGENT_FILE)
    assert kept_config.seed == 1 and torch.equal(kept.state_dict()["layers.0.weight"], first.state_dict()["layers.0.weight"])
    assert load_checkpoint(tmp_path / AGENT_FILE)[1].seed == 2
    assert PREVIOUS_AGENT_FILE in capsys.readouterr().out


def run_result(q_net, config):
    """A minimal TrainResult-like object holding what save_agent reads."""
    return type("Result", (), {"q_net": q_net, "config": config})()

