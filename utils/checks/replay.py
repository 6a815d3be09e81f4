"""Checks for notebook 2: the replay memory (a preallocated ring buffer)."""
import numpy as np
import torch

from utils.checks.core import Mistake, exercise, expect
from utils.checks.tensors import describe, expect_tensor

CAPACITY = 5
FIELDS = ("states", "actions", "rewards", "next_states", "terminated")


def transition(i: int, obs_dim: int = 4) -> tuple:
    """The i-th test transition: every field differs from every other transition's."""
    state = np.arange(1, obs_dim + 1, dtype=np.float64) * 0.25 + i + 1  # state[0] - 0.25 = i + 1
    action = np.int64(i % 2) if i % 3 == 0 else i % 2  # as env.action_space.sample() or a Python int
    return state, action, 0.5 + i, state + 100.0, i in (2, 5)


def transition_number(row) -> int:
    """Which test transition a sampled state row belongs to (-1 for an all-zero, never-written slot)."""
    return -1 if not torch.any(row != 0) else int(round(float(row[0]) - 1.25))


@exercise("2.1", "ReplayMemory")
def check_replay_memory(memory_class) -> None:
    """Push known transitions into a small memory and check what `sample` and `len` give back."""
    memory = _construct(memory_class, CAPACITY, 4)
    _check_preallocated(memory)
    expect(len(memory) == 0, f"a new memory has len {len(memory)}; expected 0.", "len counts stored transitions, not capacity.")
    for i in range(3):
        memory.push(*transition(i))
    expect(len(memory) == 3, f"after 3 pushes len(memory) is {len(memory)}; expected 3.",
           "increase the count in push (up to capacity) and return it from __len__.")
    _sample(memory, 2)
    with torch.random.fork_rng(devices=[]):
        _check_rows(memory, stored=range(3))
        _check_random(memory)
    _check_ring(memory)
    _check_too_many(memory)
    _check_obs_dim(memory_class)


def _construct(memory_class, capacity: int, obs_dim: int):
    """`memory_class(capacity, obs_dim=...)`, with a clear message if the signature is different."""
    try:
        return memory_class(capacity, obs_dim=obs_dim)
    except TypeError as error:
        raise Mistake(f"ReplayMemory({capacity}, obs_dim={obs_dim}) raised TypeError: {error}. "
                      "Hint: keep the signature ReplayMemory(capacity, obs_dim=4).") from None


def _check_preallocated(memory) -> None:
    """The memory must hold preallocated arrays with one row per slot, not a growing list."""
    stored = _stored_values(vars(memory).values())
    arrays = [v for v in stored if isinstance(v, (torch.Tensor, np.ndarray)) and v.ndim >= 1]
    containers = [type(v).__name__ for v in vars(memory).values() if isinstance(v, (list, tuple)) or hasattr(v, "maxlen")]
    expect(any(len(a) == CAPACITY for a in arrays),
           f"ReplayMemory({CAPACITY}) holds no tensor with {CAPACITY} rows"
           + (f" (it keeps a {containers[0]})" if containers else "") + "; expected preallocated storage.",
           "create the storage once in __init__, e.g. torch.zeros((capacity, obs_dim)) for states, "
           "and write each transition into row `position`.")


def _stored_values(values, depth: int = 2) -> list:
    """`values` and, down to `depth` levels, what the dicts, lists and tuples among them hold."""
    found = []
    for value in values:
        found.append(value)
        if depth and isinstance(value, dict):
            found += _stored_values(value.values(), depth - 1)
        elif depth and isinstance(value, (list, tuple)):
            found += _stored_values(value, depth - 1)
    return found


def _sample(memory, batch_size: int, obs_dim: int = 4) -> tuple:
    """`memory.sample(batch_size)`, checked to be a Batch of five plain tensors, as a plain tuple of them.

    Every sample is checked, not just the first: later ones could hold objects that compare equal to anything.
    """
    return _check_format(memory.sample(batch_size), batch_size, obs_dim)


def _check_format(batch, batch_size: int, obs_dim: int) -> tuple:
    """A `Batch` of five tensors in the documented order, shapes and dtypes, returned as a plain tuple."""
    expect(isinstance(batch, tuple) and len(batch) == 5,
           f"sample({batch_size}) returned {describe(batch)}"
           + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
           + "; expected Batch(states, actions, rewards, next_states, terminated).",
           "return Batch(states, actions, rewards, next_states, terminated) with one tensor per field.")
    shapes = {"states": (batch_size, obs_dim), "actions": (batch_size,), "rewards": (batch_size,),
              "next_states": (batch_size, obs_dim), "terminated": (batch_size,)}
    third = batch[2]
    fields = tuple(batch)  # read once: what is checked below is what the check goes on to use
    expect(not (isinstance(third, torch.Tensor) and third.dim() == 2 and tuple(third.shape[1:]) == (obs_dim,)),
           f"the third field of the batch has shape {tuple(third.shape) if isinstance(third, torch.Tensor) else ''}: "
           "it looks like next_states; expected rewards.",
           "the order is (states, actions, rewards, next_states, terminated); the seed notebook's "
           "Transition put next_state before reward.")
    expect(all(hasattr(batch, field) for field in FIELDS),
           f"sample({batch_size}) returned a plain {type(batch).__name__}; expected a Batch, whose fields have names.",
           "return Batch(states, actions, rewards, next_states, terminated), so that batch.states etc. work.")
    dtypes = {"actions": torch.int64}
    for field, value in zip(FIELDS, fields):
        expect_tensor(value, f"sample({batch_size}).{field}", shapes[field], dtypes.get(field, torch.float32))
    return fields


