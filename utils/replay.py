"""Experience replay: a preallocated ring buffer of transitions, sampled uniformly.

`ReplayMemory` stores one-step transitions; `DiscountedReplayMemory` also stores each
transition's bootstrap discount, which n-step returns need (utils.nstep).
"""
from typing import NamedTuple

import numpy as np
import torch


class Batch(NamedTuple):
    """A minibatch of transitions, one row per transition."""

    states: torch.Tensor
    """(B, obs_dim) float32: the states the actions were taken in."""
    actions: torch.Tensor
    """(B,) int64: the actions taken."""
    rewards: torch.Tensor
    """(B,) float32: the rewards received."""
    next_states: torch.Tensor
    """(B, obs_dim) float32: the states the environment moved to."""
    terminated: torch.Tensor
    """(B,) float32: 1.0 where the episode terminated at next_state (truncation is not termination)."""


class DiscountedBatch(NamedTuple):
    """A minibatch of transitions that each carry their own bootstrap discount (n-step returns)."""

    states: torch.Tensor
    """(B, obs_dim) float32: the states the actions were taken in."""
    actions: torch.Tensor
    """(B,) int64: the actions taken."""
    rewards: torch.Tensor
    """(B,) float32: the (discounted sums of) rewards received."""
    next_states: torch.Tensor
    """(B, obs_dim) float32: the states to bootstrap from."""
    terminated: torch.Tensor
    """(B,) float32: 1.0 where the episode terminated at next_state (truncation is not termination)."""
    discounts: torch.Tensor
    """(B,) float32: the factor γ^m of the bootstrapped value, m being the transition's number of steps."""


class ReplayMemory:
    """A fixed-capacity ring buffer of transitions; the oldest is overwritten when full."""

    def __init__(self, capacity: int, obs_dim: int = 4):
        """Preallocate room for `capacity` transitions with states of length `obs_dim`."""
        require_positive_int("capacity", capacity)
        require_positive_int("obs_dim", obs_dim)
        self.capacity = capacity
        self.obs_dim = obs_dim
        self.states = torch.zeros((capacity, obs_dim), dtype=torch.float32)
        self.actions = torch.zeros(capacity, dtype=torch.int64)
        self.rewards = torch.zeros(capacity, dtype=torch.float32)
        self.next_states = torch.zeros((capacity, obs_dim), dtype=torch.float32)
        self.terminated = torch.zeros(capacity, dtype=torch.float32)
        # push() writes through NumPy views of the same memory: assigning into a torch
        # tensor costs a few microseconds per call, a NumPy view a fraction of one.
        self._columns = [t.numpy() for t in self._tensors()]
        self.position = 0
        self.size = 0

    def push(self, state, action: int, reward: float, next_state, terminated: bool) -> None:
        """Store one transition, overwriting the oldest when the memory is full."""
        states, actions, rewards, next_states, terminals = self._columns
        i = self.position
        states[i] = state
        actions[i] = action
        rewards[i] = reward
        next_states[i] = next_state
        terminals[i] = terminated
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        """Return `batch_size` distinct transitions drawn uniformly (torch's global RNG)."""
        return self._rows(self.sample_slots(batch_size))

    def sample_slots(self, batch_size: int) -> torch.Tensor:
        """The slots of the transitions `sample(batch_size)` returns, drawn as it draws them."""
        self._require_sample_size(batch_size)
        return _distinct_indices(self.size, batch_size)

    def storage(self) -> dict:
        """The storage tensors by field name (the names of `DiscountedBatch`'s fields)."""
        return dict(zip(Batch._fields, self._tensors()))

    def use_storage(self, storage: dict) -> None:
        """Keep the transitions in `storage` (tensors shaped as `storage()`'s, e.g. slices of a stacked one) from now on."""
        for name, tensor in storage.items():
            tensor.copy_(getattr(self, name))
            setattr(self, name, tensor)
        self._columns = [t.numpy() for t in self._tensors()]

    def __len__(self) -> int:
        """Number of transitions stored (at most `capacity`)."""
        return self.size

    def _tensors(self) -> tuple:
        """The five storage tensors, in `Batch` field order."""
        return self.states, self.actions, self.rewards, self.next_states, self.terminated

    def _require_sample_size(self, batch_size: int) -> None:
        """Raise a ValueError unless `batch_size` is a positive integer no larger than the memory."""
        require_positive_int("batch_size", batch_size)
        if batch_size > self.size:
            raise ValueError(
                f"cannot sample {batch_size} transitions: the memory holds only {self.size}; "
                "push more transitions first (or sample a smaller batch)"
            )

    def _rows(self, index: torch.Tensor) -> Batch:
        """The transitions stored at `index` (an int64 tensor of slots), as a `Batch`."""
        return Batch(*(t[index] for t in self._tensors()))


class DiscountedReplayMemory(ReplayMemory):
    """A ReplayMemory that also stores each transition's bootstrap discount γ^m; it samples `DiscountedBatch`es.

    An m-step transition (utils.nstep) bootstraps with γ^m, and m varies near episode
    ends, so the discount is stored with the transition rather than read from the config.
    """

    def __init__(self, capacity: int, obs_dim: int = 4):
        """Preallocate room for `capacity` transitions and their discounts."""
        super().__init__(capacity, obs_dim)
        self.discounts = torch.zeros(capacity, dtype=torch.float32)
        self._discount_column = self.discounts.numpy()

    def storage(self) -> dict:
        """The storage tensors by field name, the discounts included."""
        return {**super().storage(), "discounts": self.discounts}

    def use_storage(self, storage: dict) -> None:
        """Keep the transitions and their discounts in `storage` from now on."""
        super().use_storage(storage)
        self._discount_column = self.discounts.numpy()

    def push(self, state, action: int, reward: float, next_state, terminated: bool, discount: float) -> None:
        """Store one transition and its bootstrap discount, overwriting the oldest when full."""
        self._discount_column[self.position] = discount
        super().push(state, action, reward, next_state, terminated)

    def _rows(self, index: torch.Tensor) -> DiscountedBatch:
        """The transitions stored at `index`, with their discounts, as a `DiscountedBatch`."""
        return DiscountedBatch(*super()._rows(index), self.discounts[index])


def _distinct_indices(n: int, k: int) -> torch.Tensor:
    """`k` distinct integers drawn uniformly from range(n) with torch's global RNG."""
    if n < k * k:
        return torch.randperm(n)[:k]
    # randperm costs O(n); for n >= k² a draw of k has repeats less than half the time,
    # and redrawing the whole batch until it has none still gives every k-subset the
    # same probability.
    while True:
        index = torch.randint(n, (k,))
        if torch.unique(index).numel() == k:
            return index


def require_positive_int(name: str, value) -> None:
    """Raise a ValueError unless `value` is a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def fill_with_random_agent(memory: ReplayMemory, env, n_steps: int) -> ReplayMemory:
    """Push `n_steps` transitions of a uniformly random agent playing `env`; return `memory`."""
    state, _ = env.reset()
    for _ in range(n_steps):
        action = int(env.action_space.sample())
        next_state, reward, terminated, truncated, _ = env.step(action)
        memory.push(state, action, reward, next_state, terminated)
        state = env.reset()[0] if terminated or truncated else next_state
    return memory
