"""The replay-memory check passes a correct memory and names each typical mistake."""
from collections import deque

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks.replay import check_replay_memory
from utils.replay import Batch, ReplayMemory
from test_checks_core import AlwaysCloseArray, Anything


class Good:
    """A correct ring buffer, written independently of the reference, that the mistakes below alter."""

    def __init__(self, capacity, obs_dim=4):
        self.capacity, self.position, self.size = capacity, 0, 0
        self.states = torch.zeros((capacity, obs_dim))
        self.actions = torch.zeros(capacity, dtype=torch.int64)
        self.rewards = torch.zeros(capacity)
        self.next_states = torch.zeros((capacity, obs_dim))
        self.terminated = torch.zeros(capacity)

    def push(self, state, action, reward, next_state, terminated):
        i = self.position
        self.states[i] = torch.as_tensor(state)
        self.actions[i] = int(action)
        self.rewards[i] = reward
        self.next_states[i] = torch.as_tensor(next_state)
        self.terminated[i] = float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def indices(self, batch_size):
        if batch_size > self.size:
            raise ValueError("not enough transitions")
        return torch.randperm(self.size)[:batch_size]

    def sample(self, batch_size):
        i = self.indices(batch_size)
        return Batch(self.states[i], self.actions[i], self.rewards[i], self.next_states[i], self.terminated[i])

    def __len__(self):
        return self.size