def _check_rows(memory, stored) -> None:
    """Every sampled row is one stored transition, with all its fields, and no row repeats."""
    for _ in range(30):
        batch = _sample(memory, len(stored))
        numbers = [transition_number(row) for row in batch[0]]
        expect(-1 not in numbers,
               f"sample({len(stored)}) with {len(stored)} of {CAPACITY} slots filled returned an all-zero row.",
               "that row was never written: draw indices below len(self), not below capacity.")
        repeated = [n for n in set(numbers) if numbers.count(n) > 1]
        expect(not repeated,
               f"sample({len(stored)}) with {len(stored)} stored returned transition #{repeated[0] if repeated else ''} "
               "more than once: it samples with replacement.",
               "draw distinct indices, e.g. torch.randperm(len(self))[:batch_size] (torch.randint can repeat).")
        for row, number in enumerate(numbers):
            expect(number in stored, f"sample() returned a state that was never pushed (row {row}: {batch[0][row].tolist()}).",
                   "write state into the states tensor at the current position.")
            _check_row(batch, row, number)


def _check_row(batch, row: int, number: int) -> None:
    """Row `row` of the batch must hold every field of test transition `number`."""
    state, action, reward, next_state, terminated = transition(number)
    got = batch[3][row].double()
    if not torch.allclose(got, torch.as_tensor(next_state)):
        reason = ("next_states equals states: the state was stored in place of next_state."
                  if torch.allclose(got, torch.as_tensor(state)) else
                  "next_states belongs to a different transition than states.")
        raise Mistake(f"row {row} of a sample holds the state of transition #{number} but the wrong next state: {reason} "
                      "Hint: store next_state in its own tensor at the same position as state.")
    expected = {"actions": float(action), "rewards": reward, "terminated": float(terminated)}
    for field, index in (("actions", 1), ("rewards", 2), ("terminated", 4)):
        got = float(batch[index][row])
        if field == "terminated" and got == 1.0 - expected[field]:
            raise Mistake(f"terminated is {got} for a transition pushed with terminated={bool(terminated)}: "
                          "the flag is inverted. Hint: store terminated itself (1.0 = the episode ended), not 'not done'.")
        expect(np.isclose(got, expected[field]),
               f"row {row} of a sample holds the state of transition #{number} but {field}={got} "
               f"(that transition has {expected[field]}).",
               "use the same indices for every field, and write every field at the same position in push.")


def _check_random(memory) -> None:
    """`sample` must draw every stored transition sometimes, reproducibly under torch.manual_seed."""
    seen = {transition_number(_sample(memory, 1)[0][0]) for _ in range(60)}
    expect(len(seen) == 3, f"60 calls of sample(1) with 3 stored only ever returned transitions {sorted(seen)}.",
           "sampling must be uniformly random over all stored transitions, not the first or the newest.")
    draws = []
    for _ in range(4):
        torch.manual_seed(0)
        first = [transition_number(r) for r in _sample(memory, 3)[0]]
        torch.manual_seed(0)
        draws.append(first == [transition_number(r) for r in _sample(memory, 3)[0]])
    expect(all(draws), "after torch.manual_seed(0), two calls of sample(3) gave different batches.",
           "draw the indices with torch (torch.randperm), whose generator seed_everything seeds; "
           "the contract is torch's global RNG.")


def _check_ring(memory) -> None:
    """Pushing past capacity overwrites the oldest transitions and len stays at capacity."""
    for i in range(3, 7):
        try:
            memory.push(*transition(i))
        except IndexError as error:
            raise Mistake(f"push raised IndexError ({error}) on transition #{i} in a memory of capacity {CAPACITY}. "
                          "Hint: the write position must wrap around: position = (position + 1) % capacity.") from None
    expect(len(memory) == CAPACITY, f"after 7 pushes into capacity {CAPACITY}, len(memory) is {len(memory)}; "
           f"expected {CAPACITY}.", "len never exceeds capacity: size = min(size + 1, capacity).")
    held = sorted(transition_number(row) for row in _sample(memory, CAPACITY)[0])
    expect(held == [2, 3, 4, 5, 6],
           f"after pushing transitions #0..#6 into capacity {CAPACITY}, the memory holds {held}; expected [2, 3, 4, 5, 6].",
           "when full, overwrite the oldest transition: keep writing at position and wrap it with % capacity"
           + (" (your memory stopped storing new transitions)." if held == [0, 1, 2, 3, 4] else "."))


def _check_too_many(memory) -> None:
    """Asking for more transitions than stored must raise a ValueError."""
    try:
        batch = memory.sample(CAPACITY + 1)
    except ValueError:
        return
    except Exception as error:
        raise Mistake(f"sample({CAPACITY + 1}) with {CAPACITY} stored raised {type(error).__name__}: {error}; "
                      "expected a ValueError. Hint: check batch_size > len(self) first and raise "
                      "ValueError with a message saying how many are stored.") from None
    rows = len(batch[0]) if isinstance(batch, tuple) and batch else "?"
    raise Mistake(f"sample({CAPACITY + 1}) with {CAPACITY} stored returned a batch with {rows} rows; expected a ValueError. "
                  "Hint: a batch without replacement cannot be larger than the memory: raise ValueError.")


def _check_obs_dim(memory_class) -> None:
    """The memory must use `obs_dim`, not a hard-coded 4."""
    memory = _construct(memory_class, 3, 2)
    try:
        for i in range(2):
            memory.push(*transition(i, obs_dim=2))
        batch = memory.sample(2)
    except Exception as error:
        raise Mistake(f"with obs_dim=2, pushing 2-element states raised {type(error).__name__}: {error}. "
                      "Hint: size the state tensors with obs_dim, not a hard-coded 4.") from None
    expect_tensor(batch[0], "with obs_dim=2, sample(2).states", (2, 2), torch.float32)
