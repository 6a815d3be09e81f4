"""Prioritized experience replay, proportional variant (Schaul et al., 2016, "Prioritized Experience Replay").

Transition i is sampled with probability P(i) = p_i / Σ_k p_k, where p_i = (|δ_i| + ε)^α and
δ_i is its last TD error (section 3.3). The bias this non-uniform sampling brings into the
updates is corrected by importance-sampling weights w_i = (N · P(i))^(−β), with β annealed
to 1 over training (section 3.4). A `SumTree` makes sampling and updating O(log N).
"""
from typing import NamedTuple

import numpy as np
import torch

from utils.replay import DiscountedReplayMemory, require_positive_int


class SumTree:
    """Non-negative priorities of `capacity` slots in a binary tree whose every node holds the sum of its children.

    The tree lives in one array laid out as a binary heap: node 1 is the root, node k has
    children 2k and 2k + 1, and slot j's priority is the leaf `leaf_offset + j`, where
    `leaf_offset` is the smallest power of two ≥ capacity (unused leaves stay 0). Updating
    a slot and finding the slot of a prefix sum each walk one root-to-leaf path: `depth`
    levels, O(log capacity). Both are vectorised with NumPy over a batch of slots.
    """

    def __init__(self, capacity: int):
        """A tree of `capacity` slots, all of priority 0."""
        require_positive_int("capacity", capacity)
        self.capacity = capacity
        self.leaf_offset = 1 << (capacity - 1).bit_length()
        self.depth = self.leaf_offset.bit_length() - 1
        self.nodes = np.zeros(2 * self.leaf_offset)

    @property
    def total(self) -> float:
        """Sum of all priorities (the root)."""
        return float(self.nodes[1])

    def priorities(self, slots) -> np.ndarray:
        """The priorities of `slots` (an array of slot numbers)."""
        return self.nodes[self._leaves(slots)]

    def update(self, slots, priorities) -> None:
        """Set the priorities of `slots` and recompute their ancestors, one level per step, all slots at once.

        A slot listed twice keeps its last priority. Each parent is recomputed as the sum of
        its two children rather than shifted by a difference, so rounding errors never
        accumulate over millions of updates.
        """
        nodes = self._leaves(slots)
        priorities = np.asarray(priorities, dtype=float)
        if priorities.shape != nodes.shape or not np.all((priorities >= 0) & np.isfinite(priorities)):
            raise ValueError(f"priorities must be {nodes.shape[0]} finite non-negative numbers, one per slot")
        self.nodes[nodes] = priorities
        for _ in range(self.depth):
            nodes = nodes >> 1
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]

    def set(self, slot: int, priority: float) -> None:
        """Set one slot's priority: `update` for a single slot, walking the path in plain Python.

        Each NumPy call costs about a microsecond whatever its size, so for one slot (a
        replay memory's push, every environment step) a Python walk is ~10x faster.
        """
        if not 0 <= slot < self.capacity or not 0.0 <= priority < np.inf:
            raise ValueError(f"need 0 ≤ slot < {self.capacity} and a finite priority ≥ 0, got {slot!r}, {priority!r}")
        node = slot + self.leaf_offset
        self.nodes[node] = priority
        while node > 1:
            node >>= 1
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]

    def find(self, values) -> np.ndarray:
        """For each value v in [0, total), the slot j where the running sum of priorities first exceeds v.

        That is j with Σ_{k<j} p_k ≤ v < Σ_{k≤j} p_k, so a uniform v picks slot j with
        probability p_j / total. Descends from the root: left if v is below the left
        child's sum, else right with v reduced by it. A zero-priority slot is never
        returned, even when rounding puts v at the very end of a subtree.
        """
        values = np.array(values, dtype=float)
        if self.total <= 0:
            raise ValueError("cannot search a tree whose priorities are all 0")
        nodes = np.ones(values.shape, dtype=np.int64)
        for _ in range(self.depth):
            left = 2 * nodes
            left_sums = self.nodes[left]
            go_right = (values >= left_sums) & (self.nodes[left + 1] > 0)
            values = np.where(go_right, values - left_sums, values)
            nodes = left + go_right
        return nodes - self.leaf_offset

    def _leaves(self, slots) -> np.ndarray:
        """The leaf nodes of `slots`, after checking every slot is in [0, capacity)."""
        slots = np.asarray(slots, dtype=np.int64)
        if slots.ndim != 1 or np.any((slots < 0) | (slots >= self.capacity)):
            raise ValueError(f"slots must be a 1-D array of integers in [0, {self.capacity})")
        return slots + self.leaf_offset


