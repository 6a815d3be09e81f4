"""Checks for notebook 4: the ε schedule, ε-greedy actions, and a global step counter."""
import math
import random

import numpy as np
import torch

from utils.checks.core import Mistake, exercise, expect, name_the_mistake, plain_number, plain_values
from utils.checks.network import ScriptedQNet
from utils.dqn import DQNConfig

SCHEDULES = ((1.0, 0.05, 1000), (0.5, 0.1, 10))
STATE = np.array([0.2, 0.7, -0.4, 9.0], dtype=np.float32)  # greedy action 1 of 3 under ScriptedQNet
EPSILON = 0.2
COURSE = DQNConfig()
INTS = (int,)  # what env.step wants; a NumPy int is named as a mistake (the hint says int(...))


def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """The intended schedule: linear from start to end over decay_steps, then end."""
    return start + min(step / decay_steps, 1.0) * (end - start)


@exercise("4.1", "epsilon_schedule")
def check_epsilon_schedule(epsilon_schedule) -> None:
    """Compare the schedule with the linear one at steps that expose the usual slips."""
    for start, end, decay in SCHEDULES:
        steps = (0, decay // 4, decay // 2, decay, 3 * decay)
        values = []
        for step in steps:
            values.append(_epsilon(epsilon_schedule, step, start, end, decay))
        expected = [linear_epsilon(step, start, end, decay) for step in steps]
        if not np.allclose(values, expected, rtol=0, atol=1e-9):
            _name_schedule_mistake(epsilon_schedule, values, expected, steps, (start, end, decay))


def _epsilon(epsilon_schedule, step: int, start: float, end: float, decay: int) -> float:
    """The student's ε at `step`, which must be a Python float (a NumPy float64 is one too)."""
    return plain_number(epsilon_schedule(step, start, end, decay),
                        f"epsilon_schedule({step}, {start}, {end}, {decay}) returned", "a Python float",
                        "ε is one number: compute it with plain Python arithmetic.", types=(float, np.float64))


def _decays_geometrically(epsilon_schedule) -> bool:
    """True if ε, or its distance to end, shrinks by a constant factor per step (until it is clamped at end)."""
    for start, end, decay in SCHEDULES:
        steps = range(0, decay + 1, max(1, decay // 10))
        values = [_epsilon(epsilon_schedule, step, start, end, decay) for step in steps]
        for floor in (0.0, end):
            points = [(step, math.log(v - floor)) for step, v in zip(steps, values)
                      if v - floor > 1e-12 and not math.isclose(v, end)]
            if len(points) < 3:
                continue
            slope, intercept = np.polyfit(*zip(*points), 1)
            if slope < -1e-9 and all(abs(intercept + slope * step - log) < 1e-6 for step, log in points):
                return True
    return False


def _name_schedule_mistake(epsilon_schedule, values: list, expected: list, steps: tuple, schedule: tuple) -> None:
    """Raise a Mistake naming the wrong schedule that gives `values` at `steps`."""
    start, end, decay = schedule
    other = next(s for s in SCHEDULES if s != schedule)
    fractions = [step / decay for step in steps]
    wrong = next(i for i, (v, e) in enumerate(zip(values, expected)) if not math.isclose(v, e, abs_tol=1e-9))
    returned = (f"epsilon_schedule at steps {list(steps)} returned {[round(v, 4) for v in values]}, "
                f"expected {[round(e, 4) for e in expected]}: ")
    formula = "ε(step) = start + min(step / decay_steps, 1) * (end - start)"
    if _decays_geometrically(epsilon_schedule):
        fallback = (returned + "this decays geometrically (multiplies by a constant each step), not linearly. "
                    f"Hint: {formula}.")
    else:
        fallback = (f"epsilon_schedule({steps[wrong]}, {start}, {end}, {decay}) returned {values[wrong]:.4g}; expected "
                    f"{expected[wrong]:.4g}. Hint: {formula}"
                    + (": ε(0) must be start (are start and end swapped, or is a max(...) clamp written as min(...)?)"
                       if wrong == 0 else "."))
    name_the_mistake(lambda candidate: np.allclose(values, candidate, rtol=0, atol=1e-9), {
        "it never decays. Hint: ε must fall from start to end as step grows.": [start] * len(steps),
        "integer division: step // decay_steps stays 0 until the end. Hint: use step / decay_steps.":
            [start + min(step // decay, 1) * (end - start) for step in steps],
        "it is not clamped: after decay_steps ε keeps falling below end. Hint: use min(step / decay_steps, 1.0).":
            [start + f * (end - start) for f in fractions],
        "it decays towards 0 instead of end. Hint: interpolate between start and end.":
            [start * (1 - min(f, 1.0)) for f in fractions],
        "this is the seed's exponential schedule: it decays geometrically (multiplies the distance to end by a "
        f"constant each step), not linearly. Hint: {formula}.":
            [end + (start - end) * math.exp(-f) for f in fractions],
        "it ignores the arguments start, end, decay_steps (does it read notebook globals?). "
        "Hint: compute ε only from the function's own arguments.":
            [linear_epsilon(step, *other) for step in steps],
        "it uses the course's settings (DQNConfig) instead of the arguments start, end, decay_steps. "
        "Hint: compute ε only from the function's own arguments.":
            [linear_epsilon(step, COURSE.eps_start, COURSE.eps_end, COURSE.eps_decay_steps) for step in steps],
    }, fallback, returned=returned)


@exercise("4.2", "epsilon_greedy_action")
def check_epsilon_greedy(epsilon_greedy_action) -> None:
    """Count the actions chosen on a scripted 3-action Q-network at ε = 0, 1 and 0.2."""
    _check_greedy_at_zero(epsilon_greedy_action)
    _check_own_rng(epsilon_greedy_action)
    counts = _action_counts(epsilon_greedy_action, 1.0, 3000)
    expect(counts[2] > 0, f"with ε=1 the actions were {_frequencies(counts)}: action 2 of 3 never came.",
           "draw the random action from all n_actions actions, e.g. rng.integers(n_actions) with "
           "n_actions = len(q_values); don't hard-code 2 (and rng.integers(low, high) excludes high).")
    expect(counts[0] > 0, f"with ε=1 the actions were {_frequencies(counts)}: action 0 never came.",
           "draw from range(n_actions): rng.integers(n_actions) starts at 0.")
    expect(counts[1] > 0, f"with ε=1 the actions were {_frequencies(counts)}: the random action never picks the "
           "greedy one (action 1).", "explore uniformly over all actions, so the greedy action keeps probability "
           "1 - ε + ε/|A|.")
    expect(np.all(np.abs(counts / counts.sum() - 1 / 3) < 0.04),
           f"with ε=1 the actions were {_frequencies(counts)}; expected each about 1/3.",
           "ε=1 means always explore: a uniformly random action, whatever the Q-values."
           if counts[1] > counts.sum() / 2 else "the random action must be uniform over all actions.")
    _check_greedy_share(counts=_action_counts(epsilon_greedy_action, EPSILON, 4000))


def _check_greedy_at_zero(epsilon_greedy_action) -> None:
    """ε=0 must always give the greedy action, as a Python int, with the q_net given and without gradients."""
    net, rng = ScriptedQNet(), np.random.default_rng(0)
    actions = [_action(epsilon_greedy_action(net, STATE, 0.0, rng), "epsilon_greedy_action returned",
                       "env.step expects a plain int: use int(...) or .item().") for _ in range(50)]
    expect(len(set(actions)) == 1, f"with ε=0 the actions were {sorted(set(actions))} over 50 calls; expected always the "
           "greedy action 1.", "ε=0 means never explore: explore only when rng.random() < epsilon "
           "(is the comparison reversed?).")
    expect(net.calls > 0, "with ε=0 epsilon_greedy_action never called the q_net it was given.",
           "the greedy action comes from the q_net argument, not from a network in the notebook's globals.")
    expect(actions[0] == 1, f"with ε=0 it always returned {actions[0]}; the greedy action is 1.",
           "the greedy action is the argmax of the Q-values, over the action dimension.")
    expect(net.calls_with_grad == 0, "epsilon_greedy_action called q_net with gradient tracking on.",
           "compute the greedy action under torch.no_grad() (your greedy_action does).")


def _action(action, returned: str, hint: str) -> int:
    """`action` if it is a Python int (not a bool, a NumPy int or an object posing as one), else a Mistake."""
    return plain_number(action, returned, "a Python int", hint, types=INTS)


def _check_own_rng(epsilon_greedy_action) -> None:
    """ε=1 must draw only from the rng argument, never from random, np.random or torch's generator."""
    rng, net = np.random.default_rng(1), ScriptedQNet()
    before = _global_generators()
    untouched = rng.bit_generator.state
    for _ in range(20):
        epsilon_greedy_action(net, STATE, 1.0, rng)
    after = _global_generators()
    used = [name for name in before if before[name] != after[name]]
    expect(not used, f"with ε=1 epsilon_greedy_action drew from the global `{used[0] if used else ''}` generator.",
           "draw every random number from the rng argument (rng.random(), rng.integers(n_actions)): "
           "then the caller controls, and can reproduce, the exploration.")
    expect(rng.bit_generator.state != untouched, "with ε=1 epsilon_greedy_action never used the rng it was given "
           "(does it ever explore?).", "explore with rng.random() and rng.integers(n_actions).")


def _global_generators() -> dict:
    """Comparable snapshots of the global generators of random, NumPy and torch."""
    _, key, position, has_gauss, gauss = np.random.get_state()
    return {"random": random.getstate(), "np.random": (key.tobytes(), position, has_gauss, gauss),
            "torch": torch.get_rng_state().numpy().tobytes()}


def _check_greedy_share(counts: np.ndarray) -> None:
    """At ε=0.2 with 3 actions the greedy action must come with probability 1 - ε + ε/3."""
    share, expected = counts[1] / counts.sum(), 1 - EPSILON + EPSILON / 3
    if abs(share - expected) < 0.03:
        return
    name_the_mistake(lambda value: abs(share - value) < 0.03, {
        "it explores with probability 1 - ε instead of ε. Hint: explore when rng.random() < epsilon.":
            EPSILON + (1 - EPSILON) / 3,
        "the random action never picks the greedy one. Hint: explore uniformly over all actions, "
        "so the greedy action keeps probability 1 - ε + ε/|A|.": 1 - EPSILON,
    }, f"with ε={EPSILON} the greedy action came {share:.1%} of the time; expected {expected:.1%} (1 - ε + ε/3). "
       "Hint: with probability ε take a uniformly random action, else the greedy one.",
        returned=f"with ε={EPSILON} the greedy action came {share:.1%} of the time, expected {expected:.1%}: ")


def _action_counts(epsilon_greedy_action, epsilon: float, n: int) -> np.ndarray:
    """How often each of 3 actions is chosen in `n` calls with a seeded rng."""
    rng, net = np.random.default_rng(2), ScriptedQNet()
    actions = [_action(epsilon_greedy_action(net, STATE, epsilon, rng), f"with ε={epsilon} epsilon_greedy_action "
                       "returned", "convert the random action too: int(rng.integers(n_actions)).") for _ in range(n)]
    expect(set(actions) <= {0, 1, 2}, f"epsilon_greedy_action returned actions {sorted(set(actions) - {0, 1, 2})} "
           "on a 3-action Q-network.", "actions are integers 0 .. n_actions - 1.")
    return np.bincount(actions, minlength=3)


def _frequencies(counts: np.ndarray) -> str:
    """'0: 49%, 1: 51%, 2: 0%'."""
    return ", ".join(f"{a}: {c / counts.sum():.0%}" for a, c in enumerate(counts))


class ScriptedEpisodes:
    """A stand-in env whose episodes last `lengths` steps; the last one ends by truncation."""

    def __init__(self, lengths: tuple):
        """Episodes of the given lengths; stepping a finished episode raises."""
        self.lengths, self.episode, self.t, self.done, self.actions = lengths, -1, 0, True, []

    def reset(self, seed=None, options=None):
        """Start the next episode."""
        self.episode, self.t, self.done = self.episode + 1, 0, False
        return STATE[:4].copy(), {}

    def step(self, action):
        """Advance one step; the episode ends by termination, or truncation for the last one."""
        if self.done:
            raise Mistake("it kept stepping an episode that had already ended (the seed's video loop bug). "
                          "Hint: stop the episode when terminated or truncated is True.")
        self.actions.append(plain_number(action, "run_episodes passed env.step", "an action, a Python int",
                                         "pass the int epsilon_greedy_action returned.", types=INTS + (np.integer,)))
        self.t += 1
        ended = self.t == self.lengths[self.episode]
        last = self.episode == len(self.lengths) - 1
        self.done = ended
        return STATE[:4].copy(), 1.0, ended and not last, ended and last, {}


class RecordingSchedule:
    """A schedule that returns a fixed ε and records the steps it was asked about."""

    def __init__(self, epsilon: float):
        """Always answer `epsilon`."""
        self.epsilon, self.steps = epsilon, []

    def __call__(self, step: int) -> float:
        """Record `step`, return the fixed ε."""
        self.steps.append(plain_number(step, "run_episodes called schedule with", "a step count, an int",
                                       "count steps with a plain int: global_step += 1.", types=INTS + (np.integer,)))
        return self.epsilon


LENGTHS = (4, 2, 5)


@exercise("4.3", "run_episodes")
def check_run_episodes(run_episodes) -> None:
    """Play scripted episodes of known lengths and check which steps the schedule was asked about."""
    env, schedule = ScriptedEpisodes(LENGTHS), RecordingSchedule(0.0)
    net = ScriptedQNet(n_actions=2)
    hint = "count the steps of each episode and return the list of counts."
    lengths = plain_values(run_episodes(env, net, len(LENGTHS), schedule, np.random.default_rng(0)),
                           "run_episodes returned", f"the list of episode lengths {list(LENGTHS)}", hint)
    shown = [int(n) if float(n).is_integer() else float(n) for n in lengths]
    expect(shown == list(LENGTHS), f"run_episodes returned {shown} for episodes of lengths {list(LENGTHS)}; "
           f"expected {list(LENGTHS)}.", hint)
    steps, expected = schedule.steps, list(range(sum(LENGTHS)))
    if steps != expected:
        per_episode = [t for n in LENGTHS for t in range(n)]
        name_the_mistake(lambda value: steps == value, {
            "ε restarts with every episode: the clock is the step within the episode. "
            "Hint: keep one global step counter across episodes.": per_episode,
            "this is the seed's fake clock i_episode * 500 + t, which jumps 500 steps per episode. "
            "Hint: count the environment steps actually taken.": [500 * e + t for e, n in enumerate(LENGTHS) for t in range(n)],
            "ε is computed once per episode. Hint: call schedule(global_step) before every action.":
                [sum(LENGTHS[:e]) for e in range(len(LENGTHS))],
            "the schedule is never called. Hint: epsilon = schedule(global_step) before every action.": [],
            "the first step is 1. Hint: global_step counts the steps taken before this one, so it starts at 0.":
                [s + 1 for s in expected],
        }, f"the schedule was asked about steps {steps}; expected 0, 1, ..., {sum(LENGTHS) - 1} "
           "(one call per step, counting across episodes).",
            returned=f"the schedule was asked about steps {steps}: ")
    expect(env.actions == [1] * sum(LENGTHS), f"with schedule(step) = 0 the actions were {env.actions}; expected "
           "always the greedy action 1.", "pass epsilon = schedule(global_step) to epsilon_greedy_action.")
