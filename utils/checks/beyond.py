"""Checks for notebook 7: the dueling network, n-step targets, prioritized replay and statistics over seeds."""
import functools
from typing import NamedTuple

import numpy as np
import torch
from scipy import stats
from torch import nn

from utils import prioritized
from utils.checks.core import (NUMBERS, Mistake, describe_crash, exercise, expect, expect_plain_parameters,
                               name_the_mistake, plain_array, plain_number, plain_tensor, plain_values)
from utils.checks.tensors import describe, expect_tensor


def _numbers(values) -> str:
    """Numbers written short, e.g. '[1, 0.25, 3.142]'."""
    return "[" + ", ".join(f"{float(v):.4g}" for v in np.ravel(values)) + "]"


# --- 7.1 DuelingQNetwork ------------------------------------------------------------------------

DUELING_DEFAULTS = {"obs_dim": 4, "n_actions": 2, "hidden": 128}
DUELING_SMALL = {"obs_dim": 6, "n_actions": 3, "hidden": 32}  # each differs from every default
BATCH = 5  # differs from every n_actions, so that a mean over the wrong dimension cannot broadcast by chance
# (attribute, its size as the statement writes it, what it stands for)
HEADS = (("value_head", "1", "V(s) is one number per state"),
         ("advantage_head", "n_actions", "one advantage A(s, a) per action"))
OUTPUT_ACTIVATIONS = {"ReLU": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                      "softmax": lambda q: torch.softmax(q, dim=-1)}
MEAN_HINT = "Q = V + A − A.mean(dim=-1, keepdim=True)."


class Built(NamedTuple):
    """A network the check built, the call that built it, and its sizes."""

    net: nn.Module
    call: str
    obs_dim: int
    n_actions: int
    hidden: int


@exercise("7.1", "DuelingQNetwork")
def check_dueling_network(network_class) -> None:
    """Build the network with default and other sizes; read V and A from its heads and compare Q with them."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for sizes in ({}, DUELING_SMALL):
            built = _build_dueling(network_class, sizes)
            _check_heads(built)
            _check_trunk_layers(built)
            states = 3 * torch.randn(BATCH, built.obs_dim)
            q_values, heads = _forward_watching_heads(built, states)
            _check_trunk_function(built, states, heads)
            _check_combination(built, q_values, heads)
            _check_single_state(built)


def _build_dueling(network_class, sizes: dict) -> Built:
    """`network_class(**sizes)` with the call that built it; a wrong signature is a named mistake."""
    call = f"DuelingQNetwork({', '.join(f'{k}={v}' for k, v in sizes.items())})"
    try:
        net = network_class(**sizes)
    except TypeError as error:
        raise Mistake(f"{call} raised TypeError: {error}. Hint: keep the signature "
                      "DuelingQNetwork(obs_dim=4, n_actions=2, hidden=128).") from None
    expect(isinstance(net, nn.Module), f"{call} built {describe(net)}; expected a torch.nn.Module.",
           "subclass nn.Module: class DuelingQNetwork(nn.Module).")
    expect_plain_parameters(net, call)
    return Built(net, call, **{**DUELING_DEFAULTS, **sizes})


def _check_heads(built: Built) -> None:
    """`value_head` must be Linear(hidden, 1) and `advantage_head` Linear(hidden, n_actions)."""
    for name, size, meaning in HEADS:
        head, outputs = getattr(built.net, name, None), 1 if size == "1" else built.n_actions
        expect(type(head) is nn.Linear, f"{built.call}.{name} is {describe(head)}; expected an nn.Linear.",
               "the statement names the two heads: self.value_head = nn.Linear(hidden, 1) and "
               "self.advantage_head = nn.Linear(hidden, n_actions).")
        shape = (head.in_features, head.out_features)
        expect(shape == (built.hidden, outputs), f"{built.call}.{name} is Linear{shape}; expected "
               f"Linear({built.hidden}, {outputs}): {meaning}.", f"self.{name} = nn.Linear(hidden, {size}).")


def _trunk_linears(built: Built) -> list:
    """The network's linear layers other than its two heads."""
    heads = [getattr(built.net, name) for name, _, _ in HEADS]
    # type(), not isinstance: a subclass could rig its forward
    return [m for m in built.net.modules() if type(m) is nn.Linear and all(m is not head for head in heads)]


def _check_trunk_layers(built: Built) -> None:
    """Besides the heads, exactly Linear(obs_dim, hidden) and Linear(hidden, hidden)."""
    shapes = sorted((m.in_features, m.out_features) for m in _trunk_linears(built))
    wanted = sorted([(built.obs_dim, built.hidden), (built.hidden, built.hidden)])
    expect(shapes == wanted, f"{built.call} has the linear layers {', '.join(f'Linear{s}' for s in shapes) or 'none'} "
           f"besides its heads; expected Linear({built.obs_dim}, {built.hidden}) and Linear({built.hidden}, "
           f"{built.hidden}).", "the trunk is Linear(obs_dim, hidden), ReLU, Linear(hidden, hidden), ReLU, sized with "
           "the arguments.")


def _forward_watching_heads(built: Built, states: torch.Tensor) -> tuple:
    """The network's Q-values for `states`, and {head name: (its input, its output)} read with forward hooks."""
    seen = {}

    def recorder(name):
        """A forward hook keeping the input and output of the head called `name`."""
        def record(module, inputs, output):
            """Keep this call's input and output (the last call wins)."""
            seen[name] = tuple(plain_tensor(x, f"{built.call}.{name}'s {part} is", "a tensor").detach()
                               for x, part in ((inputs[0], "input"), (output, "output")))
        return record

    handles = [getattr(built.net, name).register_forward_hook(recorder(name)) for name, _, _ in HEADS]
    try:
        q_values = built.net(states)
    except RuntimeError as error:
        if "must match the size" not in str(error):
            raise
        raise Mistake(f"{built.call} on a batch of shape {tuple(states.shape)} raised {describe_crash(error)}. "
                      "Hint: keep the action dimension when averaging: A.mean(dim=-1, keepdim=True) has shape (B, 1) "
                      "and broadcasts against (B, n_actions).") from None
    finally:
        for handle in handles:
            handle.remove()
    expect_tensor(q_values, f"{built.call}'s output for a batch of shape {tuple(states.shape)}",
                  (len(states), built.n_actions), torch.float32)
    expect(q_values.requires_grad, f"{built.call}'s output does not require grad: forward ran under "
           "torch.no_grad() or detached its result.", "forward must stay differentiable so the network can be trained.")
    missing = [name for name, _, _ in HEADS if name not in seen]
    expect(not missing, f"{built.call}'s forward never calls self.{missing[0] if missing else ''}.",
           "features = trunk(states), V = self.value_head(features), A = self.advantage_head(features), then "
           + MEAN_HINT)
    return q_values.detach(), seen


def _close(got: torch.Tensor):
    """A test: is a candidate tensor `got`, up to float32 rounding?"""
    return lambda value: value.shape == got.shape and torch.allclose(got, value, rtol=1e-4, atol=1e-5)


def _check_trunk_function(built: Built, states: torch.Tensor, heads: dict) -> None:
    """Both heads must read ReLU(Linear(ReLU(Linear(states)))) of the trunk's own layers."""
    linears = _trunk_linears(built)
    first = next(m for m in linears if m.in_features == built.obs_dim)
    second = next(m for m in linears if m is not first)
    features = heads["value_head"][0]
    with torch.no_grad():
        expected = torch.relu(second(torch.relu(first(states))))
        if not _close(features)(expected):
            hint = " Hint: the trunk is Linear, ReLU, Linear, ReLU: a ReLU after each of its two layers."
            name_the_mistake(_close(features), {
                "there is no ReLU between the two trunk layers." + hint: torch.relu(second(first(states))),
                "there is no ReLU after the trunk's second layer, before the heads." + hint:
                    second(torch.relu(first(states))),
            }, f"the input of {built.call}'s heads is not ReLU(Linear(ReLU(Linear(states)))) of its trunk layers."
               + hint, returned=f"the input of {built.call}'s heads is not the trunk's output: ")
    expect(torch.allclose(heads["advantage_head"][0], features), f"{built.call}'s two heads get different inputs.",
           "both heads read the trunk's output: V = self.value_head(features), A = self.advantage_head(features).")


