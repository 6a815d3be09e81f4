"""Checks for notebook 1: discounted return and the Bellman optimality backup (probe and judge, see protocol)."""
import numpy as np

from utils import mdp
from utils.checks.core import expect, name_the_mistake, plain_array, plain_number, separated
from utils.checks.protocol import Check, ProbeStopped, crash_text

ONCE = "gamma is not compounded: every reward is weighted by gamma once"
PRODUCT = "the weights are gamma * k, a product that grows with k, instead of the power gamma**k"
POWER_HINT = "Hint: weight r_k by gamma**k (multiply a running discount by gamma at every step)."
ONE_NUMBER = "one number (a Python float or a NumPy float)"
GAMMAS = (0.8, 0.85, 0.9, 0.95)


# --- 1.1 the discounted return ------------------------------------------------------------

def return_inputs(rng) -> dict:
    """The notebook's sequence and edge cases, or (for a grading run) fresh ones on which every slip differs."""
    if rng is None:
        return {"rewards": [1.0, 0.0, 2.0, 3.0], "gamma": 0.9,
                "cases": [[[], 0.9], [[5.0], 0.5], [[1.0, 1.0, 1.0], 0.0], [[1.0] * 50, 0.99]]}
    for _ in range(1000):  # a few draws at most: most sequences separate every slip
        rewards = [float(r) for r in rng.integers(0, 5, size=int(rng.integers(4, 7)))]
        gamma = float(rng.choice(GAMMAS))
        values = [mdp.discounted_return(rewards, gamma), *return_slips(rewards, gamma).values()]
        if rewards[0] and rewards[-1] and separated(values):
            break
    cases = [[[], float(rng.choice(GAMMAS))], [[float(rng.integers(1, 9))], float(rng.choice((0.5, 0.7)))],
             [[float(r) for r in rng.integers(1, 5, size=3)], 0.0], [[1.0] * int(rng.integers(30, 60)), 0.99]]
    return {"rewards": rewards, "gamma": gamma, "cases": cases}


def return_slips(rewards: list, gamma: float) -> dict:
    """What each typical slip returns on `rewards`, keyed by its message."""
    expected = mdp.discounted_return(rewards, gamma)
    return {
        "the rewards are not discounted (that is the plain sum). Hint: multiply r_k by gamma**k.": sum(rewards),
        "the first reward is discounted too (gamma**(k+1) instead of gamma**k). Hint: r_0 is received now, "
        "undiscounted.": gamma * expected,
        "the discounts are applied in reverse order (the last reward gets gamma**0). Hint: r_0 gets gamma**0.":
            sum(gamma**k * r for k, r in enumerate(reversed(rewards))),
        "the last reward is missing. Hint: loop over all len(rewards) rewards.":
            mdp.discounted_return(rewards[:-1], gamma),
        f"{ONCE} (ret + gamma * r). {POWER_HINT}": gamma * sum(rewards),
        f"{ONCE} after the first (r_0 + gamma * (r_1 + r_2 + ...)). {POWER_HINT}": rewards[0] + gamma * sum(rewards[1:])
        if rewards else 0.0,
        f"{PRODUCT}. {POWER_HINT}": rewards[0] + sum(gamma * k * r for k, r in enumerate(rewards) if k) if rewards else 0.0,
        f"{PRODUCT} (and r_0 gets 0 * gamma). {POWER_HINT}": sum(gamma * k * r for k, r in enumerate(rewards)),
    }


def written_in_gamma(rewards: list, gamma: float) -> dict:
    """The return with a constant discount (0.5 ... 0.99, 0.995, 0.999) in place of the gamma argument."""
    constants = [c for c in (*np.round(np.arange(0.5, 1.0, 0.01), 2), 0.995, 0.999) if not np.isclose(c, gamma)]
    return {f"that is the return with gamma = {c:g}, not the gamma = {gamma} passed in: the gamma argument is ignored "
            "(a constant written in). Hint: discount with the function's gamma argument.":
            mdp.discounted_return(rewards, float(c)) for c in constants}


