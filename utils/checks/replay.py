"""Checks for notebook 2: the replay memory, a preallocated ring buffer (probe and judge, see protocol).

The probe builds memories with the student's class, pushes the transitions the inputs list and
records every batch that `sample` returned (its fields as tensors). The judge identifies each
sampled row by its state, and decides: format, one transition per row, no repeats, the ring,
`len`, the ValueError, `obs_dim`, and, on a larger memory, that batches are spread over the whole
memory (not one window of neighbouring rows, not only the newest rows) and reproducible under
`torch.manual_seed`.
"""
import numpy as np
import torch

from utils.checks.core import Mistake, describe, expect
from utils.checks.protocol import Check, crash_text
from utils.checks.tensors import expect_tensor

FIELDS = ("states", "actions", "rewards", "next_states", "terminated")
FLAGS_HINT = ("store the terminated flags as float32 (1.0 or 0.0): the TD targets compute (1 - terminated) * ... with "
              "them, in the network's float32.")
UNWRITTEN, UNKNOWN = -1, -2  # what `_numbers` says of an all-zero row and of a row that was never pushed


# --- the inputs -----------------------------------------------------------------------------

def transition(i: int, obs_dim: int = 4) -> tuple:
    """The notebook's i-th test transition: every field differs from every other transition's."""
    state = np.arange(1, obs_dim + 1, dtype=np.float64) * 0.25 + i + 1  # state[0] - 0.25 = i + 1
    action = np.int64(i % 2) if i % 3 == 0 else i % 2  # as env.action_space.sample() or a Python int
    return state, action, 0.5 + i, state + 100.0, i in (2, 5)


def notebook_transitions(count: int, obs_dim: int = 4) -> dict:
    """The first `count` notebook transitions, as plain data."""
    rows = [transition(i, obs_dim) for i in range(count)]
    return {"states": np.array([r[0] for r in rows]), "actions": [int(r[1]) for r in rows],
            "numpy_action": [type(r[1]) is not int for r in rows], "rewards": [float(r[2]) for r in rows],
            "next_states": np.array([r[3] for r in rows]), "terminated": [bool(r[4]) for r in rows],
            "float32": [False] * count, "lists": [i == 1 for i in range(count)]}


def drawn_transitions(rng, count: int, obs_dim: int) -> dict:
    """`count` random transitions whose states and next states all differ, with non-integer entries and rewards."""
    def vectors():
        magnitude = rng.integers(1, 5, size=(count, obs_dim)) + rng.uniform(0.1, 0.9, size=(count, obs_dim))
        return (magnitude * rng.choice([-1.0, 1.0], size=(count, obs_dim))).astype(np.float32).astype(np.float64)

    for _ in range(100):  # almost always the first draw
        states, next_states = vectors(), vectors()
        rows = np.concatenate([states, next_states])
        gaps = np.abs(rows[:, None, :] - rows[None, :, :]).max(axis=2) + np.eye(2 * count)
        if gaps.min() > 0.05:
            break
    terminated = rng.random(count) < 0.3
    terminated[rng.choice(count, size=2, replace=False)] = [True, False]  # both kinds, so an inverted flag shows
    lists = rng.random(count) < 0.2
    lists[min(1, count - 1)] = True  # pushed early, so a push that refuses lists fails at once
    return {"states": states, "actions": [int(a) for a in rng.integers(0, 2, count)],
            "numpy_action": [bool(b) for b in rng.random(count) < 0.5],
            "rewards": [float(r) for r in rng.integers(-8, 9, count) + rng.choice([0.25, 0.5, 0.75], count)],
            "next_states": next_states, "terminated": [bool(t) for t in terminated],
            "float32": [bool(b) for b in rng.random(count) < 0.5], "lists": [bool(b) for b in lists]}