class WithReplacement(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.randint(self.size, (batch_size,))


class FromCapacity(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.randperm(self.capacity)[:batch_size]


class AllStored(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.randperm(self.size)


class Newest(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return (self.position - 1 - torch.arange(batch_size)) % self.size


class NumpyRandom(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.as_tensor(np.random.choice(self.size, batch_size, replace=False))


class NoValueError(Good):
    def indices(self, batch_size):
        return torch.randperm(self.size)[:batch_size]


class ActionsColumn(Good):
    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(actions=batch.actions[:, None])


class FloatActions(Good):
    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(actions=batch.actions.float())


class BoolTerminated(Good):
    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(terminated=batch.terminated.bool())


class NumpyStates(Good):
    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(states=batch.states.numpy())


class Float64States(Good):
    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(states=batch.states.double())


class SeedOrder(Good):
    def sample(self, batch_size):
        s, a, r, n, t = super().sample(batch_size)
        return (s, a, n, r, t)


class PlainTuple(Good):
    def sample(self, batch_size):
        return tuple(super().sample(batch_size))


class IndependentFields(Good):
    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(rewards=super().sample(batch_size).rewards)


class StateAsNext(Good):
    def push(self, state, action, reward, next_state, terminated):
        super().push(state, action, reward, state, terminated)


class AliveMask(Good):
    def push(self, state, action, reward, next_state, terminated):
        super().push(state, action, reward, next_state, not terminated)


class NoWrap(Good):
    def push(self, state, action, reward, next_state, terminated):
        position = self.position
        super().push(state, action, reward, next_state, terminated)
        self.position = position + 1


class StopsWhenFull(Good):
    def push(self, state, action, reward, next_state, terminated):
        if self.size < self.capacity:
            super().push(state, action, reward, next_state, terminated)


class LenPastCapacity(Good):
    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        self.pushed = 0

    def push(self, *transition):
        super().push(*transition)
        self.pushed += 1

    def __len__(self):
        return self.pushed


class HardCodedFour(Good):
    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, 4)


class DequeMemory:
    def __init__(self, capacity, obs_dim=4):
        self.memory = deque(maxlen=capacity)


class DictStorage:
    """A correct ring buffer that keeps its preallocated tensors in a dict."""

    def __init__(self, capacity, obs_dim=4):
        self.capacity, self.position, self.size = capacity, 0, 0
        self.data = {"states": torch.zeros(capacity, obs_dim), "actions": torch.zeros(capacity, dtype=torch.long),
                     "rewards": torch.zeros(capacity), "next_states": torch.zeros(capacity, obs_dim),
                     "terminated": torch.zeros(capacity)}

    def tables(self):
        return self.data

    def push(self, state, action, reward, next_state, terminated):
        for field, value in zip(Batch._fields, (state, action, reward, next_state, terminated)):
            self.tables()[field][self.position] = torch.as_tensor(value, dtype=self.tables()[field].dtype)
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError(f"only {self.size} transitions stored")
        i = torch.randperm(self.size)[:batch_size]
        return Batch(*(self.tables()[field][i] for field in Batch._fields))

    def __len__(self):
        return self.size


class NestedStorage(DictStorage):
    """The same, with the tensors two levels down: {"tables": {"states": tensor, ...}}."""

    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        self.nested = {"tables": self.__dict__.pop("data")}

    def tables(self):
        return self.nested["tables"]


class TupleStorage(DictStorage):
    """The same, with the tensors in a tuple."""

    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        self.fields = tuple(self.__dict__.pop("data").values())

    def tables(self):
        return dict(zip(Batch._fields, self.fields))


class DictOfLists(DictStorage):
    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        self.data = {field: [] for field in Batch._fields}


class CourseCopy(ReplayMemory):
    """The course's memory as a student might retype it in the exercise cell."""


class NotDone:
    def __init__(self, capacity, obs_dim=4):
        raise NotImplementedError("Exercise 2.1: ReplayMemory")


def test_the_reference_and_independent_memories_pass(capsys):
    for memory_class in (CourseCopy, Good, DictStorage, NestedStorage, TupleStorage):
        check_replay_memory(memory_class)
    assert capsys.readouterr().out.count("passed") == 5


def test_the_course_memory_itself_is_refused():
    with pytest.raises(CheckFailed, match="^Exercise 2.1 \\(ReplayMemory\\): you passed the course's own "
                                          "`utils.replay.ReplayMemory`"):
        check_replay_memory(ReplayMemory)


def test_a_template_is_not_done():
    with pytest.raises(ExerciseNotDone, match="not done yet"):
        check_replay_memory(NotDone)


@pytest.mark.parametrize("memory_class, named", [
    (WithReplacement, "with replacement"),
    (FromCapacity, "all-zero row.*never written"),
    (AllStored, r"shape \(3, 4\); expected \(2, 4\).*first dimension is the batch"),
    (Newest, "only ever returned transitions"),
    (NumpyRandom, "torch.manual_seed"),
    (NoValueError, "expected a ValueError"),
    (ActionsColumn, r"actions has shape \(2, 1\); expected \(2,\).*broadcasts silently"),
    (FloatActions, "actions has dtype torch.float32; expected torch.int64.*indices"),
    (BoolTerminated, "terminated has dtype torch.bool.*float32"),
    (NumpyStates, "states is a NumPy array"),
    (Float64States, "float64"),
    (SeedOrder, "looks like next_states; expected rewards"),
    (PlainTuple, "plain tuple; expected a Batch"),
    (IndependentFields, "rewards=.*same indices"),
    (StateAsNext, "next_states equals states"),
    (AliveMask, "inverted"),
    (NoWrap, "IndexError.*wrap"),
    (StopsWhenFull, r"holds \[0, 1, 2, 3, 4\].*stopped storing"),
    (LenPastCapacity, "len\\(memory\\) is 7"),
    (HardCodedFour, "obs_dim=2.*hard-coded 4"),
    (DequeMemory, "holds no tensor with 5 rows.*deque.*preallocated"),
    (DictOfLists, "holds no tensor with 5 rows; expected preallocated storage"),
])
def test_a_typical_mistake_is_named(memory_class, named):
    with pytest.raises(CheckFailed, match=named):
        check_replay_memory(memory_class)


@pytest.mark.parametrize("methods, named", [
    ({"sample": lambda self, n: (b := Good.sample(self, n))._replace(states=b.states.numpy().view(AlwaysCloseArray))},
     r"sample\(2\).states is a Python AlwaysCloseArray; expected a tensor"),
    ({"sample": lambda self, n: Good.sample(self, n)._replace(rewards=[Anything()] * n)},
     r"sample\(2\).rewards is a Python list; expected a tensor"),
    ({"__len__": lambda self: Anything()}, r"after 3 pushes len\(memory\) is 0; expected 3"),
])
def test_replay_memory_refuses_rigged_answers(methods, named):
    with pytest.raises(CheckFailed, match=named):
        check_replay_memory(type("Rigged", (Good,), methods))
