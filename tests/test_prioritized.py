"""Unit tests of utils.prioritized: the sum-tree and the prioritized replay memory."""
import numpy as np
import pytest
import torch

from utils.prioritized import (PrioritizedBatch, PrioritizedReplayMemory, SumTree, annealed_beta,
                               importance_weights, priorities_from_td_errors, stratified_values)


def random_tree(capacity=1000, seed=0):
    """A tree over random priorities, a tenth of them 0; returns (tree, priorities)."""
    rng = np.random.default_rng(seed)
    priorities = rng.random(capacity) * (rng.random(capacity) > 0.1)
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), priorities)
    return tree, priorities


def brute_force_find(priorities, values):
    """The slot whose running sum first exceeds each value: the definition `SumTree.find` implements."""
    return np.searchsorted(np.cumsum(priorities), values, side="right")


def filled_memory(n, capacity=None, alpha=0.6, seed=0):
    """A prioritized memory holding transitions 0..n-1, transition i with state (i, i, i, i) and reward i."""
    memory = PrioritizedReplayMemory(capacity or n, alpha=alpha, seed=seed)
    for i in range(n):
        memory.push(np.full(4, i, dtype=np.float32), i % 2, float(i), np.full(4, i + 1), i % 3 == 0, 0.9)
    return memory


# --- SumTree ------------------------------------------------------------------------------

@pytest.mark.parametrize("capacity", [1, 5, 1000, 1024])
def test_total_and_find_match_a_brute_force_cumsum(capacity):
    tree, priorities = random_tree(capacity, seed=capacity)
    priorities[0] = max(priorities[0], 0.5)  # at least one positive priority, also for capacity 1
    tree.update([0], priorities[:1])
    assert tree.total == pytest.approx(priorities.sum())
    values = np.random.default_rng(1).random(500) * priorities.sum()
    assert np.array_equal(tree.find(values), brute_force_find(priorities, values))


def test_every_internal_node_is_the_sum_of_its_children():
    tree, _ = random_tree(300)
    parents = np.arange(1, tree.leaf_offset)
    assert np.array_equal(tree.nodes[parents], tree.nodes[2 * parents] + tree.nodes[2 * parents + 1])


def test_updates_change_totals_and_search():
    tree, priorities = random_tree()
    slots = np.array([3, 500, 999, 3])  # slot 3 twice: its last priority counts
    new = np.array([5.0, 0.0, 2.5, 7.0])
    tree.update(slots, new)
    priorities[slots] = new
    assert priorities[3] == 7.0 and tree.priorities([3, 500]).tolist() == [7.0, 0.0]
    assert tree.total == pytest.approx(priorities.sum())
    values = np.random.default_rng(2).random(500) * priorities.sum()
    assert np.array_equal(tree.find(values), brute_force_find(priorities, values))


def test_set_is_update_of_one_slot():
    tree, _ = random_tree()
    other, _ = random_tree()
    tree.set(123, 4.5)
    other.update([123], [4.5])
    assert np.array_equal(tree.nodes, other.nodes)


def test_find_never_returns_a_zero_priority_slot():
    tree = SumTree(5)
    tree.update(np.arange(5), [1.0, 0.0, 2.0, 0.0, 0.0])
    values = [0.0, 0.999, 1.0, 2.999, np.nextafter(3.0, 0), 3.0, 3.5]  # up to and past the total
    assert tree.find(values).tolist() == [0, 0, 2, 2, 2, 2, 2]


def test_bad_tree_arguments_are_rejected():
    tree = SumTree(4)
    with pytest.raises(ValueError, match="slots must be"):
        tree.update([4], [1.0])
    with pytest.raises(ValueError, match="finite non-negative"):
        tree.update([0, 1], [1.0, -1.0])
    with pytest.raises(ValueError, match="all 0"):
        tree.find([0.0])
    with pytest.raises(ValueError, match="finite priority"):
        tree.set(0, np.nan)


class CountingArray(np.ndarray):
    """An ndarray that counts how many elements are read from it by indexing."""

    reads = 0

    def __getitem__(self, key):
        """Read as usual; count the elements returned, handed back as a plain ndarray."""
        result = np.asarray(super().__getitem__(key))
        CountingArray.reads += result.size
        return result.view(np.ndarray) if result.ndim else result[()]


