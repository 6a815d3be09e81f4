"""Checks for notebook 1: discounted return and the Bellman optimality backup."""
import numpy as np

from utils import mdp
from utils.checks.core import exercise, expect, name_the_mistake, plain_array, plain_number

REWARDS = [1.0, 0.0, 2.0, 3.0]
GAMMA = 0.9
ONE_NUMBER = "one number (a Python float or a NumPy float)"


@exercise("1.1", "discounted_return")
def check_discounted_return(discounted_return) -> None:
    """Compare `discounted_return(rewards, gamma)` with G_0 on sequences that expose typical slips."""
    got = plain_number(discounted_return(list(REWARDS), GAMMA), f"discounted_return({REWARDS}, {GAMMA}) returned",
                       ONE_NUMBER, "return the return G_0 of the whole sequence, not the list of returns from every step.")
    expected = mdp.discounted_return(REWARDS, GAMMA)
    if not np.isclose(got, expected):
        n = len(REWARDS)
        name_the_mistake(
            lambda value: np.isclose(got, value),
            {
                "the rewards are not discounted (that is the plain sum). Hint: multiply r_k by gamma**k.":
                    sum(REWARDS),
                "the first reward is discounted too (gamma**(k+1) instead of gamma**k). Hint: r_0 is received now, undiscounted.":
                    GAMMA * expected,
                "the discounts are applied in reverse order (the last reward gets gamma**0). Hint: r_0 gets gamma**0.":
                    sum(GAMMA**k * r for k, r in enumerate(reversed(REWARDS))),
                "the last reward is missing. Hint: loop over all len(rewards) rewards.":
                    mdp.discounted_return(REWARDS[:-1], GAMMA),
                "the exponent is off at the end: gamma**(n-1-k) weights. Hint: G_0 = sum_k gamma**k * r_k.":
                    sum(GAMMA ** (n - 1 - k) * r for k, r in enumerate(REWARDS)),
            },
            f"discounted_return({REWARDS}, {GAMMA}) returned {got!r}; expected {expected:.4f} "
            "= 1 + 0.9*0 + 0.81*2 + 0.729*3. Hint: G_0 = sum_k gamma**k * r_k.",
            returned=f"discounted_return({REWARDS}, {GAMMA}) returned {got:.4f}, expected {expected:.4f}: ",
        )
    for rewards, gamma in (([], 0.9), ([5.0], 0.5), ([1.0, 1.0, 1.0], 0.0), ([1.0] * 50, 0.99)):
        call = f"discounted_return({_short(rewards)}, {gamma})"
        got = plain_number(discounted_return(list(rewards), gamma), f"{call} returned", ONE_NUMBER, "return float(...).")
        expected = mdp.discounted_return(rewards, gamma)
        expect(
            np.isclose(got, expected),
            f"{call} returned {got!r}; expected {expected:.4f}.",
            "an empty sequence has return 0.0, and gamma = 0 keeps only the first reward.",
        )


@exercise("1.2", "bellman_optimality_backup")
def check_bellman_backup(backup) -> None:
    """Compare one backup with the reference on a random stochastic MDP, naming the usual slips."""
    P, R, terminal, Q, gamma = _random_mdp()
    given = Q.copy()
    got = backup(Q, P, R, terminal, gamma)
    expect(np.array_equal(Q, given), "your backup changed the Q array it was given.",
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
            },
            f"the backup differs from R + gamma * P @ v by up to {np.max(np.abs(got - expected)):.3g}. "
            "Hint: v(s') = (1 - terminal[s']) * max_a' Q(s', a').",
            returned="on a random 5-state MDP your Q' is off: ",
        )
    P, R, terminal = mdp.corridor_mdp(4)
    solved, _ = mdp.value_iteration(P, R, terminal, 0.9, backup=lambda *args: _backup_array(backup(*args), R.shape),
                                    max_sweeps=200)
    expect(np.allclose(solved[:3, 1], [0.81, 0.9, 1.0]),
           f"value iteration with your backup gives Q(s, right) = {np.round(solved[:3, 1], 3)} in the corridor; "
           "expected [0.81, 0.9, 1.0] (gamma^(steps to the goal - 1)).")


def _backup_array(got, shape: tuple) -> np.ndarray:
    """What the backup returned, as a plain float NumPy array; a Mistake if it is anything else."""
    return plain_array(got, "the backup returned", f"a NumPy array of shape {shape}",
                       "work with NumPy arrays throughout (e.g. Q.max(axis=1), P @ v).", kinds="iuf")


def _random_mdp(states: int = 5, actions: int = 3, seed: int = 0):
    """A small random MDP with two terminal states and a Q whose terminal rows are not zero."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(states), size=(states, actions))
    R = rng.normal(size=(states, actions))
    terminal = np.zeros(states, dtype=bool)
    terminal[[1, 4]] = True
    Q = rng.normal(size=(states, actions))
    return P, R, terminal, Q, 0.8


def _short(sequence) -> str:
    """A list written compactly, e.g. [1.0]*50."""
    return f"[{sequence[0]}]*{len(sequence)}" if len(sequence) > 5 and len(set(sequence)) == 1 else repr(list(sequence))