def _check_combination(built: Built, q_values: torch.Tensor, heads: dict) -> None:
    """Q must be V + A − (mean of A over the actions), V and A being what the heads returned."""
    values, advantages = heads["value_head"][1], heads["advantage_head"][1]
    centred = advantages - advantages.mean(dim=-1, keepdim=True)
    expected = values + centred
    if _close(q_values)(expected):
        return
    hint = " Hint: " + MEAN_HINT
    relu_advantages = torch.relu(advantages)
    name_the_mistake(_close(q_values), {
        "the mean advantage is not subtracted (Q = V + A), so V and A are not identifiable: any constant can move "
        "from one to the other." + hint: values + advantages,
        "it subtracts the largest advantage, not the mean (the paper's equation 8; the exercise asks for the mean, "
        "equation 9)." + hint: values + advantages - advantages.max(dim=-1, keepdim=True).values,
        "the mean is taken over the batch (dim 0), so a state's Q-values depend on the other states of its batch. "
        "Hint: average over the actions: A.mean(dim=-1, keepdim=True).":
            values + advantages - advantages.mean(dim=0, keepdim=True),
        "the mean is taken over every advantage of the batch at once. Hint: average each state's advantages over its "
        "actions: A.mean(dim=-1, keepdim=True).": values + advantages - advantages.mean(),
        "there is a ReLU on V, the value head's output: state values can be negative. Hint: use the heads' outputs as "
        "they are.": torch.relu(values) + centred,
        "there is a ReLU on A, the advantage head's output: advantages are negative for worse-than-average actions. "
        "Hint: use the heads' outputs as they are.":
            values + relu_advantages - relu_advantages.mean(dim=-1, keepdim=True),
        **{f"there is a {name} on the output: Q-values are unbounded real numbers. Hint: return "
           "V + A − A.mean(dim=-1, keepdim=True) as it is.": activation(expected)
           for name, activation in OUTPUT_ACTIVATIONS.items()},
    }, f"{built.call}'s output differs by up to {(q_values - expected).abs().max():.3g} from V + A − mean over the "
       "actions of A, V and A being what value_head and advantage_head returned." + hint,
        returned=f"{built.call}'s output is not V + A − mean over the actions of A (V and A: what value_head and "
                 "advantage_head returned): ")


def _check_single_state(built: Built) -> None:
    """One state (obs_dim,) must give (n_actions,) Q-values, the same as in a batch of one."""
    state = 3 * torch.randn(built.obs_dim)
    hint = ("take the mean over the last dimension, A.mean(dim=-1, keepdim=True): it is the action dimension for one "
            "state (n_actions,) and for a batch (B, n_actions) alike.")
    try:
        q_values = built.net(state)
    except Exception as error:  # any crash here is the single-state case failing
        raise Mistake(f"{built.call} fails on a single state of shape ({built.obs_dim},): it raised "
                      f"{describe_crash(error)}. Hint: {hint}") from None
    shape = (built.n_actions,)
    expect(type(q_values) is torch.Tensor and tuple(q_values.shape) == shape, f"{built.call} on a single state "
           f"of shape ({built.obs_dim},) returned {describe(q_values)}; expected shape {shape}, one Q-value per "
           "action.", hint)
    with torch.no_grad():
        in_a_batch = built.net(state.unsqueeze(0))[0]
    expect(torch.allclose(q_values.detach(), in_a_batch, rtol=1e-4, atol=1e-5), f"{built.call} gives a single state "
           "other Q-values than the same state in a batch of one.", hint)


# --- 7.2 n_step_targets -------------------------------------------------------------------------

EPISODE_REWARDS = (1.0, -0.5, 2.0, 0.25, 3.0)
EPISODE_VALUES = (10.0, 20.0, 30.0, 40.0, 50.0)  # far apart, so that a value read one step off shows
N_STEP_GAMMA = 0.9
# (n, terminated): windows shorter than the episode, one-step targets, and n ≥ T; each episode ends by
# termination, then by truncation. The first two cases expose most mistakes.
N_STEP_CASES = ((3, True), (3, False), (1, True), (1, False), (8, True), (8, False))
WINDOW_HINT = ("stop the window at the episode's end: m = min(n, T − t) rewards, then bootstrap_values[t + m − 1], "
               "the value of s_(t+m); every step t < T gets a target, the last ones with m < n.")


@exercise("7.2", "n_step_targets")
def check_n_step_targets(n_step_targets) -> None:
    """Compare the targets of a 5-step episode with hand-computed ones, for several n and both ways of ending."""
    for n, terminated in N_STEP_CASES:
        _check_n_step_case(n_step_targets, n, terminated)


def _n_step_reference(n: int, terminated: bool, masks_end=None, power=lambda m, n: m, value_shift: int = 0,
                      reward_shift: int = 0) -> np.ndarray:
    """The targets of the test episode; the keywords make the usual mistakes (their defaults: the right answer).

    `masks_end`: whether the bootstrap is dropped when the window reaches the end (right: `terminated`);
    `power(m, n)`: the exponent of γ on the bootstrap; `value_shift`: reading bootstrap_values[t + m − 1 + shift];
    `reward_shift`: discounting r_(t+k) by γ^(k + shift).
    """
    length = len(EPISODE_REWARDS)
    masks_end = terminated if masks_end is None else masks_end
    targets = []
    for t in range(length):
        m = min(n, length - t)
        rewards = sum(N_STEP_GAMMA ** (k + reward_shift) * EPISODE_REWARDS[t + k] for k in range(m))
        value = EPISODE_VALUES[min(max(t + m - 1 + value_shift, 0), length - 1)]
        bootstraps = not (masks_end and t + m == length)
        targets.append(rewards + bootstraps * N_STEP_GAMMA ** power(m, n) * value)
    return np.array(targets)