def reads_per_operation(capacity: int) -> dict:
    """Tree elements read by one update (1 slot and 8), one set and one search (1 value and 8)."""
    tree, _ = random_tree(capacity)
    tree.nodes = tree.nodes.view(CountingArray)
    operations = {
        "update 1": lambda: tree.update([capacity // 3], [0.5]),
        "update 8": lambda: tree.update(np.arange(8) * (capacity // 8), np.ones(8)),
        "set": lambda: tree.set(capacity // 2, 0.25),
        "find 1": lambda: tree.find([tree.total / 2]),
        "find 8": lambda: tree.find(np.linspace(0, tree.total, 8, endpoint=False)),
    }
    reads = {}
    for name, operation in operations.items():
        CountingArray.reads = 0
        operation()
        reads[name] = CountingArray.reads
    return reads


def test_tree_operations_read_a_logarithmic_number_of_nodes():
    capacities = [2 ** k for k in (6, 10, 14, 18)]
    reads = {capacity: reads_per_operation(capacity) for capacity in capacities}
    for name in reads[capacities[0]]:
        per_level = [reads[c][name] / np.log2(c) for c in capacities]
        # Proportional to the depth log2(N): 12x more levels from 2^6 to 2^18 slots, 4096x more slots.
        assert max(per_level) <= 1.3 * min(per_level), (name, [reads[c][name] for c in capacities])
        assert reads[capacities[-1]][name] < 100 * 8 * np.log2(capacities[-1]), name


# --- The prioritized memory ---------------------------------------------------------------

def test_new_transitions_get_the_largest_priority_seen():
    memory = filled_memory(3, capacity=10)
    assert memory.tree.priorities([0, 1, 2]).tolist() == [1.0] * 3
    memory.update_priorities([1], [8.0])
    biggest = (8.0 + memory.eps) ** 0.6
    memory.update_priorities([1], [0.0])  # the maximum is the largest seen, not the current one
    memory.push(np.zeros(4), 0, 0.0, np.zeros(4), False, 0.9)
    assert memory.max_priority == pytest.approx(biggest) and memory.tree.priorities([3])[0] == pytest.approx(biggest)


def test_update_priorities_sets_the_alpha_powered_priorities_and_moves_the_samples():
    memory = filled_memory(50, alpha=0.5)
    errors = np.full(50, 0.01)
    errors[7] = 100.0
    memory.update_priorities(np.arange(50), errors)
    expected = (np.abs(errors) + memory.eps) ** 0.5
    assert np.allclose(memory.tree.priorities(np.arange(50)), expected)
    # Slot 7 holds 10 / (10 + 49 · 0.1) ≈ 67% of the total priority.
    sampled = torch.cat([memory.sample(16, beta=0.4).indices for _ in range(100)])
    assert (sampled == 7).float().mean() == pytest.approx(10 / 14.9, abs=0.05)


def test_sampling_frequencies_follow_priorities_to_the_alpha():
    memory = filled_memory(20, alpha=0.7, seed=3)
    errors = np.random.default_rng(4).exponential(size=20)
    memory.update_priorities(np.arange(20), errors)
    draws = 4000
    counts = np.bincount(torch.cat([memory.sample(16, beta=1.0).indices for _ in range(draws)]), minlength=20)
    expected = (errors + memory.eps) ** 0.7
    expected = expected / expected.sum() * draws * 16
    chi_square = ((counts - expected) ** 2 / expected).sum()
    # 19 degrees of freedom: the 0.999 quantile is 43.8 (stratified sampling only lowers the variance).
    assert chi_square < 43.8, (counts, expected.round())


def test_stratified_sampling_takes_one_draw_per_segment():
    # With equal priorities and as many slots as the batch, each segment is exactly one slot.
    memory = filled_memory(32, alpha=0.0)
    assert sorted(memory.sample(32, beta=0.4).indices.tolist()) == list(range(32))
    values = stratified_values(10.0, 5, np.random.default_rng(0))
    assert np.all((values >= 2.0 * np.arange(5)) & (values < 2.0 * np.arange(1, 6)))


def test_importance_weights_formula_and_max_normalisation():
    probabilities, size, beta = np.array([0.1, 0.2, 0.4]), 10, 0.5
    raw = (size * probabilities) ** -beta
    weights = importance_weights(probabilities, size, beta)
    assert np.allclose(weights, raw / raw.max()) and weights.max() == 1.0
    assert np.allclose(importance_weights(probabilities, size, 0.0), 1.0)


def test_sampled_batch_carries_the_weights_of_its_probabilities():
    memory = filled_memory(40)
    memory.update_priorities(np.arange(40), np.linspace(0.0, 3.0, 40))
    batch = memory.sample(8, beta=0.7)
    assert isinstance(batch, PrioritizedBatch)
    slots = batch.indices.numpy()
    probabilities = memory.tree.priorities(slots) / memory.tree.total
    raw = (40 * probabilities) ** -0.7
    assert torch.allclose(batch.weights, torch.tensor(raw / raw.max(), dtype=torch.float32))
    # The rows are the transitions stored at the slots.
    assert batch.states[:, 0].long().tolist() == slots.tolist() and torch.equal(batch.rewards, batch.states[:, 0])
    assert torch.all(batch.discounts == torch.tensor(0.9))


def test_beta_is_annealed_linearly_to_one():
    assert [annealed_beta(step, 0.4, 100) for step in (0, 50, 100, 250)] == pytest.approx([0.4, 0.7, 1.0, 1.0])


def test_priorities_from_td_errors():
    assert np.allclose(priorities_from_td_errors([-2.0, 0.0], alpha=0.5, eps=0.25), [1.5, 0.5])
    assert np.allclose(priorities_from_td_errors([-2.0, 0.0], alpha=0.0, eps=0.25), 1.0)


def test_sampling_is_reproducible_with_the_seed():
    first, second, other = filled_memory(500, seed=5), filled_memory(500, seed=5), filled_memory(500, seed=6)
    draws = [m.sample(32, beta=0.5).indices for m in (first, second, other)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_overwriting_resets_a_slot_to_the_largest_priority():
    memory = filled_memory(4)
    memory.update_priorities(np.arange(4), [0.0, 0.0, 0.0, 3.0])
    memory.push(np.zeros(4), 0, 0.0, np.zeros(4), False, 0.9)  # overwrites slot 0
    assert memory.tree.priorities([0])[0] == pytest.approx(memory.max_priority)


def test_bad_memory_arguments_are_rejected():
    memory = filled_memory(5)
    with pytest.raises(ValueError, match="holds only 5"):
        memory.sample(6, beta=0.5)
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\]"):
        memory.sample(2, beta=1.5)
    with pytest.raises(ValueError, match="must be finite"):
        memory.update_priorities([0], [np.nan])
    with pytest.raises(ValueError, match="stored transitions"):
        memory.update_priorities([5], [1.0])
    with pytest.raises(ValueError, match="alpha must be"):
        PrioritizedReplayMemory(10, alpha=-0.1)
