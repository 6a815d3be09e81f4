"""Checks of notebook 1: right answers pass, typical mistakes are named."""
import numpy as np
import pytest

from utils import mdp
from utils.checks import CheckFailed, ExerciseNotDone, check_bellman_backup, check_discounted_return
from test_checks_core import AlwaysCloseArray, Anything, RegisteredReal, assert_graded, own_copy


def test_reference_answers_pass(capsys):
    check_discounted_return(own_copy(mdp.discounted_return))
    check_bellman_backup(own_copy(mdp.bellman_optimality_backup))
    assert capsys.readouterr().out.count("passed") == 2


def test_wrapping_the_course_functions_is_refused():
    with pytest.raises(CheckFailed, match="^Exercise 1.1 \\(discounted_return\\): your code calls the course's own "
                                          "`utils.mdp.discounted_return`; the exercise wants your own code"):
        check_discounted_return(lambda rewards, gamma: mdp.discounted_return(rewards, gamma))
    with pytest.raises(CheckFailed, match="calls the course's own `utils.mdp.bellman_optimality_backup`"):
        check_bellman_backup(lambda *args: mdp.bellman_optimality_backup(*args))


def test_the_course_functions_themselves_are_refused():
    with pytest.raises(CheckFailed, match="^Exercise 1.1 \\(discounted_return\\): you passed the course's own "
                                          "`utils.mdp.discounted_return`; the exercise wants your own code"):
        check_discounted_return(mdp.discounted_return)
    with pytest.raises(CheckFailed, match="course's own `utils.mdp.bellman_optimality_backup`"):
        check_bellman_backup(mdp.bellman_optimality_backup)


@pytest.mark.parametrize("wrong, words", [
    (lambda r, g: float(sum(r)), "not discounted"),
    (lambda r, g: sum(g ** (k + 1) * x for k, x in enumerate(r)), "first reward is discounted too"),
    (lambda r, g: sum(g ** k * x for k, x in enumerate(reversed(r))), "reverse order"),
    (lambda r, g: sum(g ** k * x for k, x in enumerate(r[:-1])), "last reward is missing"),
    (lambda r, g: [sum(g ** k * x for k, x in enumerate(r[t:])) for t in range(len(r))], "expected one number"),
    (lambda r, g: 4.807 if len(r) == 4 else 1.0, r"returned 1.0; expected 0.0000"),
    (lambda r, g: r[0] + g * r[1], "expected 4.8070"),
])
def test_discounted_return_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_discounted_return(wrong)


def test_discounted_return_crash_on_empty_list_is_reported():
    with pytest.raises(CheckFailed, match="IndexError"):
        check_discounted_return(lambda r, g: r[0] + sum(g ** k * x for k, x in enumerate(r[1:], 1)))


def greedy_values(Q, terminal):
    """max_a' Q(s', a') with terminal states zeroed."""
    return np.where(terminal, 0.0, Q.max(axis=1))


def modifies_input(Q, P, R, terminal, gamma):
    """Writes the answer into Q itself."""
    Q[:] = R + gamma * P @ greedy_values(Q, terminal)
    return Q


@pytest.mark.parametrize("wrong, words", [
    (lambda Q, P, R, T, g: R + g * P @ np.where(T, 0.0, Q.mean(axis=1)), "Bellman \\*expectation\\*"),
    (lambda Q, P, R, T, g: R + g * P @ Q.max(axis=1), "bootstraps from terminal states"),
    (lambda Q, P, R, T, g: R + P @ greedy_values(Q, T), "gamma is missing"),
    (lambda Q, P, R, T, g: R.copy(), "your Q' is off: it returns R alone: the discounted value of the next state"),
    (lambda Q, P, R, T, g: R + g * greedy_values(Q, T)[P.argmax(axis=2)], "most likely next state"),
    (lambda Q, P, R, T, g: (R + g * P @ greedy_values(Q, T)).max(axis=1), "looks like V\\(s\\)"),
    (lambda Q, P, R, T, g: (R + g * P @ greedy_values(Q, T)).tolist(), "expected a NumPy array"),
    (modifies_input, "changed the Q array"),
    (lambda Q, P, R, T, g: R + g * P @ greedy_values(Q, T) + 0.1, "differs from R \\+ gamma"),
])
def test_bellman_backup_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_bellman_backup(wrong)


def test_unfinished_backup_is_not_done():
    def stub(*args):
        raise NotImplementedError("Exercise 1.2: bellman_optimality_backup")

    with pytest.raises(ExerciseNotDone, match="not done yet"):
        check_bellman_backup(stub)