def _check_n_step_case(n_step_targets, n: int, terminated: bool) -> None:
    """The targets for one (n, terminated) must be the reference's; name the mistake they match otherwise."""
    call = (f"n_step_targets({list(EPISODE_REWARDS)}, {list(EPISODE_VALUES)}, terminated={terminated}, n={n}, "
            f"gamma={N_STEP_GAMMA})")
    targets = _n_step_call(n_step_targets, call, n, terminated)
    expected = _n_step_reference(n, terminated)
    if np.allclose(targets, expected):
        return
    name_the_mistake(lambda value: np.allclose(targets, value), {
        "it bootstraps after termination: the episode ended at s_T, which has no future value. Hint: drop the "
        "bootstrap term when terminated and t + m == T.": _n_step_reference(n, terminated, masks_end=False),
        "truncation is treated as termination: cut by the time limit, s_T still has a future, so the last targets "
        "must bootstrap from bootstrap_values[T − 1]. Hint: drop the bootstrap term only if terminated (and "
        "t + m == T).": _n_step_reference(n, terminated, masks_end=True),
        "near the end it discounts the bootstrap by γ^n, but there the window holds only m = T − t < n rewards. "
        "Hint: γ^m with m = min(n, T − t).": _n_step_reference(n, terminated, power=lambda m, n: n),
        "the bootstrap value is read one step late: bootstrap_values[t + m] is the value of s_(t+m+1). Hint: "
        "bootstrap from bootstrap_values[t + m − 1], the value of s_(t+m) where the window ends.":
            _n_step_reference(n, terminated, value_shift=1),
        "the bootstrap value is read one step early: bootstrap_values[t + m − 2] is the value of s_(t+m−1). Hint: "
        "bootstrap from bootstrap_values[t + m − 1], the value of s_(t+m) where the window ends.":
            _n_step_reference(n, terminated, value_shift=-1),
        "the first reward is discounted: r_(t+k) gets γ^(k+1). Hint: r_t is received now, undiscounted: "
        "Σ_(k<m) γ^k r_(t+k).": _n_step_reference(n, terminated, reward_shift=1),
        "everything is discounted once too often: r_(t+k) gets γ^(k+1) and the bootstrap γ^(m+1). Hint: r_t is "
        "received now, undiscounted: Σ_(k<m) γ^k r_(t+k) + γ^m · bootstrap_values[t + m − 1].":
            _n_step_reference(n, terminated, reward_shift=1, power=lambda m, n: m + 1),
    }, f"{call} returned {_numbers(targets)}; expected {_numbers(expected)}. Hint: y_t = Σ_(k<m) γ^k r_(t+k) + "
       "γ^m · bootstrap_values[t + m − 1] · (0 if terminated and t + m == T else 1), with m = min(n, T − t).",
        returned=f"{call} returned {_numbers(targets)}, expected {_numbers(expected)}: ")


def _n_step_call(n_step_targets, call: str, n: int, terminated: bool) -> np.ndarray:
    """The student's targets for the test episode as a float array of one target per step."""
    length = len(EPISODE_REWARDS)
    try:
        got = n_step_targets(np.array(EPISODE_REWARDS), np.array(EPISODE_VALUES), terminated, n, N_STEP_GAMMA)
    except IndexError as error:
        raise Mistake(f"{call} raised {describe_crash(error)}: it reads past the episode's end. "
                      f"Hint: {WINDOW_HINT}") from None
    targets = plain_values(got, f"{call} returned", f"a NumPy array of {length} targets",
                           "return np.array(targets), one float per step.", containers=(list, tuple, np.ndarray, torch.Tensor))
    expect(targets.shape == (length,), f"{call} returned " + (f"{len(targets)} targets" if targets.ndim == 1 else
           f"an array of shape {targets.shape}") + f" for an episode of {length} steps; expected {length}, one per "
           "step.", WINDOW_HINT)
    return targets


# --- 7.3 SumTree --------------------------------------------------------------------------------

TREE_CAPACITY = 8
FILLED = (3.0, 1.0, 4.0, 1.0, 5.0, 9.0)  # slots 6 and 7 stay 0; integers keep every sum exact
OVERWRITES = ((2, 7.0), (3, 0.0))  # then a zero-priority slot sits between positive ones: find must skip it
ALL_POSITIVE = (3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0)  # for values exactly on a prefix sum
LARGE_CAPACITY = 1024
PATH_NODES = LARGE_CAPACITY.bit_length()  # a leaf and its ancestors: log2(capacity) + 1 = 11 nodes
# Recomputing each parent on the path from its two children touches 3 entries per level (31 in all), a
# descent reading both children and the left one again about as many; a scan touches 1,024 or more.
MAX_ACCESSES = 4 * PATH_NODES