def whole_number_slips(expected: float) -> dict:
    """The return with its fraction cut off (int(), //) or rounded (round()): tried after every other slip."""
    hint = "Hint: return G_0 as it is (float(G_0) if you convert it), not int(...) or round(...)."
    return {f"the return is cut to a whole number (int() or // drops the fraction). {hint}": float(np.trunc(expected)),
            f"the return is rounded to a whole number (round()). {hint}": float(round(expected))}


def probe_return(rec, inputs: dict, discounted_return) -> None:
    """Call the student's function on the main sequence and on each edge case."""
    rewards = list(inputs["rewards"])
    rec.call("main", discounted_return, rewards, inputs["gamma"])
    rec.note("rewards after", rewards)
    for index, (rewards, gamma) in enumerate(inputs["cases"]):
        rec.call(f"case {index}", discounted_return, list(rewards), gamma)


def judge_return(results, inputs: dict) -> None:
    """Compare `discounted_return(rewards, gamma)` with G_0 on sequences that expose typical slips."""
    rewards, gamma = inputs["rewards"], inputs["gamma"]
    call = f"discounted_return({rewards}, {gamma})"
    got = plain_number(results.value("main"), f"{call} returned", ONE_NUMBER,
                       "return the return G_0 of the whole sequence, not the list of returns from every step.")
    expected = mdp.discounted_return(rewards, gamma)
    after = results.value("rewards after")
    expect(after == rewards, f"{call} changed the list it was given: the caller's rewards now read {after}.",
           "leave the caller's list as it is: loop over reversed(rewards) or a copy (rewards[::-1]) instead of "
           "calling rewards.reverse() or popping from it.")
    if not np.isclose(got, expected):
        name_the_mistake(
            lambda value: np.isclose(got, value), return_slips(rewards, gamma) | whole_number_slips(expected)
            | written_in_gamma(rewards, gamma),
            f"{call} returned {got!r}; expected {expected:.4f} = {expansion(rewards, gamma)}. "
            "Hint: G_0 = sum_k gamma**k * r_k.",
            returned=f"{call} returned {got:.4f}, expected {expected:.4f}: ",
        )
    for index, (case, case_gamma) in enumerate(inputs["cases"]):
        call = f"discounted_return({_short(case)}, {case_gamma})"
        crash = results.raised(f"case {index}")
        expect(not (crash and not case), f"{call} raised {crash_text(crash or {})}: an episode can be empty, and "
               "the return of no rewards is G_0 = 0.0.", "start from 0.0 and add the rewards (not from rewards[0] "
               "or rewards[-1]); a loop over no rewards then returns 0.0.")
        got = plain_number(results.value(f"case {index}"), f"{call} returned", ONE_NUMBER, "return float(...).")
        expected = mdp.discounted_return(case, case_gamma)
        expect(np.isclose(got, expected), f"{call} returned {got!r}; expected {expected:.4f}.",
               "an empty sequence has return 0.0, and gamma = 0 keeps only the first reward.")


def expansion(rewards: list, gamma: float) -> str:
    """'1 + 0.9*0 + 0.81*2 + 0.729*3': the sum G_0 written out."""
    return " + ".join(f"{r:g}" if k == 0 else f"{round(gamma**k, 6):g}*{r:g}" for k, r in enumerate(rewards))


check_discounted_return = Check("1.1", "discounted_return", return_inputs, probe_return, judge_return,
                                references=("utils.mdp.discounted_return",))


# --- 1.2 the Bellman optimality backup ---------------------------------------------------------