def test_corridor_values_are_the_known_answer():
    P, R, terminal = mdp.corridor_mdp(4)
    Q, _ = mdp.value_iteration(P, R, terminal, 0.9)
    assert np.allclose(Q[:3, 1], [0.9 ** 2, 0.9, 1.0]) and np.allclose(Q[:3, 0], [0.9 ** 3, 0.9 ** 3, 0.9 ** 2])


@pytest.mark.parametrize("rigged", [Anything, RegisteredReal])
def test_discounted_return_refuses_an_object_posing_as_a_number(rigged):
    with pytest.raises(CheckFailed, match=f"returned a Python {rigged.__name__}; expected one number \\(a Python "
                                          "float or a NumPy float\\)"):
        check_discounted_return(lambda r, g: rigged())


def test_discounted_return_accepts_numpy_and_int_answers(capsys):
    own = own_copy(mdp.discounted_return)
    check_discounted_return(lambda r, g: np.float64(own(r, g)))
    check_discounted_return(lambda r, g: sum(g ** k * x for k, x in enumerate(r)))  # sum([]) is the int 0
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("rigged, named", [
    (lambda Q, P, R, T, g: np.array([[Anything()] * Q.shape[1]] * Q.shape[0], dtype=object), "dtype object"),
    (lambda Q, P, R, T, g: np.zeros(Q.shape).view(AlwaysCloseArray), "a Python AlwaysCloseArray"),
])
def test_bellman_backup_refuses_rigged_arrays(rigged, named):
    with pytest.raises(CheckFailed, match=f"the backup returned .*{named}; expected a NumPy array of shape"):
        check_bellman_backup(rigged)


def reversed_in_place(rewards, gamma):
    """Right value, but reverses the caller's list."""
    rewards.reverse()
    total = 0.0
    for reward in rewards:
        total = reward + gamma * total
    return total


def popping_the_list(rewards, gamma):
    """Right value, but empties the caller's list with pop()."""
    total = 0.0
    while rewards:
        total = rewards.pop() + gamma * total
    return total


def from_the_last_reward(rewards, gamma):
    """Starts from rewards[-1]: an empty episode crashes."""
    total = rewards[-1]
    for reward in reversed(rewards[:-1]):
        total = reward + gamma * total
    return total


def from_the_first_reward(rewards, gamma):
    """Starts from rewards[0]: an empty episode crashes, another way."""
    total, power = rewards[0], 1.0
    for reward in rewards[1:]:
        power *= gamma
        total += power * reward
    return total


def right_return(rewards, gamma):
    """G_0 by the backward recursion."""
    total = 0.0
    for reward in reversed(rewards):
        total = reward + gamma * total
    return total


def right_return_by_powers(rewards, gamma):
    """G_0 as a dot product with the powers of gamma."""
    return float(np.dot(gamma ** np.arange(len(rewards)), np.asarray(rewards, dtype=float)))


