"""n-step returns: turning one-step transitions into m-step ones, m = n except near an episode's end.

The n-step target (Sutton & Barto, 2018, §7.1; in DQN: Hessel et al., 2018, "Rainbow") is
    y_t = R_t + γ^m (1 − terminated) max_a Q(s_{t+m}, a),   R_t = Σ_{k<m} γ^k r_{t+k},
with m = n, or fewer steps when the episode ends inside the window. Rewards reach the
values n times faster than with one-step targets, at the price of the off-policy bias of
the ε-greedy steps inside the window (no correction here, as in Rainbow).
"""
import collections
from typing import NamedTuple

import numpy as np

from utils.replay import require_positive_int


class NStepTransition(NamedTuple):
    """One m-step transition; the fields are in the order of `DiscountedReplayMemory.push`'s arguments."""

    state: np.ndarray
    """s_t: the state the first action was taken in."""
    action: int
    """a_t: the first action."""
    reward: float
    """R_t = Σ_{k<m} γ^k r_{t+k}: the discounted sum of the m rewards."""
    next_state: np.ndarray
    """s_{t+m}: the state to bootstrap from."""
    terminated: bool
    """True when the episode terminated at s_{t+m} (then there is nothing to bootstrap)."""
    discount: float
    """γ^m: the factor of the bootstrapped value Q(s_{t+m}, ·)."""


def n_step_return(rewards, gamma: float) -> float:
    """Σ_k γ^k r_k over `rewards`, the first reward undiscounted."""
    return sum(gamma ** k * float(reward) for k, reward in enumerate(rewards))


def episode_n_step_transitions(states, actions, rewards, terminated: bool, n: int,
                               gamma: float) -> list:
    """The n-step transitions of one whole episode s_0, a_0, r_0, …, r_{T-1}, s_T, one per start t < T.

    `states` has T + 1 entries (the last one is where the episode ended), `actions` and
    `rewards` T; `terminated` says how it ended: True by termination, False by truncation
    (time limit), in which case the last transitions bootstrap from s_T.
    """
    _require_n_and_gamma(n, gamma)
    length = len(rewards)
    if len(actions) != length or len(states) != length + 1:
        raise ValueError(f"an episode of {length} rewards needs {length} actions and {length + 1} states "
                         f"(the last is where it ended), got {len(actions)} and {len(states)}")
    transitions = []
    for t in range(length):
        steps = min(n, length - t)
        transitions.append(NStepTransition(states[t], actions[t], n_step_return(rewards[t:t + steps], gamma),
                                           states[t + steps], terminated and t + steps == length,
                                           gamma ** steps))
    return transitions


class NStepBuilder:
    """Turns the stream of one-step transitions of a training loop into n-step transitions, online.

    `add` takes each environment step as it happens and returns the n-step transitions it
    completes: none during an episode's first n − 1 steps, then one per step (the start
    n − 1 steps back), and at an episode's end every start still pending, each with the
    steps it has left (m < n). The result matches `episode_n_step_transitions`.
    """

    def __init__(self, n: int, gamma: float):
        """Build n-step transitions with discount `gamma`; nothing is pending yet."""
        _require_n_and_gamma(n, gamma)
        self.n = n
        self.gamma = gamma
        self._pending = collections.deque()

    def add(self, state, action: int, reward: float, next_state, terminated: bool, truncated: bool) -> list:
        """Take one environment step; return the `NStepTransition`s it completes, oldest start first."""
        # Copies: an environment may reuse its observation array from one step to the next.
        self._pending.append((np.array(state, dtype=np.float32), action, reward))
        next_state = np.array(next_state, dtype=np.float32)
        completed = []
        if len(self._pending) == self.n:
            completed.append(self._complete_oldest(next_state, terminated))
        if terminated or truncated:
            # The next step starts a new episode: every pending window ends here.
            while self._pending:
                completed.append(self._complete_oldest(next_state, terminated))
        return completed

    def __len__(self) -> int:
        """Number of starts waiting for more steps (fewer than n)."""
        return len(self._pending)

    def _complete_oldest(self, next_state, terminated: bool) -> NStepTransition:
        """The oldest pending start's transition, bootstrapping from `next_state` after every pending step."""
        steps = len(self._pending)
        discounted_return = n_step_return((reward for _, _, reward in self._pending), self.gamma)
        state, action, _ = self._pending.popleft()
        return NStepTransition(state, action, discounted_return, next_state, terminated, self.gamma ** steps)


def _require_n_and_gamma(n: int, gamma: float) -> None:
    """Raise a ValueError unless n is a positive integer and gamma a discount in [0, 1]."""
    require_positive_int("n", n)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