class CountedNodes(np.ndarray):
    """A tree's `nodes` array that counts the entries read or written through it, to tell O(log N) from O(N).

    Indexing counts the entries it touches; NumPy functions and ufuncs (sum, cumsum, searchsorted,
    arithmetic) count the whole array they are given; iterating counts every entry.
    """

    def __new__(cls, nodes):
        """A counted copy of `nodes`, its count at 0."""
        counted = np.array(nodes, dtype=float).view(cls)
        counted.accesses = [0]
        return counted

    def __array_finalize__(self, source):
        """Views made by slicing share the count of the array they view (a one-element list)."""
        self.accesses = getattr(source, "accesses", [0])

    def __getitem__(self, index):
        """The entries at `index`, as a plain array or number, counted."""
        entries = self.view(np.ndarray)[index]
        self.accesses[0] += np.size(entries)
        return entries

    def __setitem__(self, index, value):
        """Write the entries at `index`, counted."""
        plain = self.view(np.ndarray)
        self.accesses[0] += np.size(plain[index])
        plain[index] = value

    def __iter__(self):
        """Iterate over the plain entries, counting them all."""
        self.accesses[0] += self.size
        return iter(self.view(np.ndarray))

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """Apply the ufunc to plain arrays, counting the entries of every counted input."""
        self.accesses[0] += sum(x.size for x in inputs if isinstance(x, CountedNodes))
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(x) for x in kwargs["out"])
        return getattr(ufunc, method)(*map(_plain, inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        """Apply the NumPy function to plain arrays, counting the entries of every counted argument."""
        self.accesses[0] += sum(x.size for x in args if isinstance(x, CountedNodes))
        return func(*map(_plain, args), **kwargs)


def _plain(value):
    """`value` as a plain ndarray if it is a `CountedNodes`, else unchanged."""
    return value.view(np.ndarray) if isinstance(value, CountedNodes) else value


@exercise("7.3", "SumTree")
def check_sum_tree(tree_class) -> None:
    """Fill and overwrite slots, compare every node and `find` with brute force, then count accesses per call."""
    tree, priorities = tree_class(TREE_CAPACITY), np.zeros(TREE_CAPACITY)
    for slot, priority in enumerate(FILLED):
        tree.update(slot, priority)
        priorities[slot] = priority
    _expect_sums(tree, priorities, f"after update(j, p_j) for the priorities {_numbers(FILLED)}")
    for slot, priority in OVERWRITES:
        _check_overwrite(tree, priorities, slot, priority)
    rng = np.random.default_rng(7)
    _check_find(tree, priorities, rng.uniform(0, priorities.sum(), 40))
    positive = tree_class(TREE_CAPACITY)
    for slot, priority in enumerate(ALL_POSITIVE):
        positive.update(slot, priority)
    # A value equal to the sum of p_0..p_j belongs to slot j + 1: sum(p_0..p_j) <= value < sum(p_0..p_(j+1)).
    _check_find(positive, np.array(ALL_POSITIVE), np.concatenate([[0.0], np.cumsum(ALL_POSITIVE)[:-1]]))
    _check_logarithmic(tree_class, rng)


def _total(tree) -> float:
    """`tree.total()` as the skeleton writes it (a property is accepted too)."""
    total = tree.total
    return plain_number(total() if callable(total) else total, "total() returned", "a number")


def _sums_problem(tree, priorities: np.ndarray, after: str) -> str:
    """What is wrong with the leaves, the inner sums or total() of `tree`, or '' if nothing."""
    capacity, nodes = len(priorities), _nodes(tree)
    leaves = nodes[capacity:]
    if not np.array_equal(leaves, priorities):
        return (f"{after}, the leaves nodes[{capacity}:] hold {_numbers(leaves)}; expected {_numbers(priorities)}. "
                "Hint: slot j is the leaf nodes[capacity + j].")
    wrong = [k for k in range(1, capacity) if nodes[k] != nodes[2 * k] + nodes[2 * k + 1]]
    total, expected = _total(tree), priorities.sum()
    if not wrong and total == expected:
        return ""
    where = (f": node {wrong[0]}{' (the root)' if wrong[0] == 1 else ''} holds {nodes[wrong[0]]:g}, not the sum of "
             f"its children {nodes[2 * wrong[0]] + nodes[2 * wrong[0] + 1]:g}") if wrong else ""
    return (f"{after}, total() returns {total:g}; expected {expected:g}{where}. Hint: after setting the leaf, move up "
            "(node //= 2) and update every ancestor, the root (node 1) included.")


def _nodes(tree) -> np.ndarray:
    """`tree.nodes` as a new float array, checked to hold plain numbers (they are compared with the sums)."""
    return plain_values(tree.nodes, "tree.nodes is", "a NumPy array of 2 * capacity sums",
                        "self.nodes = np.zeros(2 * capacity).")


def _expect_sums(tree, priorities: np.ndarray, after: str) -> None:
    """Fail unless the leaves hold `priorities` and every inner node the sum of its children."""
    problem = _sums_problem(tree, priorities, after)
    if problem:
        raise Mistake(problem)


def _check_overwrite(tree, priorities: np.ndarray, slot: int, priority: float) -> None:
    """Overwriting a slot must replace its priority, and change every sum above it by the difference only."""
    old, old_total = priorities[slot], priorities.sum()
    tree.update(slot, priority)
    priorities[slot] = priority
    after = f"after update({slot}, {priority:g}) overwrote the priority {old:g}"
    leaf = TREE_CAPACITY + slot
    got = (float(_nodes(tree)[leaf]), _total(tree))
    if got != (priority, priorities.sum()):
        name_the_mistake(lambda value: got == value, {
            "update adds the new priority to the old one instead of replacing it. Hint: set the leaf to the new "
            "priority, and change each ancestor by the difference (new − old), or recompute it from its children.":
                (old + priority, old_total + priority),
            "update adds the new priority to every ancestor, so the old one is still counted. Hint: change each "
            "ancestor by the difference (new − old), or recompute it as the sum of its two children.":
                (priority, old_total + priority),
        }, _sums_problem(tree, priorities, after), returned=f"{after}, nodes[{leaf}] is {got[0]:g} and total() "
                                                            f"{got[1]:g}; expected {priority:g} and "
                                                            f"{priorities.sum():g}: ")
    _expect_sums(tree, priorities, after)


def _tree_nodes(priorities: np.ndarray) -> np.ndarray:
    """The `nodes` array of a sum tree over `priorities` (their number a power of two), laid out as the skeleton's."""
    capacity = len(priorities)
    nodes = np.zeros(2 * capacity)
    nodes[capacity:] = priorities
    for k in range(capacity - 1, 0, -1):
        nodes[k] = nodes[2 * k] + nodes[2 * k + 1]
    return nodes


def _descend(priorities: np.ndarray, value: float, subtracts: bool = True, strict: bool = True) -> int:
    """The slot a root-to-leaf descent finds; `subtracts=False` and `strict=False` make the usual mistakes."""
    capacity, nodes = len(priorities), _tree_nodes(priorities)
    node = 1
    while node < capacity:
        left = 2 * node
        if value < nodes[left] or (not strict and value == nodes[left]):
            node = left
        else:
            value -= nodes[left] if subtracts else 0.0
            node = left + 1
    return node - capacity


def _check_find(tree, priorities: np.ndarray, values) -> None:
    """`find(v)` must be the slot j with sum(p_0..p_(j−1)) <= v < sum(p_0..p_j), found by brute force."""
    prefix_sums = np.cumsum(priorities)
    about = f"with priorities {_numbers(priorities)} (prefix sums {_numbers(prefix_sums)}),"
    for value in map(float, values):
        got = plain_number(tree.find(value), f"{about} find({value:g}) returned", "a slot number, an int",
                           "return the leaf's slot, node − capacity.", types=(int, np.integer))
        expected = int(np.searchsorted(prefix_sums, value, side="right"))
        if got != expected:
            name_the_mistake(lambda slot: got == slot, {
                "it returns the leaf's node number, not its slot. Hint: slot = node − capacity.":
                    expected + len(priorities),
                "going right, it does not subtract the left child's sum from the value. Hint: when value >= the left "
                "sum, go right with value − left sum (the right subtree's prefix sums start at 0).":
                    _descend(priorities, value, subtracts=False),
                "a value equal to the left child's sum goes left, but it belongs to the right subtree. Hint: go left "
                "only if value < left sum, as in sum(p_0..p_(j−1)) <= value < sum(p_0..p_j).":
                    _descend(priorities, value, strict=False),
            }, f"{about} find({value:g}) returned {got}; expected slot {expected}.",
                returned=f"{about} find({value:g}) returned {got}, expected {expected}: ")


def _check_logarithmic(tree_class, rng: np.random.Generator) -> None:
    """At capacity 1024, each update and find may touch only a few entries per level of the tree."""
    tree = tree_class(LARGE_CAPACITY)
    priorities = rng.integers(1, 10, LARGE_CAPACITY).astype(float)
    # Filled directly (the layout was checked at capacity 8): 1,024 updates through a slow update would take long.
    tree.nodes = counted = CountedNodes(_tree_nodes(priorities))
    levels = f"a leaf and its ancestors are {PATH_NODES} nodes"
    for slot, priority in ((0, 2.0), (517, 3.0), (LARGE_CAPACITY - 1, 1.0)):
        counted.accesses[0] = 0
        tree.update(slot, priority)
        priorities[slot] = priority
        expect(counted.accesses[0] <= MAX_ACCESSES, f"at capacity {LARGE_CAPACITY}, update({slot}, {priority:g}) read "
               f"or wrote {counted.accesses[0]} entries of nodes; {levels}.", "update only the leaf and its "
               "ancestors, moving up one parent at a time (node //= 2): O(log capacity), not the whole tree.")
    for value in rng.uniform(0, priorities.sum(), 3):
        counted.accesses[0] = 0
        tree.find(float(value))
        expect(counted.accesses[0] <= MAX_ACCESSES, f"at capacity {LARGE_CAPACITY}, find({value:g}) read "
               f"{counted.accesses[0]} entries of nodes; {levels}.", "descend from the root, choosing one child per "
               "level: O(log capacity), not a scan of the leaves.")
    _check_find(tree, priorities, rng.uniform(0, priorities.sum(), 5))


# --- 7.4 priorities, importance weights, β -------------------------------------------------------

TD_ERRORS = (-2.0, 0.0, 0.5, 3.0)
ALPHA = 0.6
EPS = 1e-6
BATCH_PROBABILITIES = (0.1, 0.4, 0.2, 0.05)  # P(i) of a batch's transitions: they need not sum to 1
MEMORY_SIZE = 100
BETA = 0.4
BETA_STEPS = (0, 250, 1000, 1500)  # the start, a quarter of the way, the end of the schedule, and past it
BETA_TOTAL_STEPS = 1000


@exercise("7.4", "priorities_from / importance_weights / beta_at")
def check_per_weights(priorities_from, importance_weights, beta_at) -> None:
    """Compare the three functions with the formulas of Schaul et al. (2016) on small hand-picked inputs."""
    _check_priorities(priorities_from)
    _check_importance_weights(importance_weights)
    _check_beta_at(beta_at)


def _array_result(got, call: str, length: int, what: str) -> np.ndarray:
    """`got` if it is a float ndarray of `length` entries, else a mistake saying what came back."""
    wanted, hint = f"a NumPy array of {length} {what}", ("compute with NumPy on the array you are given (np.abs, **), "
                                                         "which returns an array of the same shape.")
    plain = plain_array(got, f"{call} returned", wanted, hint, kinds="iuf")
    expect(plain.shape == (length,), f"{call} returned {describe(plain)}; expected {wanted}.", hint)
    return plain.astype(float)


def _check_priorities(priorities_from) -> None:
    """(|δ| + eps)^α elementwise, with eps = 1e-6 by default and the eps passed otherwise."""
    td_errors = np.array(TD_ERRORS)
    call = f"priorities_from(np.array({list(TD_ERRORS)}), alpha={ALPHA})"
    got = _array_result(priorities_from(td_errors.copy(), ALPHA), call, len(td_errors), "priorities")
    expected = prioritized.priorities_from_td_errors(td_errors, ALPHA, EPS)
    if not np.allclose(got, expected, rtol=1e-9, atol=0):
        hint = " Hint: (|δ| + eps) ** alpha."
        with np.errstate(invalid="ignore"):  # a fractional power of a negative error is NaN, as in the mistake
            signed = (td_errors + EPS) ** ALPHA
        name_the_mistake(lambda value: np.allclose(got, value, rtol=1e-9, atol=0, equal_nan=True), {
            "eps is missing: a TD error of 0 gives priority 0, and that transition is never replayed again." + hint:
                np.abs(td_errors) ** ALPHA,
            "α is missing: priorities proportional to |δ| replay large errors too greedily (α = 0 is uniform "
            "sampling, α = 1 fully proportional)." + hint: np.abs(td_errors) + EPS,
            "eps is added after the power." + hint: np.abs(td_errors) ** ALPHA + EPS,
            "the sign of δ is kept, so negative errors give NaN. Hint: (np.abs(td_errors) + eps) ** alpha.": signed,
        }, f"{call} returned {_numbers(got)}; expected {_numbers(expected)}." + hint,
            returned=f"{call} returned {_numbers(got)}, expected {_numbers(expected)}: ")
    call = f"priorities_from(np.array({list(TD_ERRORS)}), {ALPHA}, 0.01)"
    got = _array_result(priorities_from(td_errors.copy(), ALPHA, 0.01), call, len(td_errors), "priorities")
    expected = prioritized.priorities_from_td_errors(td_errors, ALPHA, 0.01)
    expect(np.allclose(got, expected, rtol=1e-9, atol=0), f"{call} returned {_numbers(got)}; expected "
           f"{_numbers(expected)}: the eps argument is ignored.", "use the eps parameter, not a fixed 1e-6.")


def _check_importance_weights(importance_weights) -> None:
    """(N · P)^(−β) divided by its max; all 1 when β = 0."""
    probabilities = np.array(BATCH_PROBABILITIES)
    call = f"importance_weights(np.array({list(BATCH_PROBABILITIES)}), {MEMORY_SIZE}, {BETA})"
    got = _array_result(importance_weights(probabilities.copy(), MEMORY_SIZE, BETA), call, len(probabilities),
                        "weights")
    expected = prioritized.importance_weights(probabilities, MEMORY_SIZE, BETA)
    if not np.allclose(got, expected):
        raw = (MEMORY_SIZE * probabilities) ** -BETA
        hint = " Hint: w = (N · P) ** (−beta), then w / w.max()."
        name_the_mistake(lambda value: np.allclose(got, value), {
            f"the weights are not normalised: the largest is {got.max():.4g}, not 1. Hint: divide by their max, so "
            "that the weights only ever scale updates down.": raw,
            "the exponent is +β: the frequent transitions get the larger weights, but it is the rare ones (small "
            "P) whose updates need the weight, to make up for being sampled less." + hint:
                prioritized.importance_weights(probabilities, MEMORY_SIZE, -BETA),
            "the weights are divided by their sum; the max is the one to divide by (the largest weight is then 1)."
            + hint: raw / raw.sum(),
            "β is ignored: the exponent is −1 whatever beta is." + hint: probabilities.min() / probabilities,
        }, f"{call} returned {_numbers(got)}; expected {_numbers(expected)}." + hint,
            returned=f"{call} returned {_numbers(got)}, expected {_numbers(expected)}: ")
    call = f"importance_weights(np.array({list(BATCH_PROBABILITIES)}), {MEMORY_SIZE}, 0.0)"
    got = _array_result(importance_weights(probabilities.copy(), MEMORY_SIZE, 0.0), call, len(probabilities),
                        "weights")
    expect(np.allclose(got, 1.0), f"{call} returned {_numbers(got)}; expected all 1 (β = 0: no correction).",
           "the exponent is −beta: w = (N · P) ** (−beta).")


def _check_beta_at(beta_at) -> None:
    """A float growing linearly from beta_start to 1 at total_steps, then staying at 1."""
    call = f"beta_at(step, {BETA}, {BETA_TOTAL_STEPS})"
    got = [plain_number(beta_at(step, BETA, BETA_TOTAL_STEPS), f"{call} returned", "a float", "return a plain number: "
                        "beta_start + (1 − beta_start) * min(step / total_steps, 1).", types=(float, np.floating))
           for step in BETA_STEPS]
    expected = [prioritized.annealed_beta(step, BETA, BETA_TOTAL_STEPS) for step in BETA_STEPS]
    if np.allclose(got, expected):
        return
    hint = " Hint: beta_start + (1 − beta_start) · min(step / total_steps, 1)."
    fractions = [step / BETA_TOTAL_STEPS for step in BETA_STEPS]
    name_the_mistake(lambda value: np.allclose(got, value), {
        "β is not annealed: it stays at beta_start, so the bias of prioritized sampling is never fully corrected."
        + hint: [BETA] * len(BETA_STEPS),
        "β goes past 1 after total_steps: the weights then over-correct. Hint: cap the fraction: "
        "min(step / total_steps, 1).": [BETA + (1 - BETA) * f for f in fractions],
        "β reaches 1 too early: step / total_steps is added to beta_start, not scaled to the distance "
        "1 − beta_start." + hint: [min(BETA + f, 1.0) for f in fractions],
    }, f"{call} at steps {list(BETA_STEPS)} returned {_numbers(got)}; expected {_numbers(expected)}: β must grow "
       "linearly from beta_start to exactly 1 at total_steps, then stay at 1." + hint,
        returned=f"{call} at steps {list(BETA_STEPS)} returned {_numbers(got)}, expected {_numbers(expected)}: ")


# --- 7.5 PrioritizedSlots -----------------------------------------------------------------------

SLOTS_CAPACITY = 8
SLOTS_ALPHA = 0.6
FIRST_ERRORS = ((1, 3.0), (3, -0.5))  # (slot, TD error) of the first gradient step
LATER_ERRORS = ((1, 0.1),)  # a smaller error later: max_priority must not go down
SAMPLE_BATCH = 64
SAMPLE_ROUNDS = 100
# Over 100 batches of 64 draws, a slot's frequency has a standard deviation of at most
# sqrt(0.25 / 6400) ≈ 0.006 with independent draws (less when stratified): 0.035 is over 5 of them,
# while every named wrong sampler is more than 0.06 off for some slot.
FREQUENCY_TOLERANCE = 0.035


@exercise("7.5", "PrioritizedSlots")
def check_prioritized_slots(slots_class) -> None:
    """Add slots and update priorities, reading the tree; then sample many batches from a seeded rng."""
    memory = slots_class(SLOTS_CAPACITY, SLOTS_ALPHA)
    tree = getattr(memory, "tree", None)
    expect(type(tree) is prioritized.SumTree, f"PrioritizedSlots(...).tree is {describe(tree)}; expected the "
           "course's SumTree.", "from utils.prioritized import SumTree, then self.tree = SumTree(capacity) (its "
           "update, set, find, total and priorities take arrays).")
    expected = np.zeros(SLOTS_CAPACITY)
    _check_adds(memory, [0, 1, 2, 3, 4], 1.0, expected)
    largest = _check_slot_updates(memory, expected)
    _check_adds(memory, [5], largest, expected)
    _check_sampling(memory)


def _check_adds(memory, slots: list, largest: float, expected: np.ndarray) -> None:
    """The slots added get max_priority (`largest` by then), the other slots keep theirs, and size counts them."""
    for slot in slots:
        memory.add(slot)
    after = f"after add({slots[0]})" + (f" … add({slots[-1]})" if len(slots) > 1 else "")
    got = memory.tree.priorities(np.array(slots))
    if not np.allclose(got, largest):
        add_hint = " Hint: self.tree.set(slot, self.max_priority)."
        name_the_mistake(lambda value: np.allclose(got, value), {
            "add gives priority 0: a new transition would never be sampled." + add_hint: 0.0,
            "add gives priority 1, not the largest priority so far." + add_hint: 1.0,
            "add raises max_priority to the power α again, but it is already a priority (|δ| + eps)^α." + add_hint:
                largest ** SLOTS_ALPHA,
        }, f"{after} the new slots have the priorities {_numbers(got)}; expected max_priority = {largest:.4g}."
           + add_hint, returned=f"{after} the new slots have the priorities {_numbers(got)}, expected max_priority = "
                                f"{largest:.4g}: ")
    expected[slots] = largest
    everywhere = memory.tree.priorities(np.arange(SLOTS_CAPACITY))
    expect(np.allclose(everywhere, expected), f"{after} the tree holds the priorities {_numbers(everywhere)}; "
           f"expected {_numbers(expected)}.", "add(slot) sets the priority of that slot only.")
    size = int(np.count_nonzero(expected))
    got_size = plain_number(memory.size, f"{after} size is", "an int", types=(int, np.integer))
    expect(got_size == size, f"{after} size is {got_size!r}; expected {size}.", "count the slots in use in "
           "add: self.size = min(self.size + 1, capacity).")


def _slot_priorities(errors) -> np.ndarray:
    """The priorities (|δ| + eps)^α of the TD errors in `errors`, pairs (slot, δ)."""
    return prioritized.priorities_from_td_errors([delta for _, delta in errors], SLOTS_ALPHA, EPS)


def _check_slot_updates(memory, expected: np.ndarray) -> float:
    """update writes (|δ| + eps)^α for its slots; max_priority stays the largest priority so far (returned)."""
    slots, deltas = map(np.array, zip(*FIRST_ERRORS))
    before = expected.copy()
    memory.update(slots, deltas)
    expected[slots] = _slot_priorities(FIRST_ERRORS)
    got = memory.tree.priorities(np.arange(SLOTS_CAPACITY))
    if not np.allclose(got, expected):
        without_alpha = before.copy()
        without_alpha[slots] = np.abs(deltas) + EPS
        name_the_mistake(lambda value: np.allclose(got, value), {
            "the priorities were not updated after the step, so every transition keeps the priority it was added "
            "with. Hint: self.tree.update(slots, priorities).": before,
            "α is missing: the new priorities are |δ| + eps. Hint: (|δ| + eps) ** alpha, the same as 7.4's "
            "priorities_from.": without_alpha,
        }, f"after update({slots.tolist()}, {deltas.tolist()}) the tree holds {_numbers(got)}; expected "
           f"{_numbers(expected)}. Hint: priorities (|δ| + eps) ** alpha for those slots, the others unchanged.",
            returned=f"after update({slots.tolist()}, {deltas.tolist()}) the tree holds {_numbers(got)}, expected "
                     f"{_numbers(expected)}: ")
    largest = float(expected.max())
    got_max = _max_priority(memory)
    if not np.isclose(got_max, largest):
        name_the_mistake(lambda value: np.isclose(got_max, value), {
            "max_priority was not raised, so new transitions still get 1.0. Hint: self.max_priority = "
            "max(self.max_priority, priorities.max()).": 1.0,
            "max_priority is the largest |δ|, not the largest priority (|δ| + eps)^α. Hint: self.max_priority = "
            "max(self.max_priority, priorities.max()).": float(np.abs(deltas).max()),
        }, f"after update({slots.tolist()}, {deltas.tolist()}) max_priority is {got_max:.4g}; expected {largest:.4g}, "
           "the largest priority given so far.", returned=f"max_priority is {got_max:.4g}, expected {largest:.4g}: ")
    slots, deltas = map(np.array, zip(*LATER_ERRORS))
    memory.update(slots, deltas)
    expected[slots] = _slot_priorities(LATER_ERRORS)
    got_max = _max_priority(memory)
    expect(np.isclose(got_max, largest), f"after a later update({slots.tolist()}, "
           f"{deltas.tolist()}) with a smaller error, max_priority is {got_max:.4g}; expected it to "
           f"stay {largest:.4g}, the largest priority given so far.", "keep the running maximum: self.max_priority = "
           "max(self.max_priority, priorities.max()).")
    return largest


def _max_priority(memory) -> float:
    """`memory.max_priority` as a Python float, checked to be a plain number (it is compared)."""
    return float(plain_number(memory.max_priority, "max_priority is", "a number"))


def _sample(memory, batch_size: int, rng: np.random.Generator) -> tuple:
    """One `sample(batch_size, BETA, rng)` as (integer slots, float weights), after checking what came back."""
    call = f"sample({batch_size}, {BETA}, rng)"
    result = memory.sample(batch_size, BETA, rng)
    expect(type(result) is tuple and len(result) == 2, f"{call} returned {describe(result)}; expected a pair "
           "(slots, weights).", "return slots, weights.")
    # plain containers only: np.asarray of an object array would keep its elements' own __eq__
    expect(all(type(part) in (np.ndarray, list, tuple) for part in result), f"{call} returned a pair holding "
           f"{' and '.join(describe(part) for part in result)}; expected NumPy arrays.", "return slots, weights.")
    slots, weights = (np.asarray(part) for part in result)
    expect(slots.shape == weights.shape == (batch_size,) and slots.dtype.kind in "iu" and weights.dtype.kind in "iuf",
           f"{call} returned slots of "
           f"shape {slots.shape} and dtype {slots.dtype} and weights of shape {weights.shape}; expected "
           f"{batch_size} integer slots and {batch_size} weights.", "slots = self.tree.find(values) with one value "
           "per draw, and one weight per slot.")
    return slots, weights.astype(float)


def _draws(memory, seed: int) -> np.ndarray:
    """The slots of 10 batches of 4 from one generator seeded `seed`.

    Small batches: with 64 segments, stratified draws hardly vary from one seed to the next.
    """
    rng = np.random.default_rng(seed)
    return np.concatenate([_sample(memory, 4, rng)[0] for _ in range(10)])


def _check_sampling(memory) -> None:
    """Reproducible with the rng given, only used slots, frequencies ∝ priorities, weights as in 7.4."""
    priorities = memory.tree.priorities(np.arange(SLOTS_CAPACITY))
    size = int(np.count_nonzero(priorities))
    slots, weights = _sample(memory, SAMPLE_BATCH, np.random.default_rng(5))
    unused = slots[slots >= size]
    expect(unused.size == 0, f"sample returned slot {unused[0] if unused.size else ''}, but only slots 0–{size - 1} "
           f"hold transitions (size = {size}).", "draw by priority: slots = self.tree.find(values) with values in "
           "[0, self.tree.total); unused slots have priority 0 and are never found.")
    first = _draws(memory, seed=5)
    expect(np.array_equal(first, _draws(memory, seed=5)), "generators seeded alike sampled different slots: the "
           "draws do not come from the rng argument.", "draw with the rng given (rng.random, rng.uniform), not "
           "np.random or a generator of your own.")
    expect(not np.array_equal(first, _draws(memory, seed=6)), "generators with different seeds sampled the same "
           "slots: the rng argument is not used.", "draw with the rng given (rng.random, rng.uniform).")
    _check_frequencies(memory, priorities[:size])
    _check_sample_weights(slots, weights, priorities, size)


def _check_frequencies(memory, priorities: np.ndarray) -> None:
    """Over many draws, slot i must come with frequency p_i / total.

    The statement asks for stratified draws (one uniform value per segment of [0, total)), which
    lowers the variance of a batch; independent draws sample the same distribution, so they pass too.
    """
    rng, size = np.random.default_rng(11), len(priorities)
    drawn = np.concatenate([_sample(memory, SAMPLE_BATCH, rng)[0] for _ in range(SAMPLE_ROUNDS)])
    got = np.bincount(drawn, minlength=size)[:size] / len(drawn)
    expected = priorities / priorities.sum()
    close = functools.partial(np.allclose, got, rtol=0, atol=FREQUENCY_TOLERANCE)
    if close(expected):
        return
    powered = priorities ** SLOTS_ALPHA
    name_the_mistake(close, {
        "the sampling is uniform: every slot in use comes as often, whatever its priority. Hint: values in [0, "
        "self.tree.total), then slots = self.tree.find(values).": np.full(size, 1 / size),
        "the slots come in proportion to p^α, but the tree already holds p = (|δ| + eps)^α. Hint: sample in "
        "proportion to the tree's priorities, as they are.": powered / powered.sum(),
    }, f"over {len(drawn):,} draws the slots came with frequencies {_numbers(got)}; expected their shares of the "
       f"priorities, {_numbers(expected)}. Hint: one uniform value in each of batch_size equal segments of [0, "
       "self.tree.total), then slots = self.tree.find(values).",
        returned=f"over {len(drawn):,} draws the slots came with frequencies {_numbers(got)}, expected "
                 f"{_numbers(expected)}: ")


def _check_sample_weights(slots, weights, priorities: np.ndarray, size: int) -> None:
    """(N · P(i))^(−β) / max with P(i) = p_i / total and N = size.

    Once divided by their max, the weights no longer depend on N (nor on dividing p_i by the
    total): N = capacity instead of size only shows in weights that are not normalised.
    """
    probabilities = priorities[slots] / priorities.sum()
    expected = prioritized.importance_weights(probabilities, size, BETA)
    if np.allclose(weights, expected):
        return
    shown, first = np.unique(slots, return_index=True)  # stratified batches repeat slots: show each once
    returned = (f"for the slots {shown.tolist()}, sample(..., beta={BETA}, ...) returned the weights "
                f"{_numbers(weights[first])}, expected {_numbers(expected[first])}")
    hint = " Hint: w = (size · p_i / total) ** (−beta), divided by w.max() (7.4's importance_weights)."
    name_the_mistake(lambda value: np.allclose(weights, value), {
        "the weights are not normalised (the largest must be 1)." + hint: (size * probabilities) ** -BETA,
        f"the weights are not normalised (the largest must be 1), and N is the capacity ({SLOTS_CAPACITY}), not the "
        f"number of slots in use ({size})." + hint: (SLOTS_CAPACITY * probabilities) ** -BETA,
        "the weights are all 1: β is ignored, so the bias of prioritized sampling is not corrected." + hint:
            np.ones(len(slots)),
        "the exponent is +β: the frequent transitions get the larger weights; it is the rare ones that need them."
        + hint: prioritized.importance_weights(probabilities, size, -BETA),
    }, returned + "." + hint, returned=returned + ": ")


# --- 7.6 iqm / bootstrap_interval ---------------------------------------------------------------

RUN_SCORES = (500.0, 12.0, 230.0, 498.0, 77.0, 310.0, 150.0, 499.0, 20.0, 405.0)  # distinct and unsorted
IQM_SIZES = (10, 7, 8, 5, 3)  # 25% of n is 2.5, 1.75, 2, 1.25, 0.75 runs: floor(0.25 · n) cut from each end
RESAMPLES = 2_000
REFERENCE_RESAMPLES = 100_000
# Measured on these scores over 2,000 seeds: a percentile of 2,000 resamples is off the 100,000-resample
# reference by about 0.035 standard deviations of the resampled IQMs (one standard error) and by 0.18 at
# worst, so a right answer always lies within 0.3 (over 7 standard errors). A 90% interval is 0.2–0.26
# off: the exact percentile check before this one names it.
REFERENCE_TOLERANCE = 0.3


@exercise("7.6", "iqm / bootstrap_interval")
def check_iqm_bootstrap(iqm, bootstrap_interval) -> None:
    """Compare iqm with scipy's trim_mean; spy on the resamples of bootstrap_interval and compare its interval."""
    for size in IQM_SIZES:
        _check_iqm(iqm, np.array(RUN_SCORES[:size]))
    _check_bootstrap(bootstrap_interval)


def _number(got, call: str) -> float:
    """`got` as a float if it is one real number, else a mistake saying what came back."""
    return float(plain_number(got, f"{call} returned", "one number", "return a float, e.g. float(...).",
                              types=NUMBERS + (np.ndarray,)))


def _check_iqm(iqm, scores: np.ndarray) -> None:
    """iqm(scores) must be scipy.stats.trim_mean(scores, 0.25), and leave `scores` as it was."""
    given = scores.copy()
    call = f"iqm({_numbers(scores)})"
    got = _number(iqm(given), call)
    expect(np.array_equal(given, scores), f"{call} reordered the array it was given.", "sort a copy: np.sort(scores), "
           "not scores.sort(), which changes the caller's array.")
    expected = float(stats.trim_mean(scores, 0.25))
    if np.isclose(got, expected):
        return
    size, cut = len(scores), len(scores) // 4
    ordered = np.sort(scores)
    rounded_up = -(-size // 4)
    name_the_mistake(lambda value: np.isclose(got, value), {
        "that is the median. Hint: the IQM is the mean of the middle runs: sort, cut floor(0.25 · n) runs from each "
        "end, average the rest (scipy.stats.trim_mean(scores, 0.25)).": float(np.median(scores)),
        "that is the plain mean. Hint: sort, cut floor(0.25 · n) runs from each end, average the rest.":
            float(np.mean(scores)),
        "it cuts 25% of the runs in total (12.5% from each end). Hint: cut floor(0.25 · n) runs from each end, half "
        "of them in all.": float(stats.trim_mean(scores, 0.125)),
        "it cuts runs from each end without sorting first, so it drops whichever runs come first and last. Hint: "
        "np.sort(scores) before cutting.": float(np.mean(scores[cut:size - cut])),
        # Keeping the runs between the 25th and 75th percentiles comes to the same here.
        f"it cuts {rounded_up} runs from each end of {size}: 0.25 · n rounded up (or the runs kept are those between "
        f"the 25th and 75th percentiles). Hint: cut floor(0.25 · n), here {cut}, as scipy.stats.trim_mean(scores, "
        "0.25) does.": float(np.mean(ordered[rounded_up:size - rounded_up])),
    }, f"{call} returned {got:.6g}; expected {expected:.6g}. Hint: sort, cut floor(0.25 · n) runs from each end, "
       "average the rest (scipy.stats.trim_mean(scores, 0.25)).",
        returned=f"{call} returned {got:.6g}, expected {expected:.6g}: ")


class RecordedStatistic:
    """The IQM as a statistic that records every sample it is applied to and every value it returns."""

    def __init__(self):
        """Nothing recorded yet."""
        self.calls = []

    def __call__(self, sample) -> float:
        """The IQM of `sample`, recorded."""
        sample = np.array(sample, dtype=float)  # a copy: the caller may reuse its buffer
        expect(sample.ndim == 1, f"statistic was called on {describe(sample)}; expected one resample, a 1-D array of "
               "scores.", "apply statistic to each resample separately: statistic(resample).")
        cut = len(sample) // 4  # as scipy.stats.trim_mean(sample, 0.25), 40 times faster on 10 runs
        value = float(np.sort(sample)[cut:len(sample) - cut].mean())
        self.calls.append((sample, value))
        return value

    def on_resamples(self) -> tuple:
        """(samples, values) of the calls on resamples, leaving out calls on the scores themselves (point estimates)."""
        kept = [(sample, value) for sample, value in self.calls if not np.array_equal(sample, RUN_SCORES)]
        return [sample for sample, _ in kept], np.array([value for _, value in kept])


def _interval(bootstrap_interval, statistic, resamples: int, seed: int, confidence=None) -> tuple:
    """(low, high) from the student's bootstrap_interval on RUN_SCORES, checked to be two numbers."""
    keywords = {} if confidence is None else {"confidence": confidence}
    given = "".join(f", {name}={value}" for name, value in keywords.items())
    call = f"bootstrap_interval(scores, statistic, {resamples}, rng{given})"
    got = bootstrap_interval(np.array(RUN_SCORES), statistic, resamples, np.random.default_rng(seed), **keywords)
    pair = (type(got) in (tuple, list) and len(got) == 2) or (type(got) is np.ndarray and got.shape == (2,))
    expect(pair, f"{call} returned {describe(got)}; expected a pair (low, high).", "return low, high.")
    return tuple(_number(bound, call) for bound in got)


def _check_bootstrap(bootstrap_interval) -> None:
    """Resamples with replacement, percentiles of the statistic, close to a reference, reproducible with the rng."""
    statistic = RecordedStatistic()
    low, high = _interval(bootstrap_interval, statistic, RESAMPLES, seed=1)
    _check_resamples(statistic, RESAMPLES)
    _check_percentiles((low, high), statistic, 0.95)
    _check_against_reference(low, high)
    first = _interval(bootstrap_interval, RecordedStatistic(), 200, seed=2)
    again = _interval(bootstrap_interval, RecordedStatistic(), 200, seed=2)
    expect(first == again, f"two calls with generators seeded alike gave different intervals, {_numbers(first)} and "
           f"{_numbers(again)}: the resamples do not come from the rng argument.", "draw every resample with the rng "
           "given (rng.choice or rng.integers), not np.random or a generator of your own.")
    other = _interval(bootstrap_interval, RecordedStatistic(), 200, seed=3)
    expect(first != other, "generators with different seeds gave the same interval: the rng argument is not used.",
           "draw every resample with the rng given (rng.choice or rng.integers).")
    statistic = RecordedStatistic()
    _check_percentiles(_interval(bootstrap_interval, statistic, 200, seed=4, confidence=0.8), statistic, 0.8)


def _check_resamples(statistic: RecordedStatistic, resamples: int) -> None:
    """The statistic was applied to `resamples` resamples of the runs, each drawn with replacement, n runs long."""
    scores = np.array(RUN_SCORES)
    expect(statistic.calls, "bootstrap_interval never called the statistic it was given, so the interval is of "
           "another statistic (the mean?).", "apply statistic to each resample: statistic(resample).")
    drawn, _ = statistic.on_resamples()
    expect(len(drawn) == resamples, f"statistic was applied to {len(drawn)} resamples for n_resamples={resamples}; "
           "expected one call per resample.", "draw n_resamples resamples and apply statistic to each.")
    sizes = sorted({len(sample) for sample in drawn})
    expect(sizes == [len(scores)], f"the resamples hold {' or '.join(map(str, sizes))} runs; expected "
           f"{len(scores)}, as many as the scores.", "each resample draws len(scores) runs with replacement: "
           "rng.choice(scores, size=len(scores), replace=True).")
    drawn = np.stack(drawn)
    expect(np.isin(drawn, scores).all(), "the resamples hold values that are not scores of the runs.",
           "resample the scores themselves: rng.choice(scores, size=len(scores)) or "
           "scores[rng.integers(0, len(scores), size=len(scores))].")
    expect(not np.all(np.sort(drawn, axis=1) == np.sort(scores)), "every resample is the scores reordered: they were "
           "drawn without replacement, so the statistic is the same each time and the interval collapses to a point.",
           "draw with replacement: rng.choice(scores, size=len(scores), replace=True).")
    expect(len(np.unique(drawn, axis=0)) > 1, f"all {resamples} resamples are the same one.",
           "draw a new resample for each of the n_resamples, inside the loop.")
    never = [score for score in RUN_SCORES if score not in drawn]
    expect(not never, f"the run scoring {never[0] if never else 0:g} never appears in {resamples} resamples: one "
           "run cannot be drawn.", "every run must be equally likely: rng.integers(0, len(scores), "
           "size=len(scores)) (the high end is excluded) or rng.choice(scores, size=len(scores)).")


def _check_percentiles(interval: tuple, statistic: RecordedStatistic, confidence: float) -> None:
    """The interval must be the (1 − c)/2 and (1 + c)/2 percentiles of the statistic's values on the resamples."""
    samples, values = statistic.on_resamples()
    expected = tuple(np.percentile(values, [50 * (1 - confidence), 50 * (1 + confidence)]))
    close = functools.partial(np.allclose, interval, rtol=1e-9)
    if close(expected):
        return
    means = [float(np.mean(sample)) for sample in samples]
    hint = " Hint: np.percentile(values, [100 * (1 − confidence) / 2, 100 * (1 + confidence) / 2])."
    narrower = 100 * (1 - confidence), 100 * confidence
    name_the_mistake(close, {
        f"that is a {2 * confidence - 1:.0%} interval (the {narrower[0]:.3g}th and {narrower[1]:.3g}th percentiles), "
        f"not a {confidence:.0%} one: each tail holds (1 − confidence) / 2." + hint:
            tuple(np.percentile(values, narrower)),
        "that is the 95% interval (2.5th and 97.5th percentiles) whatever confidence is." + hint:
            tuple(np.percentile(values, [2.5, 97.5])),
        "np.percentile was given fractions ((1 − confidence) / 2), but it takes percents. Hint: "
        "np.percentile(values, [2.5, 97.5]) for 95%, or np.quantile(values, [0.025, 0.975]).":
            tuple(np.percentile(values, [50 * (1 - confidence) / 100, 50 * (1 + confidence) / 100])),
        "that is the smallest and largest value: no percentiles." + hint: (values.min(), values.max()),
        "those are percentiles of the resamples' means: the statistic's values are not used. Hint: keep "
        "statistic(resample) for each resample, then take the percentiles of those values.":
            tuple(np.percentile(means, [50 * (1 - confidence), 50 * (1 + confidence)])),
    }, f"bootstrap_interval(..., confidence={confidence}) returned {_numbers(interval)}; the percentiles of the "
       f"statistic's values on your resamples are {_numbers(expected)}." + hint,
        returned=f"bootstrap_interval(..., confidence={confidence}) returned {_numbers(interval)}, expected "
                 f"{_numbers(expected)}: ")


@functools.cache
def _reference_interval() -> tuple:
    """(the 95% percentile-bootstrap interval of the IQM of RUN_SCORES from 100,000 resamples, their spread)."""
    scores = np.array(RUN_SCORES)
    rng = np.random.default_rng(12345)  # a generator of its own: the student's draws are not replayed
    values = stats.trim_mean(scores[rng.integers(0, len(scores), (REFERENCE_RESAMPLES, len(scores)))], 0.25, axis=1)
    return np.percentile(values, [2.5, 97.5]), float(values.std())


def _check_against_reference(low: float, high: float) -> None:
    """The 95% interval must be close to the reference, in units of the spread of the resampled IQMs."""
    reference, spread = _reference_interval()
    off = np.abs(np.array([low, high]) - reference).max() / spread
    expect(off <= REFERENCE_TOLERANCE, f"the interval {_numbers([low, high])} is {off:.2f} standard deviations of the "
           f"IQM off the percentile bootstrap's {_numbers(reference)} (from {REFERENCE_RESAMPLES:,} resamples): the "
           "resamples are not drawn uniformly from the runs.", "each resample: rng.choice(scores, size=len(scores), "
           "replace=True), every run equally likely at every draw.")