def backup_inputs(rng) -> dict:
    """A small random stochastic MDP whose terminal rows of Q are not zero, and a corridor to solve."""
    seeded = np.random.default_rng(0) if rng is None else rng
    states = 5 if rng is None else int(rng.integers(4, 8))
    terminal = np.zeros(states, dtype=bool)
    terminal[[1, 4] if rng is None else rng.choice(states, size=2, replace=False)] = True
    P = seeded.dirichlet(np.ones(states), size=(states, 3))
    R = seeded.normal(size=(states, 3))
    Q = seeded.normal(size=(states, 3))
    alive = np.flatnonzero(~terminal)
    if not (Q[alive].max(axis=1) < 0).any():  # a max started from 0 then shows
        Q[alive[-1]] = -np.abs(Q[alive[-1]]) - 0.1
    if not (Q[alive].argmax(axis=1) == 2).any():  # a max over actions 0 and 1 alone then shows
        Q[alive[0], 2] = Q[alive[0]].max() + 0.5
    corridor = (4, 0.9) if rng is None else (int(rng.integers(4, 7)), float(rng.choice(GAMMAS)))
    return {"P": P, "R": R, "terminal": terminal, "Q": Q, "gamma": 0.8 if rng is None else float(rng.choice(GAMMAS)),
            "corridor": corridor}


def probe_backup(rec, inputs: dict, backup) -> None:
    """One backup on the random MDP (and Q afterwards), then value iteration in the corridor with the backup."""
    Q = inputs["Q"].copy()
    rec.call("backup", backup, Q, inputs["P"].copy(), inputs["R"].copy(), inputs["terminal"].copy(), inputs["gamma"],
             expect_error=True)
    if "raised" in rec.entries["backup"]:  # as many states as actions: a max over the wrong axis no longer raises
        square = _square_mdp(inputs)
        rec.call("square", backup, *(square[k].copy() for k in ("Q", "P", "R", "terminal")), square["gamma"],
                 expect_error=True)
        raise ProbeStopped("backup")
    rec.note("Q after", Q)
    length, gamma = inputs["corridor"]
    P, R, terminal = mdp.corridor_mdp(length)
    rec.call("corridor", lambda: mdp.value_iteration(
        P, R, terminal, gamma, backup=lambda *args: _backup_array(backup(*args), R.shape), max_sweeps=200)[0])


