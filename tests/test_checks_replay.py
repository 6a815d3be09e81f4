"""The replay-memory check passes a correct memory and names each typical mistake."""
import random
import re
from collections import deque

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks.replay import check_replay_memory
from utils.replay import Batch, ReplayMemory
from test_checks_core import AlwaysCloseArray, Anything, assert_named_both_ways, graded, own_class


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


class SeedPushOrder(Good):
    """push(state, action, next_state, reward, done), the seed notebook's order."""

    def push(self, state, action, next_state, reward, terminated):
        super().push(state, action, float(reward), next_state, terminated)


class SwapsStateAndNext(Good):
    def push(self, state, action, reward, next_state, terminated):
        super().push(next_state, action, reward, state, terminated)


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


class SamplesFromPushes(LenPastCapacity):
    """Wrong: len is right, but sample draws below the number of pushes, which keeps growing once full."""

    __len__ = Good.__len__

    def indices(self, batch_size):
        if batch_size > len(self):
            raise ValueError("not enough transitions")
        return torch.randperm(self.pushed)[:batch_size]


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


CourseCopy = own_class(ReplayMemory)  # the course's memory as a student might retype it in the exercise cell


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
    (SamplesFromPushes, r"sample\(5\) raised IndexError: .*out of bounds.*: it draws indices below the number of pushes "
                        r"\(7\).*Hint: draw below len\(self\)"),  # red team c: a raw IndexError before
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


# --- issue 18: batches spread over the whole memory, and other realistic slips -----------------

class Window(Good):
    """One contiguous run of rows from a random start."""

    def indices(self, batch_size):
        super().indices(batch_size)
        start = int(torch.randint(self.size - batch_size + 1, ()))
        return torch.arange(start, start + batch_size)


class WrappingWindow(Good):
    """A run of neighbouring rows that may wrap around the end of the memory."""

    def indices(self, batch_size):
        super().indices(batch_size)
        return (int(torch.randint(self.size, ())) + torch.arange(batch_size)) % self.size