class PrioritizedBatch(NamedTuple):
    """A minibatch drawn by priority: the transitions, their importance-sampling weights and their slots."""

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
    weights: torch.Tensor
    """(B,) float32: importance-sampling weights in (0, 1], the largest of the batch being 1."""
    indices: torch.Tensor
    """(B,) int64: the memory slots sampled, to pass back to `update_priorities` with their TD errors."""


def priorities_from_td_errors(td_errors, alpha: float, eps: float) -> np.ndarray:
    """p = (|δ| + ε)^α (Schaul et al., 2016, §3.3): ε > 0 keeps every transition sampleable, α = 0 is uniform."""
    return (np.abs(np.asarray(td_errors, dtype=float)) + eps) ** alpha


def importance_weights(probabilities, size: int, beta: float) -> np.ndarray:
    """w = (N · P)^(−β) divided by its largest value in the batch (Schaul et al., 2016, §3.4).

    Dividing by the max keeps every weight ≤ 1, so the weights only ever scale updates
    down. The paper's wording leaves open the max over what; the batch's max is used
    here (cheap, no second tree for the minimum priority), at the price of a
    normalisation that varies a little from batch to batch.
    """
    weights = (size * np.asarray(probabilities, dtype=float)) ** -beta
    return weights / weights.max()


def annealed_beta(step: int, beta_start: float, total_steps: int) -> float:
    """β after `step` steps: linear from `beta_start` to 1 over `total_steps`, then 1 (Schaul et al., 2016, §3.4).

    The correction matters most at the end of training, when the updates should be unbiased.
    """
    return beta_start + (1.0 - beta_start) * min(step / total_steps, 1.0)


def stratified_values(total: float, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """One uniform draw in each of `batch_size` equal segments of [0, total) (Schaul et al., 2016, appendix B.2.1).

    Compared with independent draws, stratifying spreads a batch over the whole range of
    priorities, so one batch rarely holds many copies of the same high-priority transition.
    """
    return (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)


class PrioritizedReplayMemory(DiscountedReplayMemory):
    """A replay memory sampled in proportion to priorities (|δ| + ε)^α, with importance-sampling weights.

    New transitions get the largest priority seen so far (1 before any update), so each
    is likely to be replayed soon (Schaul et al., 2016, algorithm 1); after each gradient step, `update_priorities` replaces the priorities of the
    sampled transitions by those of their new TD errors. Sampling draws from `rng` (seeded
    by `seed`), not torch's global RNG, so a run is reproducible.
    """

    def __init__(self, capacity: int, obs_dim: int = 4, alpha: float = 0.6, eps: float = 1e-6, seed=None):
        """Room for `capacity` transitions; `seed` is anything np.random.default_rng takes."""
        super().__init__(capacity, obs_dim)
        if not alpha >= 0:
            raise ValueError(f"alpha must be ≥ 0, got {alpha!r}")
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.alpha = alpha
        self.eps = eps
        self.tree = SumTree(capacity)
        self.max_priority = 1.0
        self.rng = np.random.default_rng(seed)

    def push(self, state, action: int, reward: float, next_state, terminated: bool, discount: float) -> None:
        """Store one transition with the largest priority seen so far, overwriting the oldest when full."""
        self.tree.set(self.position, self.max_priority)
        super().push(state, action, reward, next_state, terminated, discount)

    def sample(self, batch_size: int, beta: float) -> PrioritizedBatch:
        """`batch_size` transitions drawn by priority (stratified, so a slot may come twice), with weights for `beta`."""
        self._require_sample_size(batch_size)
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta!r}")
        total = self.tree.total
        slots = self.tree.find(stratified_values(total, batch_size, self.rng))
        weights = importance_weights(self.tree.priorities(slots) / total, self.size, beta)
        index = torch.from_numpy(slots)
        return PrioritizedBatch(*self._rows(index), torch.from_numpy(weights.astype(np.float32)), index)

    def update_priorities(self, indices, td_errors) -> None:
        """Give the transitions at `indices` the priorities (|δ| + ε)^α of their TD errors `td_errors`."""
        indices = np.asarray(indices, dtype=np.int64)
        if np.any(indices >= self.size):
            raise ValueError(f"indices must be slots of stored transitions (< {self.size})")
        priorities = priorities_from_td_errors(td_errors, self.alpha, self.eps)
        if not np.all(np.isfinite(priorities)):
            raise ValueError("td_errors must be finite (a NaN or inf TD error means training diverged)")
        self.tree.update(indices, priorities)
        self.max_priority = max(self.max_priority, float(priorities.max()))