def judge_backup(results, inputs: dict) -> None:
    """Compare one backup with the reference on a random stochastic MDP, naming the usual slips."""
    P, R, terminal, Q, gamma = (inputs[k] for k in ("P", "R", "terminal", "Q", "gamma"))
    crash = results.raised("backup")
    if crash and not crash.get("not_done") and results.has("square") and not results.raised("square"):
        square = _square_mdp(inputs)
        wrong_axis = square["R"] + square["gamma"] * square["P"] @ np.where(square["terminal"], 0.0,
                                                                          square["Q"].max(axis=0))
        got = results.value("square")
        expect(not (type(got) is np.ndarray and got.shape == wrong_axis.shape and np.allclose(got, wrong_axis)),
               f"on Q of shape {Q.shape} ({Q.shape[0]} states, {Q.shape[1]} actions) your backup raised "
               f"{crash_text(crash)}: it takes the max over axis 0, the states (on a Q with as many states as "
               "actions it runs and gives exactly that), while max_a' Q(s', a') is a max over the actions.",
               "Q.max(axis=1) gives one value per state, shape (S,).")
    expect(not (crash and "could not be broadcast" in str(crash.get("message"))),
           f"your backup raised {crash_text(crash or {})}: its arrays do not line up. P has shape (S, A, S') "
           f"{P.shape}, and v(s') = (1 - terminal[s']) * max_a' Q(s', a') must have shape (S',) {(P.shape[2],)}: "
           "P @ v then sums over s', P's last axis, and gives (S, A). A v of shape (S, 1) (keepdims=True) or a sum "
           "of P * v over axis 1 (the actions) does not.", "v = np.where(terminal, 0.0, Q.max(axis=1)); "
           "return R + gamma * P @ v.")
    got = results.value("backup")
    expect(np.array_equal(results.value("Q after"), Q), "your backup changed the Q array it was given.",
           "build a new array for Q' instead of writing into Q: value iteration compares old and new Q.")
    got = _backup_array(got, Q.shape)
    expected = mdp.bellman_optimality_backup(Q, P, R, terminal, gamma)
    expect(got.shape == expected.shape,
           f"the backup returned shape {got.shape}; expected {expected.shape} (one value per state and action)."
           + (" That looks like V(s), not Q(s, a)." if got.shape == (Q.shape[0],) else ""),
           "Q'(s, a) keeps both axes: add R (S, A) to gamma * (P @ v) where v has shape (S,).")
    if not np.allclose(got, expected):
        best_next = np.where(terminal, 0.0, Q.max(axis=1))
        name_the_mistake(
            lambda value: value.shape == got.shape and np.allclose(got, value),
            {
                "it averages over next actions: that is the Bellman *expectation* backup of the uniform random "
                "policy. Hint: the optimality backup takes max_a' Q(s', a').":
                    R + gamma * P @ np.where(terminal, 0.0, Q.mean(axis=1)),
                "it bootstraps from terminal states. Hint: multiply max_a' Q(s', a') by (1 - terminal[s']): "
                "nothing follows the end of an episode.":
                    R + gamma * P @ Q.max(axis=1),
                "it returns R alone: the discounted value of the next state, gamma * sum_s' P(s'|s, a) v(s'), "
                "is missing. Hint: Q'(s, a) = R(s, a) + gamma * (P @ v)(s, a) with v(s') = (1 - terminal[s']) * "
                "max_a' Q(s', a').": R,
                "gamma is missing. Hint: Q'(s, a) = R(s, a) + gamma * sum_s' P(s'|s, a) max_a' Q(s', a').":
                    R + P @ best_next,
                "it follows only the most likely next state instead of weighting every s' by P(s'|s, a). "
                "Hint: use the expectation P @ v.":
                    R + gamma * best_next[P.argmax(axis=2)],
                "the terminal mask is applied to the current state s, not to the next state s'. Hint: zero "
                "max_a' Q(s', a') where terminal[s'], then take P @ v: Q'(s, a) of a terminal s still gets "
                "R + gamma * P @ v.":
                    R + gamma * (1 - terminal[:, None]) * (P @ Q.max(axis=1)),
                "the next-state values are lined up with the current state s (v[s], not v[s']): the sum over s' "
                "of P(s'|s, a) v(s) is just v(s). Hint: P @ v sums P(s'|s, a) * v(s') over the last axis, s'.":
                    R + gamma * best_next[:, None],
                "it takes one max over the whole of Q (Q.max() without an axis), the same v for every next state. "
                "Hint: max_a' Q(s', a') is a max per state, over the actions: Q.max(axis=1), shape (S,).":
                    R + gamma * P @ np.where(terminal, 0.0, np.full(Q.shape[0], Q.max())),
                "the max over actions starts from 0 (best = 0.0, or initial=0): a next state whose Q-values are all "
                "negative gets v(s') = 0 instead of its largest Q-value. Hint: start from the first action's Q-value "
                "or from -inf, or use Q.max(axis=1).":
                    R + gamma * P @ np.where(terminal, 0.0, np.maximum(Q.max(axis=1), 0.0)),
                "the max covers only actions 0 and 1 (CartPole has two; this MDP has more). Hint: Q.max(axis=1) "
                "takes the max over every action.":
                    R + gamma * P @ np.where(terminal, 0.0, np.maximum(Q[:, 0], Q[:, 1])),
                "the terminal mask zeroes the whole backup of terminal states s, R included, instead of v(s'). "
                "Hint: zero max_a' Q(s', a') where terminal[s'], then take R + gamma * P @ v.":
                    np.where(terminal[:, None], 0.0, R + gamma * P @ Q.max(axis=1)),
                "gamma discounts the immediate reward R too. Hint: Q'(s, a) = R(s, a) + gamma * (P @ v)(s, a): "
                "R is received now, undiscounted.":
                    gamma * (R + P @ best_next),
                "the terminal mask is inverted: terminal next states keep max_a' Q(s', a') and the others get 0. "
                "Hint: v(s') = 0 where terminal[s'], max_a' Q(s', a') elsewhere (np.where(terminal, 0.0, ...)).":
                    R + gamma * P @ np.where(terminal, Q.max(axis=1), 0.0),
                "P is contracted over its first axis (s) instead of its last (s'): the sum runs over the current "
                "states. Hint: P @ v (or np.einsum('sat,t->sa', P, v)) sums P(s'|s, a) v(s') over s'.":
                    R + gamma * np.einsum("sat,s->ta", P, best_next),
                "it bootstraps from argmax, an action index, instead of max, a value. Hint: v(s') = "
                "max_a' Q(s', a') is Q.max(axis=1), not Q.argmax(axis=1).":
                    R + gamma * P @ np.where(terminal, 0.0, Q.argmax(axis=1)),
                "it takes the max after the expectation, max_a' sum_s' P(s'|s, a) Q(s', a'), as if one next action "
                "had to be chosen before s' is known; the agent chooses after seeing s'. Hint: the max first, "
                "v(s') = max_a' Q(s', a') per next state, then the expectation P @ v.":
                    R + gamma * (P @ np.where(terminal[:, None], 0.0, Q)).max(axis=2),
            },
            f"the backup differs from R + gamma * P @ v by up to {np.max(np.abs(got - expected)):.3g}. "
            "Hint: v(s') = (1 - terminal[s']) * max_a' Q(s', a').",
            returned=f"on a random {Q.shape[0]}-state MDP your Q' is off: ",
        )
    length, corridor_gamma = inputs["corridor"]
    solved = plain_array(results.value("corridor"), "value iteration with your backup returned", "a NumPy array")
    wanted = corridor_gamma ** np.arange(length - 2, -1, -1)
    expect(solved.shape == (length, 2) and np.allclose(solved[:-1, 1], wanted),
           f"value iteration with your backup (gamma = {corridor_gamma}) gives Q(s, right) = "
           f"{np.round(solved[:-1, 1], 3) if solved.shape == (length, 2) else solved.shape} in a corridor of "
           f"{length} cells; expected {np.round(wanted, 3)} (gamma^(steps to the goal - 1)).")