def memory_inputs(rng) -> dict:
    """The notebook's memory of capacity 5 (and a larger one), or for a grading run fresh sizes and transitions."""
    if rng is None:
        capacity, first, batch, total, other = 5, 3, 2, 7, 2
        spread = {"capacity": 24, "extra": 6, "batch": 4, "draws": 200, "seeds": [1, 2, 3]}
        spread["transitions"] = drawn_transitions(np.random.default_rng(2), 30, 4)
        return {"capacity": capacity, "first": first, "batch": batch, "total": total, "seed": 0, "one_draws": 60,
                "transitions": notebook_transitions(total), "other": {"obs_dim": other,
                                                                      "transitions": notebook_transitions(2, other)},
                "spread": spread}
    capacity = int(rng.integers(5, 9))
    first = int(rng.integers(3, capacity))
    total = int(rng.integers(capacity + 1, 2 * capacity))
    other = int(rng.choice([2, 3, 5, 6]))
    big, batch = int(rng.integers(20, 33)), int(rng.integers(3, 6))
    extra = int(rng.integers(batch + 1, big // 3 + 1))
    spread = {"capacity": big, "extra": extra, "batch": batch, "draws": 200,
              "seeds": [int(s) for s in rng.integers(0, 2**31, 3)],
              "transitions": drawn_transitions(rng, big + extra, 4)}
    return {"capacity": capacity, "first": first, "batch": int(rng.integers(2, first)), "total": total,
            "seed": int(rng.integers(0, 2**31)), "one_draws": 150, "transitions": drawn_transitions(rng, total, 4),
            "other": {"obs_dim": other, "transitions": drawn_transitions(rng, 2, other)}, "spread": spread}


# --- the probe ------------------------------------------------------------------------------

def probe_memory(rec, inputs: dict, memory_class) -> None:
    """Build memories with the student's class, push the inputs' transitions and record every batch sampled."""
    with torch.random.fork_rng(devices=[]):  # the notebook's own torch random stream is left as it was
        torch.manual_seed(inputs["seed"])
        _probe_main(rec, inputs, memory_class)
        _probe_other(rec, inputs["other"], memory_class)
        _probe_spread(rec, inputs["spread"], memory_class)


def _probe_main(rec, inputs: dict, memory_class) -> None:
    """The memory of the notebook's size: len, a few batches, the ring and the ValueError."""
    capacity, first, transitions = inputs["capacity"], inputs["first"], inputs["transitions"]
    memory = rec.call("build", memory_class, capacity, obs_dim=4)
    rec.note("storage", _storage(memory))
    rec.call("len new", len, memory)
    _push(rec, "push", memory, transitions, range(first))
    rec.call("len first", len, memory)
    rec.call("format", _draw, memory, inputs["batch"])
    rec.call("too many early", _draw, memory, first + 1, expect_error=True)
    for draw in range(30):
        rec.call(f"all {draw}", _draw, memory, first)
    for draw in range(inputs["one_draws"]):
        rec.call(f"one {draw}", _draw, memory, 1)
    _push(rec, "push", memory, transitions, range(first, inputs["total"]))
    rec.call("len full", len, memory)
    rec.call("held", _draw, memory, capacity)
    rec.call("too many", _draw, memory, capacity + 1, expect_error=True)
    _probe_twin(rec, inputs, memory_class, memory)


def _probe_twin(rec, inputs: dict, memory_class, memory) -> None:
    """A second memory of the same size, given other transitions: the first must still hold its own."""
    twin = rec.call("twin build", memory_class, inputs["capacity"], obs_dim=4, expect_error=True)
    if "raised" in rec.entries["twin build"]:
        return
    for i in range(2):
        rec.call(f"twin push {i}", twin.push, *_transition(inputs["spread"]["transitions"], i), expect_error=True)
    rec.call("held after twin", _draw, memory, inputs["capacity"])


def _probe_other(rec, other: dict, memory_class) -> None:
    """A memory of capacity 3 with states of another length: a hard-coded obs_dim shows here."""
    memory = rec.call("other build", memory_class, 3, obs_dim=other["obs_dim"], expect_error=True)
    if "raised" in rec.entries["other build"]:
        return
    for i in range(2):
        rec.call(f"other push {i}", memory.push, *_transition(other["transitions"], i), expect_error=True)
        if "raised" in rec.entries[f"other push {i}"]:
            return
    rec.call("other sample", _draw, memory, 2, expect_error=True)


def _probe_spread(rec, spread: dict, memory_class) -> None:
    """A larger memory filled past its capacity: many batches, and pairs drawn after the same torch.manual_seed."""
    memory = rec.call("spread build", memory_class, spread["capacity"], obs_dim=4)
    _push(rec, "spread push", memory, spread["transitions"], range(spread["capacity"] + spread["extra"]))
    rec.call("spread len", len, memory)
    for draw in range(spread["draws"]):
        rec.call(f"spread {draw}", _draw, memory, spread["batch"])
    for index, seed in enumerate(spread["seeds"]):
        for twin in (0, 1):
            torch.manual_seed(seed)
            rec.call(f"seeded {index} {twin}", _draw, memory, spread["batch"])
        rec.note(f"after seeded {index}", torch.rand(4))  # what torch's generator gives next: a reseed shows here


def _push(rec, key: str, memory, transitions: dict, numbers) -> None:
    """Push the transitions `numbers`, each recorded (a raise ends the probe)."""
    for i in numbers:
        rec.call(f"{key} {i}", memory.push, *_transition(transitions, i))


def _transition(transitions: dict, i: int) -> tuple:
    """The i-th transition as a student's push receives it: fresh arrays (or lists, which the statement allows),
    an int or NumPy action, a bool flag."""
    dtype = np.float32 if transitions["float32"][i] else np.float64
    state, next_state = (np.array(transitions[name][i], dtype=dtype) for name in ("states", "next_states"))
    if transitions["lists"][i]:
        state, next_state = state.tolist(), next_state.tolist()
    action = transitions["actions"][i]
    return (state, np.int64(action) if transitions["numpy_action"][i] else int(action),
            float(transitions["rewards"][i]), next_state, bool(transitions["terminated"][i]))


def _draw(memory, batch_size: int) -> dict:
    """`memory.sample(batch_size)` as plain data: its fields if it is a tuple (and whether they have names)."""
    batch = memory.sample(batch_size)
    if not isinstance(batch, tuple):
        return {"tuple": False, "value": batch}
    return {"tuple": True, "named": all(hasattr(batch, field) for field in FIELDS), "fields": list(batch)}


def _storage(memory) -> dict:
    """What the memory keeps: the first-axis lengths of its tensors and arrays, and the containers it uses."""
    values = list(vars(memory).values()) if hasattr(memory, "__dict__") else []
    stored = _stored_values(values)
    return {"rows": [int(len(v)) for v in stored if isinstance(v, (torch.Tensor, np.ndarray)) and v.ndim >= 1],
            "containers": [type(v).__name__ for v in values if isinstance(v, (list, tuple)) or hasattr(v, "maxlen")]}


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


# --- the judge ------------------------------------------------------------------------------

def judge_memory(results, inputs: dict) -> None:
    """Check len, the batches' format and rows, the ring, the ValueError, obs_dim and how batches spread."""
    capacity, first = inputs["capacity"], inputs["first"]
    _built(results, "build", capacity, 4)
    _judge_storage(results.value("storage"), capacity)
    size = _length(results, "len new")
    expect(size == 0, f"a new memory has len {size}; expected 0.", "len counts stored transitions, not capacity.")
    _pushed(results, "push", range(first), capacity, inputs["transitions"])
    size = _length(results, "len first")
    expect(size == first, f"after {first} pushes len(memory) is {size}; expected {first}.",
           "increase the count in push (up to capacity) and return it from __len__.")
    _batch(results, "format", inputs["batch"], 4)
    _judge_too_many(results, "too many early", first, capacity)
    _judge_first_write(results, inputs)
    _judge_rows(results, inputs)
    _judge_one(results, inputs)
    _judge_ring(results, inputs)
    _judge_too_many(results, "too many", capacity, capacity)
    _judge_twin(results, inputs)
    _judge_other(results, inputs["other"])
    _judge_spread(results, inputs["spread"])


def _built(results, key: str, capacity: int, obs_dim: int) -> None:
    """The memory was built; a TypeError means the signature differs."""
    info = results.raised(key)
    if info and info.get("type") == "TypeError":
        raise Mistake(f"ReplayMemory({capacity}, obs_dim={obs_dim}) raised TypeError: {info.get('message')}. "
                      "Hint: keep the signature ReplayMemory(capacity, obs_dim=4).")
    results.value(key)


def _judge_storage(storage, capacity: int) -> None:
    """The memory must hold preallocated tensors with one row per slot, not a growing list."""
    rows = storage.get("rows", []) if type(storage) is dict else []
    containers = storage.get("containers", []) if type(storage) is dict else []
    expect(capacity in rows,
           f"ReplayMemory({capacity}) holds no tensor with {capacity} rows"
           + (f" (it keeps a {containers[0]})" if containers else "") + "; expected preallocated storage.",
           "create the storage once in __init__, e.g. torch.zeros((capacity, obs_dim)) for states, "
           "and write each transition into row `position`.")


def _length(results, key: str) -> int:
    """What len(memory) gave (len itself makes it an int)."""
    size = results.value(key)
    expect(type(size) is int, f"len(memory) gave {describe(size)}; expected an int.", "return self.size from __len__.")
    return size


def _pushed(results, key: str, numbers, capacity: int, transitions: dict) -> None:
    """Every push returned; an IndexError past the capacity means the position does not wrap, and an error on a
    state given as a list means push accepts only arrays."""
    for i in numbers:
        info = results.raised(f"{key} {i}")
        if info and info.get("type") == "IndexError" and i >= capacity:
            raise Mistake(f"push raised IndexError ({info.get('message')}) on transition #{i} in a memory of "
                          f"capacity {capacity}. Hint: the write position must wrap around: "
                          "position = (position + 1) % capacity.")
        if info and transitions["lists"][i]:
            raise Mistake(f"push raised {info.get('type')} ({info.get('message')}) on transition #{i}, whose state "
                          "and next_state came as Python lists, which push must accept too. Hint: "
                          "torch.as_tensor(state, dtype=torch.float32) takes arrays and lists alike "
                          "(torch.from_numpy takes only NumPy arrays).")
        scalar_got_array = info and ("0-dimensional" in str(info.get("message"))
                                     or "only one element tensors" in str(info.get("message")))
        expect(not scalar_got_array, f"push raised {info and info.get('type')} ({info and info.get('message')}) on "
               f"transition #{i}{info and info.get('where') or ''}: a state reached a parameter that holds one number "
               "(the reward or the flag): push's parameters are in another order.", "keep the order "
               "push(state, action, reward, next_state, terminated), as the training loop calls it.")
        results.value(f"{key} {i}")


def _batch(results, key: str, batch_size: int, obs_dim: int) -> tuple:
    """The five tensors of the batch recorded under `key`, checked against the Batch format; else a Mistake."""
    return _fields(results.value(key), batch_size, obs_dim)


def _fields(data, batch_size: int, obs_dim: int, name: str = "") -> tuple:
    """A `Batch` of five tensors in the documented order, shapes and dtypes, as a plain tuple."""
    name = name or f"sample({batch_size})"
    if type(data) is not dict or not data.get("tuple"):
        value = data.get("value") if type(data) is dict else data
        length = f" of length {len(value)}" if type(value) in (list, tuple) else ""
        raise Mistake(f"{name} returned {describe(value)}{length}; expected Batch(states, actions, rewards, "
                      "next_states, terminated). Hint: return Batch(states, actions, rewards, next_states, terminated) "
                      "with one tensor per field.")
    fields = data.get("fields")
    expect(type(fields) is list and len(fields) == 5,
           f"{name} returned a tuple of length {len(fields) if type(fields) is list else '?'}; expected "
           "Batch(states, actions, rewards, next_states, terminated).",
           "return Batch(states, actions, rewards, next_states, terminated) with one tensor per field.")
    third = fields[2]
    expect(not (type(third) is torch.Tensor and third.dim() == 2 and tuple(third.shape[1:]) == (obs_dim,)),
           f"the third field of the batch has shape {tuple(third.shape) if type(third) is torch.Tensor else ''}: "
           "it looks like next_states; expected rewards.",
           "the order is (states, actions, rewards, next_states, terminated); the seed notebook's "
           "Transition put next_state before reward.")
    expect(data.get("named") is True,
           f"{name} returned a plain tuple; expected a Batch, whose fields have names.",
           "return Batch(states, actions, rewards, next_states, terminated), so that batch.states etc. work.")
    shapes = {"states": (batch_size, obs_dim), "actions": (batch_size,), "rewards": (batch_size,),
              "next_states": (batch_size, obs_dim), "terminated": (batch_size,)}
    for field, value in zip(FIELDS, fields):
        expect_tensor(value, f"{name}.{field}", shapes[field], torch.int64 if field == "actions" else torch.float32,
                      integer_hint=FLAGS_HINT if field == "terminated" else "")
    return tuple(fields)


def _numbers(states: torch.Tensor, pushed: np.ndarray) -> list:
    """Which pushed transition each sampled state row is (UNWRITTEN for an all-zero row, UNKNOWN for none)."""
    rows = states.double().numpy()
    reference = pushed.astype(np.float32).astype(np.float64)
    gaps = np.abs(rows[:, None, :] - reference[None, :, :]).max(axis=2)
    found = [int(np.argmin(row)) if row.min() < 1e-5 else UNKNOWN for row in gaps]
    return [UNWRITTEN if n == UNKNOWN and not np.any(rows[r]) else n for r, n in enumerate(found)]


def _judge_rows(results, inputs: dict) -> None:
    """Every row of a batch of all stored transitions is one stored transition, with all its fields, none twice."""
    first = inputs["first"]
    info = results.raised("all 0")
    if info and info.get("type") == "ValueError":
        raise Mistake(f"sample({first}) with {first} stored raised ValueError ({info.get('message')}): a batch may "
                      "hold every stored transition. Hint: raise only when batch_size > len(self).")
    _judge_one_draw(results, inputs)
    for draw in range(30):
        numbers = _rows(results, f"all {draw}", first, inputs["transitions"], range(first), inputs["capacity"])
        repeated = [n for n in sorted(set(numbers)) if numbers.count(n) > 1]
        expect(not repeated,
               f"sample({first}) with {first} stored returned transition #{repeated[0] if repeated else ''} "
               "more than once: it samples with replacement.",
               "draw distinct indices, e.g. torch.randperm(len(self))[:batch_size] (torch.randint can repeat).")


def _judge_one_draw(results, inputs: dict) -> None:
    """A state that comes back with another transition's next state in one batch than in another: one draw per field."""
    first, transitions = inputs["first"], inputs["transitions"]
    partners = {}
    try:  # a batch of the wrong format is named by the checks that follow
        for key in (f"all {draw}" for draw in range(30)):
            if results.has(key) and not results.raised(key):
                batch = _batch(results, key, first, 4)
                pairs = zip(_numbers(batch[0], transitions["states"]), _numbers(batch[3], transitions["next_states"]))
                for state, next_state in pairs:
                    partners.setdefault(state, set()).add(next_state)
    except Mistake:
        return
    expect(not any(n >= 0 and len(found) > 1 for n, found in partners.items()),
           f"in sample({first}) the same state came back with the next states of different transitions from one "
           "batch to the next: each field is indexed with its own random draw, so a row mixes transitions.",
           "draw one set of indices in sample and use it for every tensor: index = torch.randperm(len(self))"
           "[:batch_size], then states[index], actions[index], ... next_states[index], terminated[index].")


def _judge_flags(batch: tuple, numbers: list, transitions: dict) -> None:
    """terminated must come back as pushed; name a flag stored as a constant for every transition."""
    pairs = [(float(batch[4][row]), float(transitions["terminated"][n])) for row, n in enumerate(numbers) if n >= 0]
    wanted = {want for _, want in pairs}
    for constant in (0.0, 1.0):
        expect(not (len(wanted) == 2 and all(got == constant for got, _ in pairs)),
               f"terminated came back {constant} for every transition, those pushed with terminated="
               f"{constant == 0.0} too: the flag is not stored (a constant {constant} is).",
               "store the terminated argument at the row: self.terminated[position] = float(terminated).")


def _judge_first_write(results, inputs: dict) -> None:
    """Batches below capacity with an empty row and never the newest transition: push writes one row too far."""
    first, capacity = inputs["first"], inputs["capacity"]
    keys = [f"all {draw}" for draw in range(30)] + [f"one {draw}" for draw in range(inputs["one_draws"])]
    try:  # a batch of the wrong format is named by the checks that follow
        seen = {n for key in keys if results.has(key) and not results.raised(key)
                for n in _numbers(_batch(results, key, 1 if key.startswith("one") else first, 4)[0],
                                  inputs["transitions"]["states"])}
    except Mistake:
        return
    expect(not (UNWRITTEN in seen and first - 1 not in seen and set(range(first - 1)) <= seen),
           f"after {first} pushes into a new memory of capacity {capacity}, sampling returned an all-zero row but "
           f"never transition #{first - 1}, the last one pushed: push moves position on before writing, so the first "
           "transition went to row 1, row 0 was never written, and the newest one sits at row len(self).",
           "write the transition at self.position first, then advance: self.position = (self.position + 1) % "
           "capacity.")


def _rows(results, key: str, batch_size: int, transitions: dict, stored, capacity: int) -> list:
    """Which transitions the batch under `key` holds, each row checked to be one pushed transition, whole.

    `stored` lists the transitions the memory holds (None: any pushed one may come back).
    """
    batch = _batch(results, key, batch_size, 4)
    numbers = _numbers(batch[0], transitions["states"])
    filled = len(stored) if stored is not None else capacity
    if UNWRITTEN in numbers and filled < capacity:
        raise Mistake(f"sample({batch_size}) with {filled} of {capacity} slots filled returned an all-zero row. "
                      "Hint: that row was never written: draw indices below len(self), not below capacity.")
    expect(UNWRITTEN not in numbers, f"with all {capacity} slots full, sample({batch_size}) returned an all-zero row: "
           "a slot was never written.", "write at position and wrap it with position = (position + 1) % capacity, "
           "so that every slot 0 .. capacity - 1 gets written (not % (capacity - 1), not a skipped row).")
    _judge_following(batch, numbers, transitions)
    _judge_flags(batch, numbers, transitions)
    for row, number in enumerate(numbers):
        if number == UNKNOWN and _numbers(batch[0][row:row + 1], transitions["next_states"])[0] >= 0:
            raise Mistake(f"sample().states holds a next_state that was pushed (row {row}: {batch[0][row].tolist()}): "
                          "states and next_states are swapped, in push or in sample. Hint: push(state, action, "
                          "reward, next_state, terminated) writes state into the states tensor and next_state into "
                          "next_states; Batch(states, actions, rewards, next_states, terminated) in that order.")
        if number == UNKNOWN:
            raise Mistake(f"sample() returned a state that was never pushed (row {row}: {batch[0][row].tolist()})"
                          f"{_integer_storage(batch[0][row], transitions['states'])}. Hint: write state into the "
                          "states tensor at the current position.")
        if stored is not None and number not in stored:
            raise Mistake(f"sample({batch_size}) returned transition #{number}, which the memory no longer holds (it "
                          f"holds #{stored[0]} .. #{stored[-1]}). Hint: sample only rows of the memory, each holding "
                          "the transition last written there.")
        _judge_row(batch, row, number, transitions)
    return numbers


def _judge_twin(results, inputs: dict) -> None:
    """Filling a second memory of the same size must leave the first memory's transitions as they were."""
    capacity, total = inputs["capacity"], inputs["total"]
    error = results.raised("twin build")
    if error:
        raise Mistake(f"building a second memory of capacity {capacity} raised {crash_text(error)}: every memory "
                      "must work on its own, however many there are. Hint: keep all state on self, set in __init__.")
    states = _batch(results, "held after twin", capacity, 4)[0]
    if sorted(_numbers(states, inputs["transitions"]["states"])) == list(range(total - capacity, total)):
        return
    raise Mistake(f"after a second memory of capacity {capacity} was built and given two transitions, sample("
                  f"{capacity}) on the first no longer returned the first memory's transitions: the two memories "
                  "share their storage (tensors kept on the class, or in a default argument). Hint: create the "
                  "tensors in __init__ and keep them on self: self.states = torch.zeros((capacity, obs_dim)).")


def _judge_following(batch: tuple, numbers: list, transitions: dict) -> None:
    """A memory that takes next_state from the row after each state's is wrong wherever an episode ended."""
    states, next_states = transitions["states"], transitions["next_states"]
    for row, number in enumerate(numbers):
        got = batch[3][row].double().numpy()
        if 0 <= number < len(states) - 1 and not _same(got, next_states[number]) and _same(got, states[number + 1]):
            raise Mistake(f"row {row} of a sample holds the state of transition #{number} but the wrong next state: "
                          "next_states holds the state of the following push. Hint: store the next_state argument "
                          "itself, in its own tensor: after an episode ends, the next push starts a new episode.")


def _same(row: np.ndarray, pushed: np.ndarray) -> bool:
    """Is a sampled row the pushed vector (as float32 keeps it)?"""
    # np.allclose's test (rtol 1e-5), written out: np.allclose costs ~30 µs a call, and checks call this per row.
    pushed = pushed.astype(np.float32)
    return bool(np.all(np.abs(row - pushed) <= 1e-5 + 1e-5 * np.abs(pushed)))


def _integer_storage(row: torch.Tensor, pushed: np.ndarray) -> str:
    """', which is a pushed state without its fractional part: ...' when the row is a truncated pushed state."""
    truncated = np.trunc(pushed.astype(np.float32))
    if np.any(np.all(np.abs(truncated - row.double().numpy()) < 1e-6, axis=1)):
        return (", which is a pushed state without its fractional part: the states are kept in an integer "
                "tensor. Store them as float32")
    return ""


def _judge_row(batch: tuple, row: int, number: int, transitions: dict) -> None:
    """Row `row` of the batch must hold every field of pushed transition `number`."""
    state, next_state = transitions["states"][number], transitions["next_states"][number]
    got = batch[3][row].double().numpy()
    terminated = bool(transitions["terminated"][number])
    if not _same(got, next_state) and not np.any(got) and terminated:
        raise Mistake(f"row {row} of a sample holds transition #{number}, pushed with terminated=True, but its "
                      "next_state came back as zeros: the next state of a transition that ended an episode was "
                      "replaced by zeros. Hint: store the next_state argument as it is, always; the terminated flag "
                      "already makes the target ignore it.")
    if not _same(got, next_state):
        reason = ("next_states equals states: the state was stored in place of next_state." if _same(got, state) else
                  "next_states belongs to a different transition than states.")
        raise Mistake(f"row {row} of a sample holds the state of transition #{number} but the wrong next state: "
                      f"{reason} Hint: store next_state in its own tensor at the same position as state.")
    expected = {"actions": float(transitions["actions"][number]), "rewards": transitions["rewards"][number],
                "terminated": float(transitions["terminated"][number])}
    for field, index in (("actions", 1), ("rewards", 2), ("terminated", 4)):
        got = float(batch[index][row])
        if field == "terminated" and got == 1.0 - expected[field]:
            raise Mistake(f"terminated is {got} for a transition pushed with terminated={bool(expected[field])}: "
                          "the flag is inverted. Hint: store terminated itself (1.0 = the episode ended), not 'not done'.")
        if field == "rewards" and got != expected[field] and got in (float(int(expected[field])),
                                                                     float(round(expected[field]))):
            raise Mistake(f"row {row} of a sample has reward {got} where transition #{number} was pushed with "
                          f"{expected[field]}: the rewards lost their fractional part. Hint: keep the rewards as they "
                          "are, in a float32 tensor (not an integer one copied from actions, no int(reward)).")
        # np.isclose's test (rtol 1e-5, atol 1e-8) written out, as it runs for every row of every sample; `not <=`,
        # so that a NaN (a field push never wrote) fails as it does there
        if not abs(got - expected[field]) <= 1e-8 + 1e-5 * abs(expected[field]):
            raise Mistake(f"row {row} of a sample holds the state of transition #{number} but {field}={got} (that "
                          f"transition has {expected[field]}). Hint: use the same indices for every field, and write "
                          "every field at the same position in push.")


def _judge_one(results, inputs: dict) -> None:
    """Batches of one must come from every stored transition, not always the same one."""
    first, draws, capacity = inputs["first"], inputs["one_draws"], inputs["capacity"]
    drawn = [_rows(results, f"one {draw}", 1, inputs["transitions"], range(first), capacity)[0]
             for draw in range(draws)]
    seen = sorted(set(drawn))
    if seen == list(range(first)):
        return
    returned = f"{draws} calls of sample(1) with {first} stored only ever returned transitions {seen}"
    if len(seen) == 1 and _reseeds(results):
        raise Mistake(f"{returned}: sample calls torch.manual_seed itself, so every call draws the same indices. "
                      "Hint: leave seeding to the caller (seed_everything); sample only draws from torch's generator.")
    if seen == list(range(first - len(seen), first)):
        raise Mistake(f"{returned}, the {len(seen)} most recently pushed. Hint: sampling must be uniformly random "
                      "over all stored transitions, not the newest ones.")
    if seen == [0]:
        raise Mistake(f"{returned}: the same row every time, the first. Hint: draw the indices from range(len(self)) "
                      "(torch.randint(len(self), (batch_size,)) or torch.randperm(len(self))[:batch_size]), not from "
                      "range(batch_size), and afresh at every call.")
    if len(seen) == 1:
        raise Mistake(f"{returned}: the same row every time. Hint: draw fresh random indices at every call.")
    if seen == list(range(first - 1)):
        raise Mistake(f"{returned}: the last stored transition never came. Hint: draw indices from range(len(self)) "
                      "(an off-by-one such as torch.randperm(len(self) - 1) leaves the last one out).")
    raise Mistake(f"{returned}. Hint: sampling must be uniformly random over all stored transitions, not the first "
                  "or the newest.")


def _reseeds(results) -> bool:
    """Did torch's generator give the same numbers after sample, whatever seed it had before (a reseed inside)?"""
    keys = [f"after seeded {index}" for index in range(3)]
    if not all(results.has(key) for key in keys):
        return False
    after = [results.value(key) for key in keys]
    return all(type(a) is torch.Tensor for a in after) and all(torch.equal(after[0], a) for a in after[1:])


def _judge_ring(results, inputs: dict) -> None:
    """Pushing past capacity overwrites the oldest transitions and len stays at capacity."""
    capacity, first, total = inputs["capacity"], inputs["first"], inputs["total"]
    _pushed(results, "push", range(first, total), capacity, inputs["transitions"])
    size = _length(results, "len full")
    if size != capacity:
        position = total % capacity
        raise Mistake(f"after {total} pushes into capacity {capacity}, len(memory) is {size}; expected {capacity}. "
                      + ("Hint: that is the write position, which wraps around to 0: keep a separate count, "
                         "size = min(size + 1, capacity), and return it from __len__." if size == position else
                         "Hint: len never exceeds capacity: size = min(size + 1, capacity)." if size > capacity else
                         "Hint: len stopped below capacity: a count taken from the write position (such as size = "
                         "max(size, position)) stops growing once the position wraps around; count pushes with "
                         "size = min(size + 1, capacity)."))
    info = results.raised("held")
    if info and info.get("type") == "IndexError" and "out of bounds" in str(info.get("message")):
        raise Mistake(f"after {total} pushes into capacity {capacity}, sample({capacity}) raised {crash_text(info)}: "
                      f"it draws indices below the number of pushes ({total}), which keeps growing once the memory is "
                      f"full, not below the {capacity} transitions held. Hint: draw below len(self): "
                      "torch.randperm(len(self))[:batch_size].")
    rows, position = _row_count(results.value("held")), total % capacity
    if rows == position:
        raise Mistake(f"after {total} pushes into capacity {capacity}, sample({capacity}) returned {rows} rows: as "
                      f"many as the write position, which wrapped around to {position}. Hint: draw indices below "
                      "len(self), the number stored, not below position.")
    numbers = _rows(results, "held", capacity, inputs["transitions"], None, capacity)
    held, wanted = sorted(numbers), list(range(total - capacity, total))
    if held == wanted:
        return
    oldest = list(range(capacity))
    hint = "when full, overwrite the oldest transition: keep writing at position and wrap it with % capacity"
    if held == oldest:
        hint += " (your memory stopped storing new transitions)."
    elif held == oldest[:-1] + [total - 1]:
        hint += " (your memory overwrites its last slot again and again instead of the oldest)."
    else:
        hint += "."
    raise Mistake(f"after pushing transitions #0..#{total - 1} into capacity {capacity}, the memory holds {held}; "
                  f"expected {wanted}. Hint: {hint}")


def _row_count(data):
    """How many rows the first field of a recorded batch has (None when it is no tensor or array)."""
    fields = data.get("fields") if type(data) is dict else None
    first = fields[0] if type(fields) is list and fields else None
    return len(first) if type(first) in (torch.Tensor, np.ndarray) and first.ndim else None


def _judge_too_many(results, key: str, stored: int, capacity: int) -> None:
    """Asking for more transitions than stored must raise a ValueError."""
    asked = f"sample({stored + 1}) with {stored} stored" + ("" if stored == capacity else f" (capacity {capacity})")
    info = results.raised(key)
    if info and info.get("type") == "ValueError":
        return
    if info:
        raise Mistake(f"{asked} raised {info.get('type')}: {info.get('message')}; expected a ValueError. Hint: check "
                      "batch_size > len(self) first and raise ValueError with a message saying how many are stored.")
    rows = _row_count(results.value(key))
    raise Mistake(f"{asked} returned a batch with {'?' if rows is None else rows} rows; expected a ValueError. Hint: "
                  + ("a batch without replacement cannot be larger than the memory: raise ValueError." if stored ==
                     capacity else "compare batch_size with len(self), the number stored, not with the capacity."))


def _judge_other(results, other: dict) -> None:
    """The memory must use `obs_dim`, not a hard-coded 4."""
    obs_dim = other["obs_dim"]
    for key in ("other build", "other push 0", "other push 1", "other sample"):
        info = results.raised(key) if results.has(key) else None
        if info and not info.get("not_done"):
            raise Mistake(f"with obs_dim={obs_dim}, pushing {obs_dim}-element states raised {info.get('type')}: "
                          f"{info.get('message')}. Hint: size the state tensors with obs_dim, not a hard-coded 4.")
    _fields(results.value("other sample"), 2, obs_dim, f"with obs_dim={obs_dim}, sample(2)")


def _judge_spread(results, spread: dict) -> None:
    """On a larger memory past its capacity: batches cover every slot, are not windows, and follow torch's seed."""
    capacity, extra, batch_size, pushed = spread["capacity"], spread["extra"], spread["batch"], spread["transitions"]
    total = capacity + extra
    _built(results, "spread build", capacity, 4)
    _pushed(results, "spread push", range(total), capacity, pushed)
    size = _length(results, "spread len")
    expect(size == capacity, f"after {total} pushes into capacity {capacity}, len(memory) is {size}; expected "
           f"{capacity}.", "len never exceeds capacity: size = min(size + 1, capacity).")
    stored = range(total - capacity, total)
    draws = [_rows(results, f"spread {draw}", batch_size, pushed, stored, capacity) for draw in range(spread["draws"])]
    for numbers in draws:
        expect(len(set(numbers)) == len(numbers), f"sample({batch_size}) from a memory of {capacity} returned a "
               "transition more than once: it samples with replacement.",
               "draw distinct indices, e.g. torch.randperm(len(self))[:batch_size] (torch.randint can repeat).")
    _judge_coverage(draws, spread)
    _judge_windows(draws, spread)
    _judge_seeded(results, spread)


def _judge_coverage(draws: list, spread: dict) -> None:
    """Over many batches, every stored transition must come (not only the newest ones)."""
    capacity, total, batch_size = spread["capacity"], spread["capacity"] + spread["extra"], spread["batch"]
    seen = {n for numbers in draws for n in numbers}
    missing = sorted(set(range(total - capacity, total)) - seen)
    if not missing:
        return
    position = total % capacity
    newest = sorted(seen)[0] if seen else total
    if seen and sorted(seen) == list(range(newest, total)):
        where = (f"the {len(seen)} most recently written ones (slots 0 .. {position - 1}, below the write position "
                 "since the memory wrapped around). Hint: draw indices below len(self), the number stored, not "
                 "below position." if len(seen) == position else
                 f"the {len(seen)} most recently pushed ones. Hint: sample uniformly over the whole memory: "
                 "old transitions are what replay is for.")
    else:
        where = (f"{len(seen)} of them; transitions {missing[:5]}{' ...' if len(missing) > 5 else ''} never came. "
                 "Hint: sampling must be uniformly random over all stored transitions: "
                 "torch.randperm(len(self))[:batch_size].")
    raise Mistake(f"{len(draws)} calls of sample({batch_size}) on a full memory of {capacity} transitions only ever "
                  f"returned {where}")


def _judge_windows(draws: list, spread: dict) -> None:
    """Batches must not be runs of neighbouring rows: those hold consecutive, strongly correlated transitions."""
    capacity, batch_size = spread["capacity"], spread["batch"]
    windows = sum(_is_window([n % capacity for n in numbers], capacity) for numbers in draws)
    expect(windows <= len(draws) // 2,
           f"{windows} of {len(draws)} batches of sample({batch_size}) were one run of {batch_size} neighbouring rows "
           "(slots start .. start + batch_size - 1): a window from a random start. Consecutive transitions are "
           "strongly correlated, so such a batch is almost one piece of experience, not a sample of the memory.",
           "draw every index at random over the whole memory, without replacement: "
           "torch.randperm(len(self))[:batch_size].")


def _is_window(slots: list, capacity: int) -> bool:
    """Are `slots` one run of neighbouring slots, possibly wrapping around the end of the memory?"""
    ordered = sorted(slots)
    gaps = [b - a for a, b in zip(ordered, ordered[1:])] + [ordered[0] + capacity - ordered[-1]]
    return sum(gap == 1 for gap in gaps) >= len(slots) - 1


def _judge_seeded(results, spread: dict) -> None:
    """After the same torch.manual_seed, two calls of sample must give the same batch; different seeds, others."""
    batch_size, pushed = spread["batch"], spread["transitions"]
    stored = range(spread["extra"], spread["capacity"] + spread["extra"])
    pairs = [[_rows(results, f"seeded {index} {twin}", batch_size, pushed, stored, spread["capacity"])
              for twin in (0, 1)] for index in range(len(spread["seeds"]))]
    expect(all(a == b for a, b in pairs), f"after torch.manual_seed(s), two calls of sample({batch_size}) gave "
           "different batches.", "draw the indices with torch (torch.randperm), whose generator seed_everything "
           "seeds; the contract is torch's global RNG.")
    expect(len({tuple(a) for a, _ in pairs}) > 1, f"sample({batch_size}) returned the same batch after "
           f"{len(pairs)} different torch seeds.", "draw fresh random indices with torch's global generator at every "
           "call (no torch.manual_seed inside sample, no fixed indices).")


check_replay_memory = Check("2.1", "ReplayMemory", memory_inputs, probe_memory, judge_memory,
                            references=("utils.replay.ReplayMemory",))
