"""Unit tests of utils.replay: ReplayMemory and DiscountedReplayMemory."""
import numpy as np
import pytest
import torch

from utils.replay import Batch, DiscountedBatch, DiscountedReplayMemory, ReplayMemory


def filled(n, capacity=100):
    """A memory holding transitions 0..n-1, transition i with state (i, i, i, i)."""
    memory = ReplayMemory(capacity)
    for i in range(n):
        memory.push(np.full(4, i, dtype=np.float32), i % 2, float(i), np.full(4, i + 1), i % 3 == 0)
    return memory


def test_sample_shapes_and_dtypes():
    batch = filled(50).sample(32)
    assert isinstance(batch, Batch)
    expected = [((32, 4), torch.float32), ((32,), torch.int64), ((32,), torch.float32),
                ((32, 4), torch.float32), ((32,), torch.float32)]
    assert [(tuple(t.shape), t.dtype) for t in batch] == expected


def test_sampled_rows_stay_consistent():
    batch = filled(50).sample(20)
    i = batch.states[:, 0]
    assert torch.equal(batch.rewards, i)
    assert torch.equal(batch.next_states[:, 0], i + 1)
    assert torch.equal(batch.actions, i.long() % 2)
    assert torch.equal(batch.terminated, (i.long() % 3 == 0).float())


def test_len_grows_then_stops_at_capacity_and_overwrites_oldest():
    memory = filled(5, capacity=3)
    assert len(memory) == 3
    stored = sorted(memory.sample(3).states[:, 0].tolist())
    assert stored == [2.0, 3.0, 4.0]


@pytest.mark.parametrize("n", [10, 5000])  # both sampling strategies (n < B² and n ≥ B²)
def test_sample_has_no_repeats(n):
    torch.manual_seed(0)
    memory = filled(n, capacity=n)
    for _ in range(20):
        assert len(set(memory.sample(10).states[:, 0].tolist())) == 10


def test_sampling_covers_the_memory_uniformly():
    torch.manual_seed(0)
    memory = filled(200, capacity=200)
    counts = np.zeros(200)
    for _ in range(2000):
        counts[memory.sample(16).states[:, 0].long().numpy()] += 1
    # Each index is expected 160 times; 4 standard deviations is about ±50.
    assert counts.min() > 100 and counts.max() < 220


def test_sampling_is_reproducible_with_torch_seed():
    memory = filled(5000, capacity=5000)
    torch.manual_seed(3)
    first = memory.sample(64).states
    torch.manual_seed(3)
    assert torch.equal(first, memory.sample(64).states)


def test_truncation_is_not_stored_as_termination():
    memory = ReplayMemory(4)
    memory.push([0, 0, 0, 0], 1, 1.0, [1, 1, 1, 1], False)
    assert memory.sample(1).terminated.item() == 0.0


def test_oversampling_raises_a_clear_error():
    with pytest.raises(ValueError, match="holds only 5"):
        filled(5).sample(6)


@pytest.mark.parametrize("capacity", [0, -3, 2.5, True])
def test_bad_capacity_is_rejected(capacity):
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        ReplayMemory(capacity)


def test_fill_with_random_agent_stores_real_transitions():
    from utils.replay import fill_with_random_agent
    from utils.seeding import make_env

    memory = fill_with_random_agent(ReplayMemory(50), make_env(0), n_steps=60)
    assert len(memory) == 50 and memory.position == 10
    ended = memory.terminated == 1.0
    assert ended.any() and torch.all(memory.rewards == 1.0)
    continuing = ~ended
    # Within an episode each transition starts where the previous one ended.
    follows = torch.all(memory.states[1:] == memory.next_states[:-1], dim=1)
    assert follows[continuing[:-1]].float().mean() > 0.9


def test_discounted_memory_keeps_each_transitions_discount_with_its_row():
    memory = DiscountedReplayMemory(30)
    for i in range(40):  # wraps around: discounts follow their transitions
        memory.push(np.full(4, i), i % 2, float(i), np.full(4, i + 1), False, 0.5 ** (i % 4))
    batch = memory.sample(20)
    assert isinstance(batch, DiscountedBatch) and batch._fields[:5] == Batch._fields
    i = batch.states[:, 0]
    assert torch.equal(batch.rewards, i) and i.min() >= 10
    assert torch.equal(batch.discounts, 0.5 ** (i.long() % 4).float())


def test_plain_memory_still_samples_plain_batches():
    assert type(filled(10).sample(4)) is Batch
