"""Unit tests of utils.nstep: n-step transitions of whole episodes and of a stream of steps."""
import numpy as np
import pytest

from utils.nstep import NStepBuilder, NStepTransition, episode_n_step_transitions, n_step_return

GAMMA = 0.5
STATES = [np.full(4, t, dtype=np.float32) for t in range(5)]  # s_t = (t, t, t, t)
ACTIONS = [0, 1, 0, 1]
REWARDS = [1.0, 2.0, 3.0, 4.0]

# (R, bootstrap state index, discount) for each start t of the 4-step episode with n = 3:
# two full windows, then the windows cut by the episode's end (m = 2, then 1).
EXPECTED_N3 = [
    (1 + 0.5 * 2 + 0.25 * 3, 3, 0.125),
    (2 + 0.5 * 3 + 0.25 * 4, 4, 0.125),
    (3 + 0.5 * 4, 4, 0.25),
    (4.0, 4, 0.5),
]


def as_tuples(transitions):
    """(state[0], action, reward, next_state[0], terminated, discount) of each transition, for comparison."""
    return [(float(t.state[0]), t.action, t.reward, float(t.next_state[0]), bool(t.terminated), t.discount)
            for t in transitions]


def expected_tuples(terminated: bool):
    """EXPECTED_N3 as `as_tuples` gives it; only windows reaching the end carry the termination."""
    return [(float(t), ACTIONS[t], reward, float(boot), terminated and boot == 4, discount)
            for t, (reward, boot, discount) in enumerate(EXPECTED_N3)]


def stream(builder, terminated: bool):
    """Feed the hand-made episode step by step; return what each step completed."""
    completed = []
    for t in range(4):
        last = t == 3
        completed.append(builder.add(STATES[t], ACTIONS[t], REWARDS[t], STATES[t + 1],
                                     terminated and last, not terminated and last))
    return completed


@pytest.mark.parametrize("terminated", [True, False], ids=["terminated", "truncated"])
def test_episode_transitions_by_hand(terminated):
    transitions = episode_n_step_transitions(STATES, ACTIONS, REWARDS, terminated, n=3, gamma=GAMMA)
    assert all(isinstance(t, NStepTransition) for t in transitions)
    assert as_tuples(transitions) == expected_tuples(terminated)


@pytest.mark.parametrize("terminated", [True, False], ids=["terminated", "truncated"])
def test_builder_completes_each_start_when_its_window_closes(terminated):
    builder = NStepBuilder(3, GAMMA)
    completed = stream(builder, terminated)
    # Nothing for the first n - 1 steps, then start 0; the episode's end flushes starts 1 to 3.
    assert [len(c) for c in completed] == [0, 0, 1, 3]
    assert as_tuples(sum(completed, [])) == expected_tuples(terminated)
    assert len(builder) == 0


def test_builder_starts_afresh_after_an_episode_ends():
    builder = NStepBuilder(3, GAMMA)
    stream(builder, terminated=False)
    first = builder.add(STATES[0], 1, 5.0, STATES[1], True, False)
    assert as_tuples(first) == [(0.0, 1, 5.0, 1.0, True, 0.5)]


def test_episode_shorter_than_n():
    transitions = episode_n_step_transitions(STATES[:3], ACTIONS[:2], REWARDS[:2], True, n=5, gamma=GAMMA)
    assert as_tuples(transitions) == [(0.0, 0, 2.0, 2.0, True, 0.25), (1.0, 1, 2.0, 2.0, True, 0.5)]


@pytest.mark.parametrize("terminated", [True, False])
def test_n_equal_1_gives_the_one_step_transitions(terminated):
    transitions = episode_n_step_transitions(STATES, ACTIONS, REWARDS, terminated, n=1, gamma=GAMMA)
    one_step = [(float(t), ACTIONS[t], REWARDS[t], float(t + 1), terminated and t == 3, GAMMA) for t in range(4)]
    assert as_tuples(transitions) == one_step
    assert as_tuples(sum(stream(NStepBuilder(1, GAMMA), terminated), [])) == one_step


def test_builder_matches_the_whole_episode_function_on_random_episodes():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n, length, terminated = int(rng.integers(1, 6)), int(rng.integers(1, 12)), bool(rng.random() < 0.5)
        states = list(rng.normal(size=(length + 1, 4)).astype(np.float32))
        actions, rewards = list(rng.integers(2, size=length)), list(rng.normal(size=length))
        builder, online = NStepBuilder(n, 0.9), []
        for t in range(length):
            end = t == length - 1
            online += builder.add(states[t], actions[t], rewards[t], states[t + 1], terminated and end,
                                  not terminated and end)
        offline = episode_n_step_transitions(states, actions, rewards, terminated, n, 0.9)
        assert len(online) == len(offline) == length
        for a, b in zip(online, offline):
            assert np.array_equal(a.state, b.state) and np.array_equal(a.next_state, b.next_state)
            assert (a.action, a.terminated, a.discount) == (b.action, b.terminated, b.discount)
            assert a.reward == pytest.approx(b.reward)


def test_builder_copies_states_an_environment_might_reuse():
    builder, observation = NStepBuilder(2, GAMMA), np.zeros(4, dtype=np.float32)
    builder.add(observation, 0, 1.0, observation, False, False)
    observation[:] = 7.0  # an environment writing the next observation into the same array
    (transition,) = builder.add(observation, 0, 1.0, observation, False, False)
    assert transition.state.tolist() == [0.0] * 4


def test_n_step_return():
    assert n_step_return([1.0, 2.0, 4.0], 0.5) == 1.0 + 1.0 + 1.0
    assert n_step_return([], 0.5) == 0


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="n must be a positive integer"):
        NStepBuilder(0, 0.9)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\]"):
        NStepBuilder(3, 1.5)
    with pytest.raises(ValueError, match="needs 4 actions and 5 states"):
        episode_n_step_transitions(STATES[:4], ACTIONS, REWARDS, True, 3, GAMMA)