SHARPER_RETURN_MISTAKES = [
    (reversed_in_place, "changed the list it was given"),
    (popping_the_list, "changed the list it was given"),
    (from_the_last_reward, "raised IndexError.*an episode can be empty.*G_0 = 0.0"),
    (from_the_first_reward, "raised IndexError.*an episode can be empty.*G_0 = 0.0"),
    (lambda r, g: int(right_return(r, g)), "cut to a whole number"),
    (lambda r, g: right_return(r, g) // 1, "cut to a whole number"),
    (lambda r, g: sum(g * x for x in r), "gamma is not compounded: every reward is weighted by gamma once"),
    (lambda r, g: r[0] + g * sum(r[1:]) if r else 0.0, "gamma is not compounded: every reward is weighted by gamma once"),
    (lambda r, g: right_return(r, 0.99), "return with gamma = 0.99, not the gamma"),
    (lambda r, g: float(np.dot(0.97 ** np.arange(len(r)), r)), "return with gamma = 0.97, not the gamma"),
    (lambda r, g: sum((g * k if k else 1.0) * x for k, x in enumerate(r)), "a product that grows with k"),
    (lambda r, g: sum(g * k * x for k, x in enumerate(r)), "a product that grows with k"),
]


@pytest.mark.parametrize("wrong, words", SHARPER_RETURN_MISTAKES)
def test_discounted_return_sharper_mistakes_are_named_in_the_notebook_and_when_graded(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_discounted_return(wrong)
    assert_graded(check_discounted_return, (wrong,), "failed", words.split(".*")[0], seeds=range(3))


@pytest.mark.parametrize("right", [right_return, right_return_by_powers])
def test_discounted_return_right_variants_pass_in_the_notebook_and_when_graded(right, capsys):
    check_discounted_return(right)
    assert "passed" in capsys.readouterr().out
    assert_graded(check_discounted_return, (right,), "passed", seeds=range(3))


def max_over_states(Q, P, R, T, g):
    """max over axis 0: one value per action, not per state."""
    return R + g * P @ np.where(T, 0.0, Q.max(axis=0))


def max_over_states_masked(Q, P, R, T, g):
    """The same slip written with a multiplicative mask and np.amax."""
    return R + g * (P @ (np.amax(Q, 0) * (1 - T)))


SHARPER_BACKUP_MISTAKES = [
    (lambda Q, P, R, T, g: R + g * (1 - T[:, None]) * (P @ Q.max(axis=1)), "mask is applied to the current state s"),
    (lambda Q, P, R, T, g: np.where(T[:, None], R, R + g * P @ Q.max(axis=1)), "mask is applied to the current state s"),
    (max_over_states, "max over axis 0, the states"),
    (max_over_states_masked, "max over axis 0, the states"),
    (lambda Q, P, R, T, g: R + g * (P * greedy_values(Q, T)[:, None, None]).sum(axis=2), "lined up with the current state s"),
    (lambda Q, P, R, T, g: R + g * np.einsum("sat,s->sa", P, greedy_values(Q, T)), "lined up with the current state s"),
    (lambda Q, P, R, T, g: g * (R + P @ greedy_values(Q, T)), "gamma discounts the immediate reward R too"),
    (lambda Q, P, R, T, g: g * R + g * P @ greedy_values(Q, T), "gamma discounts the immediate reward R too"),
    (lambda Q, P, R, T, g: R + g * P @ np.where(T, 0.0, Q.argmax(axis=1)), "argmax, an action index"),
    (lambda Q, P, R, T, g: R + g * P @ (np.argmax(Q, axis=1) * (1.0 - T)), "argmax, an action index"),
    (lambda Q, P, R, T, g: R + g * (P @ np.where(T[:, None], 0.0, Q)).max(axis=2),  # hidden set C
     "it takes the max after the expectation"),
    (lambda Q, P, R, T, g: R + g * P @ np.where(T, Q.max(axis=1), 0.0), "the terminal mask is inverted"),
    (lambda Q, P, R, T, g: R + g * P @ (Q.max(axis=1) * T), "the terminal mask is inverted"),
    (lambda Q, P, R, T, g: R + g * np.einsum("sat,s->ta", P, greedy_values(Q, T)), "P is contracted over its first axis"),
    (lambda Q, P, R, T, g: R + g * P.transpose(2, 1, 0) @ greedy_values(Q, T), "P is contracted over its first axis"),
    (lambda Q, P, R, T, g: R + g * P @ np.where(T, 0.0, Q.max()), "one max over the whole of Q"),
    (lambda Q, P, R, T, g: R + g * P @ np.where(T, 0.0, np.maximum(Q[:, 0], Q[:, 1])), "only actions 0 and 1"),
    (lambda Q, P, R, T, g: np.where(T[:, None], 0.0, R + g * P @ Q.max(axis=1)), "zeroes the whole backup of terminal "
                                                                                "states s, R included"),
    (lambda Q, P, R, T, g: R + g * P @ np.where(T[:, None], 0.0, Q.max(axis=1, keepdims=True)),
     "its arrays do not line up"),
    (lambda Q, P, R, T, g: R + g * (P * greedy_values(Q, T)).sum(axis=1), "its arrays do not line up"),
    # red team c: the max over actions starts from 0, so a state whose Q-values are all negative gets 0
    (lambda Q, P, R, T, g: R + g * P @ np.where(T, 0.0, np.max(Q, axis=1, initial=0.0)),
     "the max over actions starts from 0"),
]


@pytest.mark.parametrize("wrong, words", SHARPER_BACKUP_MISTAKES)
def test_bellman_backup_sharper_mistakes_are_named_in_the_notebook_and_when_graded(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_bellman_backup(wrong)
    assert_graded(check_bellman_backup, (wrong,), "failed", words, seeds=range(3))


def backup_by_loops(Q, P, R, T, g):
    """The backup written with explicit loops over s, a and s'."""
    out = np.zeros(Q.shape)
    for s in range(Q.shape[0]):
        for a in range(Q.shape[1]):
            out[s, a] = R[s, a] + g * sum(P[s, a, t] * max(Q[t]) for t in range(Q.shape[0]) if not T[t])
    return out


@pytest.mark.parametrize("right", [
    backup_by_loops,
    lambda Q, P, R, T, g: R + g * np.einsum("sat,t->sa", P, Q.max(axis=1) * (1.0 - T)),
])
def test_bellman_backup_right_variants_pass_in_the_notebook_and_when_graded(right, capsys):
    check_bellman_backup(right)
    assert "passed" in capsys.readouterr().out
    assert_graded(check_bellman_backup, (right,), "passed", seeds=range(3))
