"""Checks for notebook 4: the ε schedule, ε-greedy actions, and a global step counter (probe and judge, see protocol).

4.1: the probe asks the student's schedule for ε at the inputs' steps; the judge compares with the
linear schedule. 4.2: the probe counts the actions chosen on a scripted Q-network at ε = 0, 1 and
another ε, each with its own seeded generator, and notes which global generators moved; the judge
compares the frequencies with 1 - ε + ε/|A|. 4.3: the probe plays scripted episodes (spies for the
env and the schedule) and records the lengths, the steps the schedule was asked about and the actions.
"""
import math
import random
import re

import numpy as np
import torch

from utils.checks.core import Mistake, expect, is_plain, name_the_mistake, plain_number, plain_values
from utils.checks.envs import OLD_RESET, OLD_STEP
from utils.checks.network import MAX_FROM_ZERO, MAX_FROM_ZERO_HINT, ScriptedQNet
from utils.checks.protocol import Check, ProbeStopped, crash_text
from utils.dqn import DQNConfig

SCHEDULES = ((1.0, 0.05, 1000), (0.5, 0.1, 10))
STATE = np.array([0.2, 0.7, -0.4, 9.0], dtype=np.float32)  # greedy action 1 of 3 under ScriptedQNet
EPSILON = 0.2
LAST_GREEDY_DRAWS = 20  # calls at ε = 0 on a state whose greedy action is the last one
EPSILON_TOLERANCE = 1e-6
"""How far ε may be off: float32 arithmetic or rounding to 6 decimals is, while one step of the slowest
schedule graded, (0.8 - 0.1) / 5000 = 1.4e-4, is over a hundred times more."""
COURSE = DQNConfig()
INTS = (int,)  # what env.step wants; a NumPy int is named as a mistake (the hint says int(...))


def linear_epsilon(step: int, start: float, end: float, decay_steps: int) -> float:
    """The intended schedule: linear from start to end over decay_steps, then end."""
    return start + min(step / decay_steps, 1.0) * (end - start)


# --- 4.1 the ε schedule ------------------------------------------------------------------------

def schedule_inputs(rng) -> dict:
    """Two schedules and the steps to ask about (fresh ones, unlike each other and the notebook's, when grading)."""
    if rng is None:
        schedules = [list(s) for s in SCHEDULES]
    else:
        first = [round(float(rng.uniform(0.8, 1.0)), 2), round(float(rng.uniform(0.01, 0.1)), 3),
                 int(rng.integers(200, 5000))]
        second = [round(float(rng.uniform(0.3, 0.7)), 2), round(float(rng.uniform(0.1, 0.25)), 3),
                  int(rng.integers(12, 100))]
        schedules = [first, second]
    return {"schedules": schedules, "steps": [_schedule_steps(decay, rng) for _, _, decay in schedules]}