def _square_mdp(inputs: dict) -> dict:
    """A 3-state, 3-action MDP drawn from the inputs' Q: one where a max over the wrong axis of Q runs."""
    seeded = np.random.default_rng(abs(int(inputs["Q"].sum() * 1e6)) % 2**32)
    return {"Q": seeded.normal(size=(3, 3)), "P": seeded.dirichlet(np.ones(3), size=(3, 3)),
            "R": seeded.normal(size=(3, 3)), "terminal": np.array([False, True, False]), "gamma": inputs["gamma"]}


def _backup_array(got, shape: tuple) -> np.ndarray:
    """What the backup returned, as a plain float NumPy array; a Mistake if it is anything else."""
    return plain_array(got, "the backup returned", f"a NumPy array of shape {shape}",
                       "work with NumPy arrays throughout (e.g. Q.max(axis=1), P @ v).", kinds="iuf")


def _short(sequence) -> str:
    """A list written compactly, e.g. [1.0]*50."""
    return f"[{sequence[0]}]*{len(sequence)}" if len(sequence) > 5 and len(set(sequence)) == 1 else repr(list(sequence))


check_bellman_backup = Check("1.2", "bellman_optimality_backup", backup_inputs, probe_backup, judge_backup,
                             references=("utils.mdp.bellman_optimality_backup",))