class BelowPosition(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.randperm(self.position or self.size)[:batch_size]


class RecentOnly(Good):
    """Only the 2 * batch_size most recent transitions."""

    def indices(self, batch_size):
        super().indices(batch_size)
        recent = min(self.size, 2 * batch_size)
        return (self.position - 1 - torch.randperm(recent)[:batch_size]) % self.size


class LeavesLastOut(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.randperm(max(self.size - 1, batch_size))[:batch_size]


class ReseedsTorch(Good):
    def indices(self, batch_size):
        torch.manual_seed(0)
        return super().indices(batch_size)


class PythonRandom(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.tensor(random.sample(range(self.size), batch_size))


class ExactlyFullRaises(Good):
    def indices(self, batch_size):
        if batch_size >= self.size:
            raise ValueError("not enough transitions")
        return super().indices(batch_size)


class ComparesWithCapacity(Good):
    def indices(self, batch_size):
        if batch_size > self.capacity:
            raise ValueError("more than the capacity")
        return torch.randperm(self.size)[:batch_size]


class LenIsPosition(Good):
    def __len__(self):
        return self.position


class SizeFromPosition(Good):
    """size = max(size, position): stops growing once the position wraps around."""

    def push(self, *transition):
        super().push(*transition)
        self.size = max(self.size_before, self.position)
        self.size_before = self.size

    size_before = 0


class IndicesBelowBatchSize(Good):
    def indices(self, batch_size):
        super().indices(batch_size)
        return torch.randperm(batch_size)


class IntegerTerminated(Good):
    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        self.terminated = torch.zeros(capacity, dtype=torch.int64)


class WrapsEarly(Good):
    """position = (position + 1) % (capacity - 1): the last slot is never written."""

    def push(self, *transition):
        super().push(*transition)
        self.position = self.position % (self.capacity - 1)


class OverwritesLast(Good):
    def push(self, *transition):
        super().push(*transition)
        self.position = min(self.size, self.capacity - 1)


class RewardNeverStored(Good):
    """push leaves the reward slot as it was: here NaN, as storage from torch.empty can hold."""

    def push(self, state, action, reward, next_state, terminated):
        slot = self.position
        super().push(state, action, reward, next_state, terminated)
        self.rewards[slot] = float("nan")


class IntegerRewards(Good):
    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        self.rewards = torch.zeros(capacity, dtype=torch.int64)

    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(rewards=batch.rewards.float())


class IntegerStates(Good):
    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        self.states = torch.zeros((capacity, obs_dim), dtype=torch.int64)

    def push(self, state, *rest):
        super().push(np.trunc(np.asarray(state)), *rest)

    def sample(self, batch_size):
        batch = super().sample(batch_size)
        return batch._replace(states=batch.states.float())


class NextFromFollowingRow(Good):
    """Reads next_state from the row after the state's (wrong wherever an episode ended)."""

    def sample(self, batch_size):
        i = self.indices(batch_size)
        return Batch(self.states[i], self.actions[i], self.rewards[i], self.states[(i + 1) % self.capacity],
                     self.terminated[i])


class SortedIndices(Good):
    """Correct: distinct uniform indices, in increasing order."""

    def indices(self, batch_size):
        return super().indices(batch_size).sort().values


class Multinomial(Good):
    """Correct: torch.multinomial without replacement over equal weights."""

    def indices(self, batch_size):
        if batch_size > self.size:
            raise ValueError(f"only {self.size} stored")
        return torch.multinomial(torch.ones(self.size), batch_size, replacement=False)


class RedrawUntilDistinct(Good):
    """Correct: torch.randint, redrawn until the indices are distinct."""

    def indices(self, batch_size):
        super().indices(batch_size)
        while True:
            index = torch.randint(self.size, (batch_size,))
            if len(set(index.tolist())) == batch_size:
                return index


class HardCodedNotebook(Good):
    """Stores the notebook's own test transitions whatever it is given: passes only on the notebook's inputs."""

    def push(self, *transition):
        from utils.checks.replay import transition as notebook_transition
        pushed = getattr(self, "pushed", 0)
        self.pushed = pushed + 1
        super().push(*(notebook_transition(pushed) if 5 <= self.capacity < 20 else transition))


class DelegatesToCourse:
    """Wraps the course's own memory."""

    def __init__(self, capacity, obs_dim=4):
        self.memory = ReplayMemory(capacity, obs_dim)

    def push(self, *transition):
        self.memory.push(*transition)

    def sample(self, batch_size):
        return self.memory.sample(batch_size)

    def __len__(self):
        return len(self.memory)


CORRECT = (Good, CourseCopy, DictStorage, SortedIndices, Multinomial, RedrawUntilDistinct)
WINDOW = "one run of .* neighbouring rows .*: a window from a random start. Consecutive transitions are strongly " \
         "correlated.*Hint: draw every index at random over the whole memory, without replacement"
class PerFieldDraws(Good):
    def sample(self, batch_size):
        fields = (self.states, self.actions, self.rewards, self.next_states, self.terminated)
        return Batch(*(field[self.indices(batch_size)] for field in fields))


class NextStatesOwnDraw(Good):
    def sample(self, batch_size):
        return super().sample(batch_size)._replace(next_states=self.next_states[self.indices(batch_size)])


class FlagNeverStored(Good):
    def push(self, state, action, reward, next_state, terminated):
        super().push(state, action, reward, next_state, False)


class FlagAlwaysSet(Good):
    def push(self, state, action, reward, next_state, terminated):
        super().push(state, action, reward, next_state, True)


class ArraysOnly(Good):
    """torch.from_numpy: NumPy arrays only, though the statement asks push to accept lists too."""

    def push(self, state, action, reward, next_state, terminated):
        super().push(torch.from_numpy(state), action, reward, torch.from_numpy(next_state), terminated)


class SharedStorage(Good):
    """Keeps its tensors on the class, one set per shape: every memory of a size shares them."""

    shared = {}

    def __init__(self, capacity, obs_dim=4):
        super().__init__(capacity, obs_dim)
        if (capacity, obs_dim) in SharedStorage.shared:
            self.states, self.next_states = SharedStorage.shared[(capacity, obs_dim)]
        SharedStorage.shared[(capacity, obs_dim)] = self.states, self.next_states


class OnlyOne(Good):
    """Refuses a memory of the size it built last."""

    last = None

    def __init__(self, capacity, obs_dim=4):
        if OnlyOne.last == (capacity, obs_dim):
            raise RuntimeError("a memory of this size exists already")
        OnlyOne.last = (capacity, obs_dim)
        super().__init__(capacity, obs_dim)


SHARED = r"after a second memory of capacity \d+ was built and given two transitions, sample\(\d+\) on the first no " \
         r"longer returned the first memory's transitions: the two memories share their storage"
LISTS = r"push raised TypeError \(.*\) on transition #1, whose state and next_state came as Python lists.*torch\.as_tensor"
ONE_DRAW_PER_FIELD = "the next states of different transitions from one batch to the next: each field is indexed"
NEW_MISTAKES = [
    (PerFieldDraws, ONE_DRAW_PER_FIELD),
    (NextStatesOwnDraw, ONE_DRAW_PER_FIELD),
    (FlagNeverStored, "terminated came back 0.0 for every transition, those pushed with terminated=True too"),
    (FlagAlwaysSet, "terminated came back 1.0 for every transition, those pushed with terminated=False too"),
    (Window, WINDOW),
    (WrappingWindow, WINDOW),
    (BelowPosition, r"sample\(5\) returned 2 rows: as many as the write position.*not below position"),
    (RecentOnly, r"only ever returned transitions \[1, 2\], the 2 most recently pushed"),
    (LeavesLastOut, "the last stored transition never came.*off-by-one"),
    (ReseedsTorch, "sample calls torch.manual_seed itself"),
    (PythonRandom, "after torch.manual_seed\\(s\\), two calls of sample\\(4\\) gave different batches"),
    (ExactlyFullRaises, "sample\\(3\\) with 3 stored raised ValueError.*raise only when batch_size > len\\(self\\)"),
    (ComparesWithCapacity, r"sample\(4\) with 3 stored \(capacity 5\) returned a batch with 3 rows; expected a "
                           r"ValueError. Hint: compare batch_size with len\(self\), the number stored, not with the "
                           "capacity"),
    (LenIsPosition, "len\\(memory\\) is 2; expected 5. Hint: that is the write position"),
    (WrapsEarly, "a slot was never written.*not % \\(capacity - 1\\)"),
    (SeedPushOrder, r"push raised TypeError .*a state reached a parameter that holds one number.*push's parameters are "
                    r"in another order"),
    (SwapsStateAndNext, r"sample\(\).states holds a next_state that was pushed .*states and next_states are swapped"),
    (SizeFromPosition, r"len\(memory\) is 4; expected 5. Hint: len stopped below capacity"),
    (IndicesBelowBatchSize, r"the same row every time, the first. Hint: draw the indices from range\(len\(self\)\)"),
    (IntegerTerminated, r"terminated has dtype torch.int64; expected torch.float32. Hint: store the terminated flags "
                        r"as float32"),
    (OverwritesLast, "overwrites its last slot again and again"),
    (IntegerRewards, "the rewards lost their fractional part"),
    (RewardNeverStored, r"but rewards=nan \(that transition has"),
    (IntegerStates, "without its fractional part: the states are kept in an integer tensor"),
    (NextFromFollowingRow, "next_states holds the state of the following push"),
    (ArraysOnly, LISTS),
    (SharedStorage, SHARED),
    (OnlyOne, r"building a second memory of capacity \d raised RuntimeError: a memory of this size exists already"),
]


def test_correct_variants_pass(capsys):
    for memory_class in CORRECT:
        check_replay_memory(memory_class)
    assert capsys.readouterr().out.count("passed") == len(CORRECT)


@pytest.mark.parametrize("memory_class, named", NEW_MISTAKES)
def test_a_realistic_mistake_is_named(memory_class, named):
    with pytest.raises(CheckFailed, match=named):
        check_replay_memory(memory_class)


SEEDS = (1, 2, 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_grading_passes_correct_memories(seed):
    for memory_class in CORRECT:
        assert graded(check_replay_memory, seed, memory_class) == {"status": "passed", "message": "", "flags": []}, memory_class


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("memory_class, named", [
    (Window, WINDOW), (WithReplacement, "with replacement"), (NoWrap, "IndexError.*wrap"),
    (StateAsNext, "next_states equals states"), (BelowPosition, "not below position"),
    (HardCodedFour, "hard-coded 4"), (IntegerRewards, "lost their fractional part"),
    (PerFieldDraws, ONE_DRAW_PER_FIELD), (FlagNeverStored, "terminated came back 0.0 for every transition"),
    (ArraysOnly, LISTS),
    (SharedStorage, SHARED),
    (OnlyOne, r"building a second memory of capacity \d raised RuntimeError: a memory of this size exists already"),
])
def test_grading_names_mistakes_on_fresh_inputs(memory_class, named, seed):
    verdict = graded(check_replay_memory, seed, memory_class)
    assert verdict["status"] == "failed" and re.search(named, verdict["message"]), verdict


def test_grading_fails_a_memory_that_hard_codes_the_notebook_transitions(capsys):
    check_replay_memory(HardCodedNotebook)  # passes on the notebook's own inputs
    assert "passed" in capsys.readouterr().out
    for seed in SEEDS:
        verdict = graded(check_replay_memory, seed, HardCodedNotebook)
        assert verdict["status"] == "failed" and "never pushed" in verdict["message"], verdict


def test_grading_flags_a_memory_that_wraps_the_course_memory():
    with pytest.raises(CheckFailed, match="your code calls the course's own `utils.replay.ReplayMemory`"):
        check_replay_memory(DelegatesToCourse)
    verdict = graded(check_replay_memory, 1, DelegatesToCourse)
    assert verdict["flags"] == ["calls the course's own `utils.replay.ReplayMemory`"], verdict


def test_fresh_inputs_differ_from_the_notebook_inputs():
    notebook = check_replay_memory.inputs(None)
    for seed in SEEDS:
        fresh = check_replay_memory.inputs(np.random.default_rng(seed))
        assert not np.allclose(fresh["transitions"]["states"][:2], notebook["transitions"]["states"][:2])
        assert fresh["spread"]["seeds"] != notebook["spread"]["seeds"]


class ZeroNextAtEnd(Good):
    def push(self, state, action, reward, next_state, terminated):
        super().push(state, action, reward, np.zeros_like(next_state) if terminated else next_state, terminated)


class MaskedNextState(Good):
    def push(self, state, action, reward, next_state, terminated):
        super().push(state, action, reward, np.asarray(next_state) * (1 - float(terminated)), terminated)


class AdvancesFirst(Good):
    def push(self, state, action, reward, next_state, terminated):
        self.position = (self.position + 1) % self.capacity
        super().push(state, action, reward, next_state, terminated)
        self.position = (self.position - 1) % self.capacity


class WritesAtNextRow(Good):
    def push(self, state, action, reward, next_state, terminated):
        row = (self.position + 1) % self.capacity
        self.states[row], self.actions[row], self.rewards[row] = torch.as_tensor(state), int(action), reward
        self.next_states[row], self.terminated[row] = torch.as_tensor(next_state), float(terminated)
        self.position = row
        self.size = min(self.size + 1, self.capacity)


ZEROED_NEXT = "pushed with terminated=True, but its next_state came back as zeros.*store the next_state argument"
SHIFTED = "returned an all-zero row but never transition #.*, the last one pushed: push moves position on before writing"
SHARPER_MISTAKES = [(ZeroNextAtEnd, ZEROED_NEXT), (MaskedNextState, ZEROED_NEXT),
                    (AdvancesFirst, SHIFTED), (WritesAtNextRow, SHIFTED)]


@pytest.mark.parametrize("memory_class, named", SHARPER_MISTAKES)
def test_zeroed_next_states_and_shifted_writes_are_named_in_the_notebook_and_when_graded(memory_class, named):
    assert_named_both_ways(check_replay_memory, memory_class, named, SEEDS[0])