def _schedule_steps(decay: int, rng) -> list:
    """The steps that expose the usual slips (0, before, at and after decay_steps), then every tenth of the decay."""
    middle = decay // 2 if rng is None else int(rng.integers(decay // 3, 2 * decay // 3))
    checked = [0, decay // 4, middle, decay, 3 * decay]
    return checked + [step for step in range(0, decay + 1, max(1, decay // 10)) if step not in checked]


def probe_schedule(rec, inputs: dict, epsilon_schedule) -> None:
    """Ask the student's schedule for ε at every step of both schedules."""
    for index, ((start, end, decay), steps) in enumerate(zip(inputs["schedules"], inputs["steps"])):
        for step in steps:
            rec.call(f"{index} {step}", epsilon_schedule, step, start, end, decay)


def judge_schedule(results, inputs: dict) -> None:
    """Compare the schedule with the linear one at steps that expose the usual slips."""
    for index, ((start, end, decay), steps) in enumerate(zip(inputs["schedules"], inputs["steps"])):
        checked = steps[:5]
        values = [_epsilon(results, index, step, (start, end, decay)) for step in checked]
        expected = [linear_epsilon(step, start, end, decay) for step in checked]
        if not np.allclose(values, expected, rtol=0, atol=EPSILON_TOLERANCE):
            _name_schedule_mistake(results, inputs, index, values, expected)
        extra = [(step, _epsilon(results, index, step, (start, end, decay))) for step in steps[5:]]
        wrong = next(((step, v) for step, v in extra if not math.isclose(v, linear_epsilon(step, start, end, decay),
                                                                         abs_tol=EPSILON_TOLERANCE)), None)
        if wrong:
            raise Mistake(f"epsilon_schedule({wrong[0]}, {start}, {end}, {decay}) returned {wrong[1]:.4g}; expected "
                          f"{linear_epsilon(wrong[0], start, end, decay):.4g}. Hint: "
                          "ε(step) = start + min(step / decay_steps, 1) * (end - start).")


def _epsilon(results, index: int, step: int, schedule: tuple) -> float:
    """The student's ε at `step`, which must be a Python float (a NumPy float64 is one too)."""
    start, end, decay = schedule
    return plain_number(results.value(f"{index} {step}"),
                        f"epsilon_schedule({step}, {start}, {end}, {decay}) returned", "a Python float",
                        "ε is one number: compute it with plain Python arithmetic.", types=(float, np.float64))


def _decays_geometrically(results, inputs: dict) -> bool:
    """True if ε, or its distance to end, shrinks by a constant factor per step (until it is clamped at end)."""
    for index, ((start, end, decay), steps) in enumerate(zip(inputs["schedules"], inputs["steps"])):
        ordered = sorted(step for step in steps if step <= decay)
        values = [_epsilon(results, index, step, (start, end, decay)) for step in ordered]
        for floor in (0.0, end):
            points = [(step, math.log(v - floor)) for step, v in zip(ordered, values)
                      if v - floor > 1e-12 and not math.isclose(v, end)]
            if len(points) < 3:
                continue
            slope, intercept = np.polyfit(*zip(*points), 1)
            if slope < -1e-9 and all(abs(intercept + slope * step - log) < 1e-6 for step, log in points):
                return True
    return False


def _name_schedule_mistake(results, inputs: dict, index: int, values: list, expected: list) -> None:
    """Raise a Mistake naming the wrong schedule that gives `values` at the checked steps."""
    start, end, decay = inputs["schedules"][index]
    steps = inputs["steps"][index][:5]
    fractions = [step / decay for step in steps]
    wrong = next(i for i, (v, e) in enumerate(zip(values, expected)) if not math.isclose(v, e,
                                                                                       abs_tol=EPSILON_TOLERANCE))
    returned = (f"epsilon_schedule at steps {list(steps)} returned {[round(v, 4) for v in values]}, "
                f"expected {[round(e, 4) for e in expected]}: ")
    formula = "ε(step) = start + min(step / decay_steps, 1) * (end - start)"
    if _decays_geometrically(results, inputs):
        fallback = (returned + "this decays geometrically (multiplies by a constant each step), not linearly. "
                    f"Hint: {formula}.")
    else:
        fallback = (f"epsilon_schedule({steps[wrong]}, {start}, {end}, {decay}) returned {values[wrong]:.4g}; expected "
                    f"{expected[wrong]:.4g}. Hint: {formula}"
                    + (": ε(0) must be start (are start and end swapped, or is a max(...) clamp written as min(...)?)"
                       if wrong == 0 else "."))
    matches = lambda candidate: np.allclose(values, candidate, rtol=0, atol=EPSILON_TOLERANCE)  # noqa: E731
    others = [tuple(s) for s in (*inputs["schedules"], *SCHEDULES) if tuple(s) != (start, end, decay)]
    with_others = [[linear_epsilon(step, *other) for step in steps] for other in others]
    floor = values[-1]  # ε at 3 * decay_steps, where the schedule settles; tried after every other slip
    hard_floor = (f"after decay_steps ε settles at {floor:g}, not at end = {end:g}: the floor is a fixed number, not "
                  "the `end` argument{how}. Hint: clamp with the argument: " + formula + ".")
    name_the_mistake(matches, {
        "it never decays. Hint: ε must fall from start to end as step grows (an integer division such as "
        "(start - end) * step // decay_steps rounds the fraction down to 0 too).": [start] * len(steps),
        "integer division: step // decay_steps stays 0 until the end. Hint: use step / decay_steps.":
            [start + min(step // decay, 1) * (end - start) for step in steps],
        "it is not clamped: after decay_steps ε keeps falling below end. Hint: use min(step / decay_steps, 1.0).":
            [start + f * (end - start) for f in fractions],
        "it decays towards 0 instead of end. Hint: interpolate between start and end.":
            [start * (1 - min(f, 1.0)) for f in fractions],
        "it decays towards 0 instead of end, then stops at end. Hint: interpolate between start and end.":
            [max(end, start * (1 - min(f, 1.0))) for f in fractions],
        "it returns 1 - ε, the probability of acting greedily. Hint: ε starts at start and falls to end.":
            [1 - linear_epsilon(step, start, end, decay) for step in steps],
        "it is one step ahead: it counts from step + 1, so ε(0) is not start. Hint: use step itself.":
            [linear_epsilon(step + 1, start, end, decay) for step in steps],
        "it is one step behind: it counts from step - 1, so ε(0) is above start. Hint: use step itself.":
            [linear_epsilon(step - 1, start, end, decay) for step in steps],
        "it reaches end one step early: it divides by decay_steps - 1. Hint: use step / decay_steps.":
            [linear_epsilon(step, start, end, decay - 1) for step in steps],
        "it reaches end one step late: it divides by decay_steps + 1. Hint: use step / decay_steps.":
            [linear_epsilon(step, start, end, decay + 1) for step in steps],
        "this is the seed's exponential schedule: it decays geometrically (multiplies the distance to end by a "
        f"constant each step), not linearly. Hint: {formula}.":
            [end + (start - end) * math.exp(-f) for f in fractions],
        "it ignores the arguments start, end, decay_steps (does it read notebook globals?). "
        "Hint: compute ε only from the function's own arguments.":
            next(filter(matches, with_others), with_others[0]),
        "it uses the course's settings (DQNConfig) instead of the arguments start, end, decay_steps. "
        "Hint: compute ε only from the function's own arguments.":
            [linear_epsilon(step, COURSE.eps_start, COURSE.eps_end, COURSE.eps_decay_steps) for step in steps],
        hard_floor.format(how=f" (max({floor:g}, ...))"):
            [max(floor, start + f * (end - start)) for f in fractions],
        hard_floor.format(how=f" (ε = {floor:g} once step >= decay_steps)"):
            [linear_epsilon(step, start, end, decay) if step < decay else floor for step in steps],
    }, fallback, returned=returned)


check_epsilon_schedule = Check("4.1", "epsilon_schedule", schedule_inputs, probe_schedule, judge_schedule,
                               references=("utils.policies.epsilon_schedule",))


# --- 4.2 ε-greedy actions ------------------------------------------------------------------------

def greedy_state_inputs(rng) -> dict:
    """The notebook's state (greedy action 1 of 3) and ε = 0.2, or a fresh state, action count and ε."""
    if rng is None:
        return {"state": STATE, "n_actions": 3, "epsilon": EPSILON, "seeds": [0, 1, 2, 2],
                "draws": [300, 20, 3000, 4000]}
    n_actions = int(rng.choice([3, 4, 5]))
    q_values = rng.uniform(-2, 2, size=n_actions)
    # one clear greedy action, neither the first nor the last: a random action that leaves out 0, n_actions - 1
    # or the greedy one then shows as what it is
    q_values[rng.integers(1, n_actions - 1)] = 3.0 + rng.uniform(0, 1)
    extra = rng.uniform(-1, 1, size=int(rng.integers(1, 3)))  # obs_dim differs from n_actions
    return {"state": np.concatenate([q_values, extra]).astype(np.float32), "n_actions": n_actions,
            "epsilon": float(rng.choice([0.1, 0.15, 0.2, 0.3])),
            "seeds": [int(s) for s in rng.integers(0, 2**31, 4)], "draws": [300, 20, 3000, 4000]}


def probe_epsilon_greedy(rec, inputs: dict, epsilon_greedy_action) -> None:
    """Actions at ε = 0, 1 (noting which global generators moved) and the inputs' ε, each with its own seeded rng."""
    state, n_actions, epsilon = inputs["state"], inputs["n_actions"], inputs["epsilon"]
    for key, eps, seed, draws in zip(("zero", "own rng", "one", "some"), (0.0, 1.0, 1.0, epsilon), inputs["seeds"],
                                     inputs["draws"]):
        net, rng = ScriptedQNet(len(state), n_actions), np.random.default_rng(seed)
        before, untouched = _global_generators(), rng.bit_generator.state
        for draw in range(draws):
            rec.call(f"{key} {draw}", epsilon_greedy_action, net, state.copy(), eps, rng)
        after = _global_generators()
        rec.note(f"{key} spy", {"calls": [net.calls, net.calls_with_grad],
                                "rng used": rng.bit_generator.state != untouched,
                                "globals used": [name for name in before if before[name] != after[name]]})
    net, rng, last = ScriptedQNet(len(state), n_actions), np.random.default_rng(inputs["seeds"][0]), \
        _greedy_last(state, n_actions)
    for draw in range(LAST_GREEDY_DRAWS):
        rec.call(f"zero last {draw}", epsilon_greedy_action, net, last.copy(), 0.0, rng)
    for draw in range(LAST_GREEDY_DRAWS):  # ε = 1 there: "the other action", 1 − greedy, falls outside the actions
        rec.call(f"one last {draw}", epsilon_greedy_action, net, last.copy(), 1.0, rng)


def _greedy_last(state: np.ndarray, n_actions: int) -> np.ndarray:
    """`state` with its greedy Q-value swapped into the last action's place (a greedy action of 2 or more).

    Its Q-values are all moved below -1.5, action 1's above action 0's: a running maximum started from 0
    returns 0 there, comparing actions 0 and 1 returns 1, and the largest Q-value made an int is no action.
    """
    swapped, greedy = state.copy(), int(np.argmax(state[:n_actions]))
    swapped[[greedy, n_actions - 1]] = swapped[[n_actions - 1, greedy]]
    q_values = swapped[:n_actions]  # a view: the changes below are the state's
    q_values -= q_values.max() + 1.6
    if q_values[1] < q_values[0]:
        q_values[[0, 1]] = q_values[[1, 0]]
    return swapped


def _global_generators() -> dict:
    """Comparable snapshots of the global generators of random, NumPy and torch."""
    _, key, position, has_gauss, gauss = np.random.get_state()
    return {"random": random.getstate(), "np.random": (key.tobytes(), position, has_gauss, gauss),
            "torch": torch.get_rng_state().numpy().tobytes()}


def judge_epsilon_greedy(results, inputs: dict) -> None:
    """Count the actions chosen on the scripted Q-network at ε = 0, 1 and the inputs' ε."""
    state, n_actions, epsilon = inputs["state"], inputs["n_actions"], inputs["epsilon"]
    greedy, draws = int(np.argmax(state[:n_actions])), inputs["draws"]
    _judge_conversion(results, "zero 0", len(state))
    zero = _actions(results, "zero", draws[0], "epsilon_greedy_action returned",
                    "env.step expects a plain int: use int(...) or .item().")
    spy = results.value("zero spy")
    if len(set(zero)) > 1:
        _judge_explores_at_zero(results, inputs, zero, greedy)
    expect(spy["calls"][0] > 0, "with ε=0 epsilon_greedy_action never called the q_net it was given.",
           "the greedy action comes from the q_net argument, not from a network in the notebook's globals.")
    _judge_greedy_at_zero(zero, state[:n_actions], "")
    _judge_greedy_last(results, state, n_actions)
    expect(spy["calls"][1] == 0, "epsilon_greedy_action called q_net with gradient tracking on.",
           "compute the greedy action under torch.no_grad() (your greedy_action does).")
    _judge_own_rng(results, draws[1])
    _judge_other_action(results, n_actions)
    counts = _counts(_actions(results, "one", draws[2], "with ε=1.0 epsilon_greedy_action returned",
                              "convert the random action too: int(rng.integers(n_actions))."), inputs)
    _judge_uniform(counts, greedy)
    some = _actions(results, "some", draws[3], f"with ε={epsilon} epsilon_greedy_action returned",
                    "convert the random action too: int(rng.integers(n_actions)).")
    _judge_greedy_share(_counts(some, inputs), greedy, epsilon)


def _judge_greedy_last(results, state: np.ndarray, n_actions: int) -> None:
    """At ε = 0 on a state whose greedy action is the last one, every action must be that one."""
    last = _actions(results, "zero last", LAST_GREEDY_DRAWS, "epsilon_greedy_action returned",
                    "env.step expects a plain int: use int(...) or .item().")
    _judge_greedy_at_zero(last, _greedy_last(state, n_actions)[:n_actions], f" (the last of {n_actions})")


def _judge_greedy_at_zero(actions: list, q_values: np.ndarray, which: str) -> None:
    """At ε = 0 every action must be the greedy one; actions 0 and 1 only, where it is 2 or more, mean two compared."""
    n_actions, greedy = len(q_values), int(np.argmax(q_values))
    if set(actions) == {greedy}:
        return
    got = sorted(set(actions))
    expect(not (got == [0] and np.max(q_values) < 0), f"with ε=0, on a state whose greedy action is {greedy}{which} and "
           f"whose Q-values are all negative, it returned [0]: {MAX_FROM_ZERO}.", MAX_FROM_ZERO_HINT)
    expect(greedy < 2 or not set(actions) <= {0, 1},
           f"with ε=0, on a state whose greedy action is {greedy}{which}, it returned {got}: it compares only the "
           "first two actions' Q-values, or returns a fixed action.",
           f"take the argmax over all {n_actions} Q-values: int(q_values.argmax()).")
    top = float(np.max(q_values))
    expect(not (len(got) == 1 and got[0] in (int(top), round(top))), f"with ε=0 it always returned {got[0]}, the "
           f"largest Q-value ({top:.3g}) made an int, not its index: the greedy action is {greedy}{which}.",
           "take the index of the maximum: int(q_values.argmax()), not int(q_values.max()).")
    returned = f"always returned {got[0]}" if len(got) == 1 else f"returned {got}"
    raise Mistake(f"with ε=0 it {returned}; the greedy action is {greedy}{which}. "
                  "Hint: the greedy action is the argmax of the Q-values, over the action dimension.")


def _judge_conversion(results, key: str, obs_dim: int) -> None:
    """A NumPy state fed to the network unconverted raises: say so."""
    info = results.raised(key)
    message = str(info.get("message")) if info else ""
    if info and info.get("type") in ("TypeError", "AttributeError") and ("ndarray" in message or "Tensor" in message):
        raise Mistake(f"epsilon_greedy_action(q_net, state, ...) with a NumPy state of shape ({obs_dim},) raised "
                      f"{info.get('type')}: {message}. Hint: convert first: "
                      "torch.as_tensor(state, dtype=torch.float32).")


def _actions(results, key: str, draws: int, returned: str, hint: str) -> list:
    """The actions recorded under `key 0` .. `key draws-1`, each a Python int (not a bool, a NumPy int or a fake)."""
    return [plain_number(results.value(f"{key} {draw}"), returned, "a Python int", hint, types=INTS)
            for draw in range(draws)]


def _counts(actions: list, inputs: dict) -> np.ndarray:
    """How often each action came; a Mistake for an action out of range."""
    n_actions, obs_dim = inputs["n_actions"], len(inputs["state"])
    wrong = sorted(set(actions) - set(range(n_actions)))
    if wrong and set(actions) <= set(range(obs_dim)):
        raise Mistake(f"epsilon_greedy_action returned actions {wrong} on a {n_actions}-action Q-network whose state "
                      f"has {obs_dim} entries: the random action is drawn from len(state). Hint: n_actions is the "
                      "number of Q-values, len(q_values), not the length of the state.")
    expect(not wrong, f"epsilon_greedy_action returned actions {wrong} on a {n_actions}-action Q-network.",
           "actions are integers 0 .. n_actions - 1.")
    return np.bincount(actions, minlength=n_actions)


def _judge_explores_at_zero(results, inputs: dict, zero: list, greedy: int) -> None:
    """ε=0 gave other actions: explored always (comparison reversed), at a fixed rate (ε ignored), or otherwise."""
    n_actions, epsilon, draws = inputs["n_actions"], inputs["epsilon"], inputs["draws"]
    shown = sorted(set(zero))
    at_zero = zero.count(greedy) / len(zero)
    reversed_hint = ("ε=0 means never explore: explore only when rng.random() < epsilon (is the comparison "
                     "reversed?).")
    expect(abs(at_zero - 1 / n_actions) > 0.1,
           f"with ε=0 the actions were {shown} over {len(zero)} calls, the greedy one {at_zero:.0%} of the time: it "
           "always explored.", reversed_hint)
    try:
        shares = [_actions(results, key, count, "", "").count(greedy) / count
                  for key, count in (("one", draws[2]), ("some", draws[3])) if results.has(f"{key} {count - 1}")]
    except Mistake:  # another kind of answer at ε > 0: the message below says what ε = 0 gave
        shares = []
    if len(shares) == 2 and all(abs(share - at_zero) < 0.1 for share in shares):
        raise Mistake(f"the greedy action came about {at_zero:.0%} of the time with ε = 0, {epsilon} and 1 alike: it "
                      "ignores the epsilon argument (a notebook global, or a fixed rate?). Hint: explore when "
                      "rng.random() < epsilon, with the epsilon passed in.")
    raise Mistake(f"with ε=0 the actions were {shown} over {len(zero)} calls; expected always the greedy action "
                  f"{greedy}. Hint: {reversed_hint}")


def _judge_own_rng(results, draws: int) -> None:
    """ε=1 must draw only from the rng argument, never from random, np.random or torch's generator."""
    _actions(results, "own rng", draws, "with ε=1.0 epsilon_greedy_action returned",
             "convert the random action too: int(rng.integers(n_actions)).")
    spy = results.value("own rng spy")
    used = spy["globals used"]
    expect(not used, f"with ε=1 epsilon_greedy_action drew from the global `{used[0] if used else ''}` generator.",
           "draw every random number from the rng argument (rng.random(), rng.integers(n_actions)): "
           "then the caller controls, and can reproduce, the exploration.")
    expect(spy["rng used"] is True, "with ε=1 epsilon_greedy_action never used the rng it was given "
           "(does it ever explore?).", "explore with rng.random() and rng.integers(n_actions).")


def _judge_other_action(results, n_actions: int) -> None:
    """At ε = 1 on a state whose greedy action is the last one, 1 − greedy (a two-action habit) is 2 − n_actions."""
    last = _actions(results, "one last", LAST_GREEDY_DRAWS, "with ε=1.0 epsilon_greedy_action returned",
                    "convert the random action too: int(rng.integers(n_actions)).")
    other = 1 - (n_actions - 1)
    expect(set(last) != {other}, f"with ε=1, on a state whose greedy action is {n_actions - 1}, every action was "
           f"{other}: the random action is 1 − greedy, 'the other action' of a task with two actions; this one has "
           f"{n_actions}.", "draw the random action uniformly from all the actions: int(rng.integers(n_actions)).")


def _judge_uniform(counts: np.ndarray, greedy: int) -> None:
    """At ε=1 every action must come, each about 1/n_actions of the time."""
    n_actions = len(counts)
    shown = _frequencies(counts)
    expect(counts[greedy] < counts.sum(), f"with ε=1 every action was the greedy one ({greedy}): it never explores.",
           "with probability ε return the random action rng.integers(n_actions) (is it drawn but not returned?).")
    expect(counts[0] < counts.sum(), "with ε=1 every action was 0: the random action is drawn from one action, "
           "rng.integers(1). len(q_values) of a (1, n_actions) output (the state was given a batch dimension) is 1, "
           "not n_actions.", "n_actions = q_values.shape[-1] counts the Q-values of a (1, n_actions) output too "
           "(or call q_net on the state without unsqueeze(0)); draw rng.integers(n_actions).")
    expect(counts[-1] > 0, f"with ε=1 the actions were {shown}: action {n_actions - 1} of {n_actions} never came.",
           "draw the random action from all n_actions actions, e.g. rng.integers(n_actions) with "
           "n_actions = len(q_values); don't hard-code 2 (and rng.integers(low, high) excludes high).")
    expect(counts[0] > 0, f"with ε=1 the actions were {shown}: action 0 never came.",
           "draw from range(n_actions): rng.integers(n_actions) starts at 0.")
    expect(counts[greedy] > 0, f"with ε=1 the actions were {shown}: the random action never picks the "
           f"greedy one (action {greedy}).", "explore uniformly over all actions, so the greedy action keeps "
           "probability 1 - ε + ε/|A|.")
    expect(np.all(np.abs(counts / counts.sum() - 1 / n_actions) < 0.04),
           f"with ε=1 the actions were {shown}; expected each about 1/{n_actions}.",
           "ε=1 means always explore: a uniformly random action, whatever the Q-values."
           if counts[greedy] > counts.sum() / 2 else "the random action must be uniform over all actions.")


def _judge_greedy_share(counts: np.ndarray, greedy: int, epsilon: float) -> None:
    """At ε the greedy action must come with probability 1 - ε + ε/|A|."""
    n_actions = len(counts)
    share, expected = counts[greedy] / counts.sum(), 1 - epsilon + epsilon / n_actions
    if abs(share - expected) < 0.03:
        return
    name_the_mistake(lambda value: abs(share - value) < 0.03, {
        "it explores with probability 1 - ε instead of ε. Hint: explore when rng.random() < epsilon.":
            epsilon + (1 - epsilon) / n_actions,
        "the random action never picks the greedy one. Hint: explore uniformly over all actions, "
        "so the greedy action keeps probability 1 - ε + ε/|A|.": 1 - epsilon,
    }, f"with ε={epsilon} the greedy action came {share:.1%} of the time; expected {expected:.1%} (1 - ε + ε/"
       f"{n_actions}). Hint: with probability ε take a uniformly random action, else the greedy one.",
        returned=f"with ε={epsilon} the greedy action came {share:.1%} of the time, expected {expected:.1%}: ")


def _frequencies(counts: np.ndarray) -> str:
    """'0: 49%, 1: 51%, 2: 0%'."""
    return ", ".join(f"{a}: {c / counts.sum():.0%}" for a, c in enumerate(counts))


check_epsilon_greedy = Check("4.2", "epsilon_greedy_action", greedy_state_inputs, probe_epsilon_greedy,
                             judge_epsilon_greedy, references=("utils.policies.epsilon_greedy_action",))


# --- 4.3 one clock across episodes ---------------------------------------------------------------

def state_at(state: np.ndarray, n_actions: int, t: int) -> np.ndarray:
    """The scripted state after t steps of an episode: its Q-values (first n_actions entries) rolled by t."""
    return np.concatenate([np.roll(state[:n_actions], t), state[n_actions:]])


def greedy_path(state: np.ndarray, n_actions: int, lengths: list) -> list:
    """The greedy action at every step of scripted episodes of `lengths` steps."""
    return [int(np.argmax(state_at(state, n_actions, t)[:n_actions])) for n in lengths for t in range(n)]


class ScriptedEpisodes:
    """A stand-in env whose episodes last `lengths` steps and end by termination or truncation, as scripted.

    Each step moves the state (see `state_at`), so the greedy action changes from step to step: a loop that
    never takes the state env.step returns acts for the episode's first state throughout.
    """

    def __init__(self, lengths: list, truncated: list, reward: float, state: np.ndarray, n_actions: int):
        """Episodes of the given lengths; stepping an ended episode, or resetting too often, raises a Mistake."""
        self.lengths, self.truncated, self.reward, self.state = lengths, truncated, reward, state
        self.n_actions = n_actions
        self.episode, self.t, self.done, self.actions, self.seeded = -1, 0, True, [], []

    def reset(self, seed=None, options=None):
        """Start the next episode (noting whether it was given a seed)."""
        self.seeded.append(seed is not None)
        self.episode, self.t, self.done = self.episode + 1, 0, False
        return state_at(self.state, self.n_actions, 0), {}

    def step(self, action):
        """Advance one step; the episode ends as scripted, by termination or by truncation."""
        if self.episode >= len(self.lengths):
            raise Mistake(f"it played more than n_episodes = {len(self.lengths)} episodes. Hint: loop "
                          "for _ in range(n_episodes), one env.reset() at the start of each.")
        if self.done:
            how = ("was truncated (terminated=False, truncated=True): a truncated episode is over too. Hint: end "
                   "the episode when terminated or truncated is True." if self.truncated[self.episode] else
                   "terminated, without env.reset() in between. Hint: stop the episode when terminated or truncated "
                   "is True, and call env.reset() at the start of each episode.")
            raise Mistake(f"it kept stepping an episode that had already ended: episode {self.episode + 1} {how}")
        self.actions.append(plain_number(action, "run_episodes passed env.step", "an action, a Python int",
                                         "pass the int epsilon_greedy_action returned.", types=INTS + (np.integer,)))
        self.t += 1
        self.done = self.t == self.lengths[self.episode]
        cut = self.done and self.truncated[self.episode]
        return state_at(self.state, self.n_actions, self.t), self.reward, self.done and not cut, cut, {}


class OldGymEpisodes(ScriptedEpisodes):
    """The same episodes behind the old gym API, in part or whole: reset() gives the state only, step() four values."""

    def __init__(self, *args, old_reset: bool, old_step: bool):
        """Scripted episodes; `old_reset`, `old_step` choose which calls speak the old API."""
        super().__init__(*args)
        self.old_reset, self.old_step = old_reset, old_step

    def reset(self, seed=None, options=None):
        """Start the next episode; the state alone with the old API."""
        state, info = super().reset(seed=seed, options=options)
        return state if self.old_reset else (state, info)

    def step(self, action):
        """Advance one step; (state, reward, done, info) with the old API."""
        state, reward, terminated, truncated, info = super().step(action)
        return (state, reward, terminated or truncated, info) if self.old_step else \
            (state, reward, terminated, truncated, info)


OLD_APIS = {"reset": (True, False), "step": (False, True), "reset and step": (True, True)}
OLD_API_SAID = {
    "reset": f"for reset: {OLD_RESET}", "step": f"for step: {OLD_STEP}",
    "reset and step": "(reset() returning the observation alone, step() four values): in gymnasium env.reset() returns "
    "(observation, info) and env.step returns five values, next_state, reward, terminated, truncated, info. Hint: "
    "state, _ = env.reset(); next_state, reward, terminated, truncated, _ = env.step(action), and the episode ends on "
    "`terminated or truncated`."}


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


def episodes_inputs(rng) -> dict:
    """The notebook's episodes (4, 2, 5 steps, the last truncated), or fresh lengths, endings, reward and state."""
    if rng is None:
        return {"lengths": list(LENGTHS), "truncated": [False, False, True], "reward": 0.5, "state": STATE[:4],
                "n_actions": 2, "explore": {"lengths": [10, 10], "seeds": [3, 3, 4]}, "seed": 0}
    for _ in range(1000):  # a few draws at most
        lengths = [int(n) for n in rng.integers(1, 8, size=int(rng.integers(3, 6)))]
        if len(set(map(tuple, _clocks(lengths).values()))) == len(_clocks(lengths)):  # every slip shows
            break
    truncated = [bool(t) for t in rng.random(len(lengths)) < 0.4]
    truncated[int(rng.integers(len(lengths) - 1))] = True  # one before the last: ignoring truncation shows mid-run
    n_actions = int(rng.choice([2, 3]))
    state = np.concatenate([rng.uniform(-1, 1, n_actions), rng.uniform(-1, 1, 2)]).astype(np.float32)
    same, other = (int(s) for s in rng.choice(2**31, size=2, replace=False))
    return {"lengths": lengths, "truncated": truncated, "reward": float(rng.choice([0.5, 2.0, -1.0])), "state": state,
            "n_actions": n_actions, "seed": int(rng.integers(0, 2**31)),
            "explore": {"lengths": [int(n) for n in rng.integers(10, 15, size=2)], "seeds": [same, same, other]}}


def _clocks(lengths: list) -> dict:
    """The steps the schedule is asked about by the right loop and by each usual slip, keyed by the slip's message."""
    right = list(range(sum(lengths)))
    return {
        "": right,
        "ε restarts with every episode: the clock is the step within the episode. "
        "Hint: keep one global step counter across episodes.": [t for n in lengths for t in range(n)],
        "this is the seed's fake clock i_episode * 500 + t, which jumps 500 steps per episode. "
        "Hint: count the environment steps actually taken.": [500 * e + t for e, n in enumerate(lengths) for t in range(n)],
        "ε is computed once per episode. Hint: call schedule(global_step) before every action.":
            [sum(lengths[:e]) for e in range(len(lengths))],
        "the step counter only moves at the end of each episode (global_step += length after the episode). Hint: "
        "increase global_step after every environment step.": [sum(lengths[:e]) for e, n in enumerate(lengths)
                                                               for _ in range(n)],
        "the schedule is asked about the episode number, not the step: ε would decay per episode. Hint: "
        "epsilon = schedule(global_step), global_step counting environment steps.":
            [e for e, n in enumerate(lengths) for _ in range(n)],
        "the schedule is never called. Hint: epsilon = schedule(global_step) before every action.": [],
        "the first step is 1. Hint: global_step counts the steps taken before this one, so it starts at 0.":
            [s + 1 for s in right],
        "the step counter is increased twice at the end of each episode (once for the step, once more when the "
        "episode ends), so it skips a step per episode. Hint: global_step += 1 once per env.step, nowhere else.":
            [s + e for e, n in enumerate(lengths) for s in range(sum(lengths[:e]), sum(lengths[:e]) + n)],
    }


def probe_run_episodes(rec, inputs: dict, run_episodes) -> None:
    """Play the scripted episodes with ε = 0 (recording lengths, clock and actions), then with ε = 1 three times."""
    state, n_actions = inputs["state"], inputs["n_actions"]
    env, schedule = ScriptedEpisodes(inputs["lengths"], inputs["truncated"], inputs["reward"], state, n_actions), \
        RecordingSchedule(0.0)
    rec.call("lengths", run_episodes, env, ScriptedQNet(len(state), n_actions), len(inputs["lengths"]), schedule,
             np.random.default_rng(inputs["seed"]), expect_error=True)
    if "raised" in rec.entries["lengths"]:
        _probe_old_api(rec, inputs, run_episodes)
        raise ProbeStopped("lengths")
    rec.note("steps", schedule.steps)
    rec.note("actions", env.actions)
    rec.note("seeded resets", env.seeded)
    explore = inputs["explore"]
    for index, seed in enumerate(explore["seeds"]):
        env = ScriptedEpisodes(explore["lengths"], [False] * len(explore["lengths"]), inputs["reward"], state,
                               n_actions)
        schedule = RecordingSchedule(1.0)
        rec.call(f"explore {index}", run_episodes, env, ScriptedQNet(len(state), n_actions), len(explore["lengths"]),
                 schedule, np.random.default_rng(seed))
        rec.note(f"explore {index} actions", env.actions)
        rec.note(f"explore {index} steps", schedule.steps)


def _probe_old_api(rec, inputs: dict, run_episodes) -> None:
    """After a crash: play the same episodes behind the old gym API (reset, step or both), each run recorded."""
    state, n_actions = inputs["state"], inputs["n_actions"]
    for name, (old_reset, old_step) in OLD_APIS.items():
        env = OldGymEpisodes(inputs["lengths"], inputs["truncated"], inputs["reward"], state, n_actions,
                             old_reset=old_reset, old_step=old_step)
        rec.call(f"old {name}", run_episodes, env, ScriptedQNet(len(state), n_actions), len(inputs["lengths"]),
                 RecordingSchedule(0.0), np.random.default_rng(inputs["seed"]), expect_error=True)


def _judge_old_api(results, lengths: list) -> None:
    """A run that crashed on gymnasium's API but plays the episodes behind the old gym API is named so."""
    crash = results.raised("lengths")
    if not crash or crash.get("not_done"):
        return
    _name_loop_crash(crash)
    for name in OLD_APIS:
        key = f"old {name}"
        if results.has(key) and not results.raised(key) and _lengths(results.value(key)) == lengths:
            raise Mistake(f"run_episodes raised {crash_text(crash)}; it plays the episodes right when the env "
                          f"follows the old gym API {OLD_API_SAID[name]}")


def _name_loop_crash(crash: dict) -> None:
    """Name the crashes of a loop that calls epsilon_greedy_action wrongly or explores without it."""
    kind, message = crash.get("type"), str(crash.get("message"))
    expect(not (kind == "TypeError" and "RecordingSchedule" in message), f"run_episodes raised {crash_text(crash)}: "
           "the schedule function itself reached epsilon_greedy_action as ε, not its value.",
           "call it: epsilon_greedy_action(q_net, state, schedule(global_step), rng).")
    expect(not (kind == "AttributeError" and re.search(r"'(float|int)' object has no attribute '(random|integers)'",
                                                       message)),
           f"run_episodes raised {crash_text(crash)}: epsilon_greedy_action got a number where it uses the rng: its "
           "arguments are in another order.", "epsilon_greedy_action(q_net, state, epsilon, rng), in that order.")
    expect(not (kind == "AttributeError" and "action_space" in message), f"run_episodes raised {crash_text(crash)}: "
           "it explores with env.action_space.sample(), which neither uses ε from the schedule nor the rng it was "
           "given.", "choose every action with epsilon_greedy_action(q_net, state, schedule(global_step), rng).")


def _lengths(value) -> list | None:
    """A returned list or array of whole numbers as a list of ints (None for anything else)."""
    if type(value) not in (list, tuple, np.ndarray):
        return None
    numbers = [v for v in list(value) if is_plain(v, (int, float, np.ndarray))]
    return [int(v) for v in numbers] if len(numbers) == len(value) and all(float(v).is_integer() for v in numbers) \
        else None


def _once_per_step(steps: list, wanted: list) -> list:
    """`wanted` if `steps` asks the (pure) schedule about each wanted step the same number of times in a row, else `steps`."""
    repeats = len(steps) // len(wanted) if wanted else 0
    return wanted if repeats > 1 and steps == [step for step in wanted for _ in range(repeats)] else steps


def _judge_fresh_counter(results, inputs: dict) -> None:
    """A later call must count its steps from 0 again: a counter that lives on between calls shows as an offset."""
    for index in range(len(inputs["explore"]["seeds"])):
        wanted = list(range(sum(inputs["explore"]["lengths"])))
        _expect_counted_from_zero(_once_per_step(results.value(f"explore {index} steps"), wanted), wanted,
                                  "called again, ")


def _expect_counted_from_zero(steps, wanted: list, when: str) -> None:
    """The steps asked about must not be the wanted ones shifted: that is a counter an earlier call left behind."""
    offset = steps[0] if type(steps) is list and steps and type(steps[0]) is int else 0
    # an offset of 1 is a count that starts at 1, named with the other clock slips
    expect(offset in (0, 1) or steps != [step + offset for step in wanted],
           f"{when}run_episodes asked the schedule about steps {offset}, {offset + 1}, ... instead of 0, 1, ...: its "
           "step counter lives on between calls (a variable outside the function, such as a notebook global).",
           "start the step count at 0 inside run_episodes, on every call.")


def judge_run_episodes(results, inputs: dict) -> None:
    """Check the lengths returned, the steps the schedule was asked about and that ε reached the actions."""
    lengths, reward = inputs["lengths"], inputs["reward"]
    _judge_old_api(results, lengths)
    for index in range(len(inputs["explore"]["seeds"])):  # the runs at ε = 1 reach the exploring branch
        crash = results.raised(f"explore {index}")
        if crash and not crash.get("not_done"):
            _name_loop_crash(crash)
    hint = "count the steps of each episode and return the list of counts."
    got = plain_values(results.value("lengths"), "run_episodes returned", f"the list of episode lengths {lengths}",
                       hint)
    shown = [int(n) if float(n).is_integer() else float(n) for n in got]
    _judge_fresh_list(_lengths(shown), lengths, "run_episodes")
    if shown != lengths:
        name_the_mistake(lambda value: len(shown) == len(value) and np.allclose(shown, value), {
            "the lengths are cumulative (the global step at each episode's end). Hint: append each episode's own "
            "step count.": np.cumsum(lengths).tolist(),
            "each length is one short. Hint: count every step, the last one too (t + 1 steps after index t).":
                [n - 1 for n in lengths],
            "each length is one too long. Hint: count the env.step calls of the episode.": [n + 1 for n in lengths],
            f"it returned each episode's total reward (the reward here is {reward} per step); expected its length, "
            "the number of steps. Hint: count steps, not rewards.": [reward * n for n in lengths],
            "every episode after the first has 0 steps: the flag that ends an episode (done = False) is set once, "
            "before the episodes, so each later episode is reset but never stepped. Hint: set done = False after each "
            "env.reset(), at the start of every episode.": lengths[:1] + [0] * (len(lengths) - 1),
        }, f"run_episodes returned {shown} for episodes of lengths {lengths}; expected {lengths}. Hint: {hint}",
            returned=f"run_episodes returned {shown}: ")
    seeded = results.value("seeded resets")
    later = next((episode for episode, given in enumerate(seeded, 1) if given and episode > 1), None)
    expect(later is None, f"run_episodes passed a seed to env.reset() at the start of episode {later}: "
           "a seeded reset restarts the env's random generator, so every episode would start in the same state.",
           "call env.reset() without a seed: the env was seeded once, when it was made.")
    steps, clocks = results.value("steps"), _clocks(lengths)
    expect(type(steps) is list, "the schedule's record could not be read.")
    steps = _once_per_step(steps, clocks[""])
    _expect_counted_from_zero(steps, clocks[""], "")
    if steps != clocks[""]:
        wrong = dict(list(clocks.items())[1:])
        name_the_mistake(lambda value: steps == value, wrong,
                         f"the schedule was asked about steps {steps}; expected 0, 1, ..., {sum(lengths) - 1} "
                         "(one call per step, counting across episodes). Hint: before every action, epsilon = "
                         "schedule(global_step); after every env.step, global_step += 1, never reset.",
                         returned=f"the schedule was asked about steps {steps}: ")
    _judge_fresh_counter(results, inputs)
    greedy, actions = greedy_path(inputs["state"], inputs["n_actions"], lengths), results.value("actions")
    expect(actions == greedy or actions != [greedy[0]] * sum(lengths), f"with schedule(step) = 0 every action was {greedy[0]}, the greedy "
           f"action of each episode's first state, while the states env.step returned called for {greedy}: the state "
           "is never updated, so every action is chosen for the state env.reset() gave.",
           "after each step take the new state: state, reward, terminated, truncated, _ = env.step(action) (or "
           "state = next_state).")
    expect(actions == greedy, f"with schedule(step) = 0 the actions were {actions}; expected the greedy action of "
           f"each state, {greedy}.", "pass epsilon = schedule(global_step) to epsilon_greedy_action, with the "
           "current state.")
    _judge_explore(results, inputs)


def _judge_fresh_list(got: list | None, lengths: list, call: str) -> None:
    """Lengths returned after those of earlier calls: the list outlives the call."""
    if got is not None and len(got) > len(lengths) and got[-len(lengths):] == lengths:
        raise Mistake(f"{call}, for episodes of lengths {lengths}, returned {_short(got)}: the lengths of earlier calls "
                      "are still in the list, so it lives on between calls (a mutable default argument such as "
                      "lengths=[], or a list outside the function). Hint: create the list in the function's body, "
                      "lengths = [], at every call.")


def _short(values: list) -> str:
    """A long list written with its first and last entries only."""
    return str(values) if len(values) <= 12 else f"[{', '.join(map(str, values[:4]))}, ..., " \
                                                  f"{', '.join(map(str, values[-6:]))}] ({len(values)} entries)"


def _judge_explore(results, inputs: dict) -> None:
    """A second call returns its own lengths; with ε = 1 the actions follow the rng passed in (same seed, same actions)."""
    explore = inputs["explore"]
    _judge_fresh_list(_lengths(results.value("explore 0")), explore["lengths"], "a second call of run_episodes")
    runs = [results.value(f"explore {index} actions") for index in range(len(explore["seeds"]))]
    expect(runs[0] != greedy_path(inputs["state"], inputs["n_actions"], explore["lengths"]),
           f"with schedule(step) = 1 every one of the {len(runs[0])} actions was the greedy one: ε never reaches the "
           "action choice (epsilon_greedy_action is not called, or gets another ε).",
           "action = epsilon_greedy_action(q_net, state, schedule(global_step), rng).")
    expect(runs[0] == runs[1], "with schedule(step) = 1 two runs with the same rng seed took different actions: "
           "the randomness does not all come from the rng argument.", "pass rng on to epsilon_greedy_action; "
           "neither run_episodes nor epsilon_greedy_action may draw from random, np.random or torch.")
    expect(runs[0] != runs[2], "with schedule(step) = 1 runs with different rng seeds took the same actions: "
           "run_episodes ignores the rng it was given.", "pass the rng argument on to epsilon_greedy_action "
           "(do not make a new generator inside).")


check_run_episodes = Check("4.3", "run_episodes", episodes_inputs, probe_run_episodes, judge_run_episodes)
