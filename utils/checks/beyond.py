"""Checks for notebook 7: the dueling network, n-step targets, prioritized replay and statistics over seeds.

Each check is a probe, which calls the student's code on the check's inputs and records what came
back, and a judge, which compares the record with references it computes itself (see
utils.checks.protocol). `inputs(None)` gives the notebook's fixed inputs; `inputs(rng)` draws fresh
ones for a grading run, on which every named mistake still gives a result other than the right one.
"""
import functools
import itertools
import re
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from utils import prioritized
from utils.checks.core import (NUMBERS, Mistake, describe, expect, name_the_mistake, plain_array, plain_number,
                               plain_tensor,
                               plain_values, separated)
from utils.checks.protocol import Check, crash_text
from utils.checks.tensors import expect_tensor
from utils.checks.wire import Opaque

GAMMAS = (0.8, 0.85, 0.9, 0.95)


def _numbers(values, digits: int = 4) -> str:
    """Numbers written short, e.g. '[1, 0.25, 3.142]' (`digits` significant digits)."""
    return "[" + ", ".join(f"{float(v):.{digits}g}" for v in np.ravel(values)) + "]"


def _apart(got, expected) -> tuple:
    """(got, expected) written as _numbers writes them, with as many digits as it takes to tell them apart (4–12)."""
    for digits in range(4, 13):
        shown = _numbers(got, digits), _numbers(expected, digits)
        if shown[0] != shown[1]:
            break
    return shown


def _raised(rec, key: str) -> bool:
    """Did the call the probe recorded under `key` raise?"""
    return "raised" in rec.entries.get(key, {})


def _first_matching(matches, wrong_versions: dict) -> str:
    """The description of the first wrong version whose value `matches(value)` accepts, else ''."""
    return next((description for description, value in wrong_versions.items() if matches(value)), "")


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
VALUE_MEAN = ("the mean of V, not of A, is subtracted: V.mean(dim=-1, keepdim=True) is V itself (one value per "
              "state), so V cancels and Q is A alone. Hint: subtract the mean of the advantages: " + MEAN_HINT)
SIGNATURE_HINT = "keep the signature DuelingQNetwork(obs_dim=4, n_actions=2, hidden=128)."
SINGLE_HINT = ("take the mean over the last dimension, A.mean(dim=-1, keepdim=True): it is the action dimension for "
               "one state (n_actions,) and for a batch (B, n_actions) alike.")
EXPAND_HINT = ("expand(-1, n_actions) (or view(-1, 1)) reshapes V as if there were always a batch dimension; V as "
               "value_head returns it, (..., 1), broadcasts against A by itself: Q = V + A − A.mean(dim=-1, "
               "keepdim=True).")
BROADCAST = re.compile(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)")
# (a word in the student's line that crashed, the hint for it): a (B,) tensor met a (B, n_actions) one
BROADCAST_HINTS = (("squeeze", "keep V's last dimension: value_head returns (B, 1), which broadcasts against "
                                "(B, n_actions); a V of shape (B,) (after squeeze) does not."),
                   ("mean", "keep the action dimension when averaging: A.mean(dim=-1, keepdim=True) has shape (B, 1) "
                            "and broadcasts against (B, n_actions)."))


def dueling_inputs(rng) -> dict:
    """Two networks to build (the defaults, then other sizes by keyword), the weights to give them and states."""
    draw = np.random.default_rng(0) if rng is None else rng
    other = DUELING_SMALL if rng is None else _other_sizes(rng)
    taken = {DUELING_DEFAULTS["n_actions"], other["n_actions"]}
    batch = BATCH if rng is None else int(rng.choice([b for b in range(3, 9) if b not in taken]))
    return {"cases": [_dueling_case(draw, {}, batch), _dueling_case(draw, other, batch)]}


def _other_sizes(rng) -> dict:
    """Sizes that differ from the defaults and from one another."""
    return {"obs_dim": int(rng.choice([3, 5, 6, 7, 8])), "n_actions": int(rng.choice([3, 4, 6])),
            "hidden": int(rng.integers(16, 49))}


def _dueling_case(rng, sizes: dict, batch: int) -> dict:
    """Weights for every layer, a batch of states and one state, drawn until every named mistake shows."""
    dims = {**DUELING_DEFAULTS, **sizes}
    shapes = {"trunk_in": (dims["obs_dim"], dims["hidden"]), "trunk_hidden": (dims["hidden"], dims["hidden"]),
              "value_head": (dims["hidden"], 1), "advantage_head": (dims["hidden"], dims["n_actions"])}
    for _ in range(100):  # a few draws at most: most separate every mistake
        case = {"sizes": dict(sizes), "dims": dims,
                "layers": {name: [(rng.normal(size=(out, inp)) / np.sqrt(inp)).astype(np.float32),
                                  rng.normal(scale=0.3, size=out).astype(np.float32)]
                           for name, (inp, out) in shapes.items()},
                "states": (3 * rng.normal(size=(batch, dims["obs_dim"]))).astype(np.float32),
                "state": (3 * rng.normal(size=dims["obs_dim"])).astype(np.float32)}
        reference = _dueling_reference(case, torch.from_numpy(case["states"]))
        slips = [*_trunk_slips(case, torch.from_numpy(case["states"])).values(),
                 *_combination_slips(reference).values()]
        values = reference["values"]
        # V of both signs: a ReLU on V then differs both from V and from leaving V out
        if (separated([reference["q"], *slips[2:]], margin=1e-2, same_ok=True)
                and separated([reference["features"], *slips[:2]], same_ok=True)
                and (values > 0.1).any() and (values < -0.1).any()):
            break
    return case


def _layer(case: dict, name: str):
    """The weight and bias of layer `name`, as tensors."""
    weight, bias = case["layers"][name]
    return torch.as_tensor(weight), torch.as_tensor(bias)


def _dueling_reference(case: dict, states: torch.Tensor) -> dict:
    """Features, V, A and Q of the right network with the case's weights."""
    with torch.no_grad():
        features = torch.relu(F.linear(torch.relu(F.linear(states, *_layer(case, "trunk_in"))),
                                       *_layer(case, "trunk_hidden")))
        values = F.linear(features, *_layer(case, "value_head"))
        advantages = F.linear(features, *_layer(case, "advantage_head"))
    return {"features": features, "values": values, "advantages": advantages,
            "q": values + advantages - advantages.mean(dim=-1, keepdim=True)}


def _trunk_slips(case: dict, states: torch.Tensor) -> dict:
    """The heads' input when a ReLU of the trunk is missing, keyed by the message."""
    hint = " Hint: the trunk is Linear, ReLU, Linear, ReLU: a ReLU after each of its two layers."
    with torch.no_grad():
        first = F.linear(states, *_layer(case, "trunk_in"))
        return {"there is no ReLU between the two trunk layers." + hint:
                torch.relu(F.linear(first, *_layer(case, "trunk_hidden"))),
                "there is no ReLU after the trunk's second layer, before the heads." + hint:
                F.linear(torch.relu(first), *_layer(case, "trunk_hidden"))}


def _combination_slips(reference: dict) -> dict:
    """The Q-values of the usual ways of combining V and A wrongly, keyed by the message."""
    values, advantages, expected = reference["values"], reference["advantages"], reference["q"]
    centred = advantages - advantages.mean(dim=-1, keepdim=True)
    relu_advantages = torch.relu(advantages)
    hint = " Hint: " + MEAN_HINT
    two_actions = {}
    if advantages.shape[-1] != 2:  # with two actions these are the mean itself
        written_in = (f"the mean is written for 2 actions, but this network has {advantages.shape[-1]}: ")
        fix = " Hint: A.mean(dim=-1, keepdim=True) averages over every action, however many there are."
        two_actions = {
            written_in + "it averages A[..., 0] and A[..., 1] only." + fix:
                values + advantages - advantages[..., :2].mean(dim=-1, keepdim=True),
            written_in + "it divides the sum of the advantages by 2, not by n_actions." + fix:
                values + advantages - advantages.sum(dim=-1, keepdim=True) / 2,
        }
    return {
        "the mean advantage is not subtracted (Q = V + A), so V and A are not identifiable: any constant can move "
        "from one to the other." + hint: values + advantages,
        "it is A − mean A, without V: the mean is subtracted from V + A, so V cancels out ((V + A) − mean(V + A) = "
        "A − mean A), or V is left out. Hint: subtract the mean of A only: V + (A − A.mean(dim=-1, keepdim=True)).":
            centred,
        **two_actions,
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
        "there is a ReLU on both heads' outputs: state values and advantages can be negative. Hint: V and A are "
        "linear outputs, no activation: use value_head(features) and advantage_head(features) as they are.":
            torch.relu(values) + relu_advantages - relu_advantages.mean(dim=-1, keepdim=True),
        VALUE_MEAN: advantages,
        "the mean of V over the batch, not the mean of A, is subtracted: each state's V is centred on the batch's "
        "mean value and the advantages are not centred at all. Hint: subtract the mean of the advantages: "
        + MEAN_HINT: values + advantages - values.mean(),
        "the mean advantage is added, not subtracted." + hint:
            values + advantages + advantages.mean(dim=-1, keepdim=True),
        "the advantages enter with the wrong sign (V − A + mean A)." + hint: values - centred,
        "it subtracts the median advantage, not the mean." + hint:
            values + advantages - advantages.median(dim=-1, keepdim=True).values,
        **{f"there is a {name} on the output: Q-values are unbounded real numbers. Hint: return "
           "V + A − A.mean(dim=-1, keepdim=True) as it is.": activation(expected)
           for name, activation in OUTPUT_ACTIVATIONS.items()},
    }


def _dueling_call(sizes: dict) -> str:
    """'DuelingQNetwork(obs_dim=6, n_actions=3, hidden=32)' as the check built it."""
    return f"DuelingQNetwork({', '.join(f'{k}={v}' for k, v in sizes.items())})"


def probe_dueling(rec, inputs: dict, network_class) -> None:
    """Build each network, give it the case's weights, run a batch (watching the heads) and one state."""
    for index, case in enumerate(inputs["cases"]):
        if not _probe_dueling_case(rec, str(index), case, network_class):
            return


def _probe_dueling_case(rec, key: str, case: dict, network_class) -> bool:
    """Probe one network; False where the probe cannot go on."""
    net = rec.call(f"{key} built", network_class, expect_error=True, **case["sizes"])
    if _raised(rec, f"{key} built"):
        return False
    layout = rec.call(f"{key} layout", _dueling_layout, net, case["dims"])
    if not layout.get("loadable"):
        return False
    rec.call(f"{key} loaded", _load_dueling, net, case)
    states = torch.from_numpy(case["states"].copy())
    rec.call(f"{key} forward", _forward_watching_heads, net, states, expect_error=True)
    if _raised(rec, f"{key} forward"):
        return False
    rec.call(f"{key} again", _forward_without_grad, net, states.clone(), expect_error=True)
    rec.call(f"{key} single", net, torch.from_numpy(case["state"].copy()), expect_error=True)
    rec.call(f"{key} gradients", _trunk_gradients, net, states.clone(), expect_error=True)
    return True


def _linear_shape(module):
    """[in, out] of a plain nn.Linear, else a description of what the module is."""
    # type(), not isinstance: a subclass could rig its forward
    return [module.in_features, module.out_features] if type(module) is nn.Linear else describe(module)


def _dueling_layout(net, dims: dict) -> dict:
    """What the built network is: a module?, plain parameters?, its heads and its other linear layers."""
    if not isinstance(net, nn.Module):
        return {"module": False}
    heads = {name: getattr(net, name, None) for name, _, _ in HEADS}
    trunk = [m for m in net.modules() if type(m) is nn.Linear and all(m is not head for head in heads.values())]
    layout = {"module": True, "plain_parameters": all(type(p) is nn.Parameter for p in net.parameters()),
              "heads": {name: _linear_shape(head) for name, head in heads.items()},
              "trunk": sorted(_linear_shape(m) for m in trunk)}
    layout["unregistered"] = _unregistered(net)
    layout["without_bias"] = [name for name, head in heads.items() if type(head) is nn.Linear and head.bias is None] \
        + ["the trunk"] * any(m.bias is None for m in trunk)
    layout["loadable"] = layout["plain_parameters"] and _has_sizes(layout, dims)
    return layout


def _unregistered(net) -> list:
    """[attribute name, container type] of the network's plain lists, tuples and dicts that hold modules."""
    internal = vars(nn.Module())  # _modules, _parameters, … of every module
    found = []
    for name, value in vars(net).items():
        items = list(value.values()) if type(value) is dict else value if type(value) in (list, tuple) else []
        if name not in internal and any(isinstance(item, nn.Module) for item in items):
            found.append([name, type(value).__name__])
    return found


def _has_sizes(layout: dict, dims: dict) -> bool:
    """Are the layout's heads and trunk layers the ones `dims` (obs_dim, n_actions, hidden) call for?"""
    heads = {"value_head": [dims["hidden"], 1], "advantage_head": [dims["hidden"], dims["n_actions"]]}
    trunk = sorted([[dims["obs_dim"], dims["hidden"]], [dims["hidden"], dims["hidden"]]])
    return layout.get("heads") == heads and layout.get("trunk") == trunk


def _load_dueling(net, case: dict) -> None:
    """Copy the case's weights into the network's layers, found by name (heads) and by shape (trunk)."""
    heads = [net.value_head, net.advantage_head]
    trunk = [m for m in net.modules() if type(m) is nn.Linear and all(m is not head for head in heads)]
    first = next(m for m in trunk if m.in_features == case["dims"]["obs_dim"])
    layers = {"trunk_in": first, "trunk_hidden": next(m for m in trunk if m is not first),
              "value_head": net.value_head, "advantage_head": net.advantage_head}
    with torch.no_grad():
        for name, layer in layers.items():
            weight, bias = _layer(case, name)
            layer.weight.copy_(weight)
            if layer.bias is not None:
                layer.bias.copy_(bias)


def _forward_watching_heads(net, states: torch.Tensor) -> dict:
    """The network's output for `states`, and {head name: [its input, its output]} read with forward hooks."""
    seen = {}

    def recorder(name):
        """A forward hook keeping the input and output of the head called `name`."""
        def record(module, inputs, output):
            """Keep this call's input and output (the last call wins)."""
            seen[name] = [_kept(inputs[0] if inputs else None), _kept(output)]
        return record

    handles = [getattr(net, name).register_forward_hook(recorder(name)) for name, _, _ in HEADS]
    try:
        q_values = net(states)
    finally:
        for handle in handles:
            handle.remove()
    return {"q": q_values, "heads": seen}


def _kept(value):
    """A tensor detached and copied (the network may reuse its buffers); anything else as it is."""
    return value.detach().clone() if type(value) is torch.Tensor else value


def _forward_without_grad(net, states: torch.Tensor):
    """The network's output for `states` once more, without building a graph."""
    with torch.no_grad():
        return net(states)


def judge_dueling(results, inputs: dict) -> None:
    """Build the network with default and other sizes; read V and A from its heads and compare Q with them."""
    for index, case in enumerate(inputs["cases"]):
        _judge_dueling_case(results, str(index), case)


def _judge_dueling_case(results, key: str, case: dict) -> None:
    """Judge one network: how it was built, its layers, its output for a batch and for one state."""
    call, dims = _dueling_call(case["sizes"]), case["dims"]
    error = results.raised(f"{key} built")
    if error and error.get("type") == "TypeError" and not error.get("not_done"):
        raise Mistake(f"{call} raised TypeError: {error.get('message')}. Hint: {SIGNATURE_HINT}")
    built = results.value(f"{key} built")
    _judge_layout(results.value(f"{key} layout"), built, call, dims)
    results.value(f"{key} loaded")
    states = torch.from_numpy(case["states"])
    q_values, heads = _judge_forward(results, key, call, case, states)
    again = results.value(f"{key} again")
    expect(type(again) is torch.Tensor and again.shape == q_values.shape and torch.equal(again, q_values),
           f"{call} gives other Q-values when called again on the same states: something in it is random (a Dropout "
           "layer?).", "a Q-network here has no randomness: remove Dropout (the trunk is Linear, ReLU, Linear, ReLU).")
    reference = _dueling_reference(case, states)
    _judge_trunk(heads, reference["features"], call, case, states)
    _judge_combination(q_values, reference, call)
    _judge_single_state(results, key, call, case)
    _judge_gradients(results, key, call)


def _judge_layout(layout, built, call: str, dims: dict) -> None:
    """The network must be an nn.Module with plain parameters, the two named heads and the two trunk layers."""
    expect(type(layout) is dict and layout.get("module") is True, f"{call} built {describe(built)}; expected a "
           "torch.nn.Module.", "subclass nn.Module: class DuelingQNetwork(nn.Module).")
    expect(layout.get("plain_parameters") is True, f"{call} holds a parameter that is not an nn.Parameter.",
           "let nn.Linear create its weights and biases.")
    _expect_sizes_read(layout, call, dims)
    for name, size, meaning in HEADS:
        shape, outputs = layout["heads"][name], 1 if size == "1" else dims["n_actions"]
        expect(type(shape) is list, f"{call}.{name} is {shape}; expected an nn.Linear.", "the statement names the two "
               "heads: self.value_head = nn.Linear(hidden, 1) and self.advantage_head = nn.Linear(hidden, n_actions).")
        expect(shape == [dims["hidden"], outputs], f"{call}.{name} is Linear({shape[0]}, {shape[1]}); expected "
               f"Linear({dims['hidden']}, {outputs}): {meaning}.", f"self.{name} = nn.Linear(hidden, {size}).")
    shapes = [s for s in layout["trunk"] if type(s) is list]
    wanted = sorted([[dims["obs_dim"], dims["hidden"]], [dims["hidden"], dims["hidden"]]])
    unregistered = layout.get("unregistered") if type(layout.get("unregistered")) is list else []
    if sorted(shapes) != wanted and unregistered and type(unregistered[0]) is list and len(unregistered[0]) == 2:
        name, kind = (str(part) for part in unregistered[0])
        raise Mistake(f"{call}.{name} is a plain Python {kind} of layers: layers kept in a plain Python {kind} are not "
                      "registered, so they are not among the network's parameters: the optimizer never trains them, "
                      "and .to(device) and state_dict() leave them out. Hint: use nn.ModuleList / nn.Sequential: "
                      f"self.{name} = nn.ModuleList([...]) or nn.Sequential(...).")
    without = layout.get("without_bias") if type(layout.get("without_bias")) is list else []
    expect(not without, f"{call} has a linear layer without a bias (bias=False), in {' and '.join(map(str, without))}: "
           "V(s) and A(s, a) are affine in the features, each layer with its own bias.",
           "keep nn.Linear's default bias=True in every layer.")
    expect(sorted(shapes) == wanted, f"{call} has the linear layers "
           f"{', '.join(f'Linear({a}, {b})' for a, b in sorted(shapes)) or 'none'} besides its heads; expected "
           f"Linear({dims['obs_dim']}, {dims['hidden']}) and Linear({dims['hidden']}, {dims['hidden']}).",
           "the trunk is Linear(obs_dim, hidden), ReLU, Linear(hidden, hidden), ReLU, sized with the arguments.")


def _expect_sizes_read(layout: dict, call: str, dims: dict) -> None:
    """Name the arguments whose defaults (4, 2, 128) size the layers instead of the values given."""
    given = [name for name in DUELING_DEFAULTS if dims[name] != DUELING_DEFAULTS[name]]
    for count in range(1, len(given) + 1):
        for ignored in itertools.combinations(given, count):
            if _has_sizes(layout, {**dims, **{name: DUELING_DEFAULTS[name] for name in ignored}}):
                written = ", ".join(f"{name}={DUELING_DEFAULTS[name]}" for name in ignored)
                raise Mistake(f"{call} built the layers of {written}: the sizes are written in, so the argument"
                              f"{'s' if count > 1 else ''} {', '.join(ignored)} {'are' if count > 1 else 'is'} "
                              "ignored. Hint: size every layer with the arguments: nn.Linear(obs_dim, hidden), "
                              "nn.Linear(hidden, hidden), nn.Linear(hidden, 1), nn.Linear(hidden, n_actions).")


def _judge_forward(results, key: str, call: str, case: dict, states: torch.Tensor) -> tuple:
    """The Q-values for the batch and what the heads saw, checked to be tensors of the right shape."""
    error = results.raised(f"{key} forward")
    sizes = BROADCAST.search(str(error.get("message", ""))) if error else None
    if sizes:
        line = str(error.get("where", ""))
        hints = [hint for word, hint in BROADCAST_HINTS if word in line] or [hint for _, hint in BROADCAST_HINTS]
        raise Mistake(f"{call} on a batch of shape {tuple(states.shape)} raised {crash_text(error)}. Hint: "
                      + " Or ".join(hints))
    forward = results.value(f"{key} forward")
    q_values, heads = forward["q"], forward["heads"]
    expect_tensor(q_values, f"{call}'s output for a batch of shape {tuple(states.shape)}",
                  (len(states), case["dims"]["n_actions"]), torch.float32)
    expect(q_values.requires_grad, f"{call}'s output does not require grad: forward ran under torch.no_grad() or "
           "detached its result.", "forward must stay differentiable so the network can be trained.")
    missing = [name for name, _, _ in HEADS if name not in heads]
    expect(not missing, f"{call}'s forward never calls self.{missing[0] if missing else ''}.",
           "features = trunk(states), V = self.value_head(features), A = self.advantage_head(features), then "
           + MEAN_HINT)
    seen = {name: [plain_tensor(x, f"{call}.{name}'s {part} is", "a tensor")
                   for x, part in zip(pair, ("input", "output"))] for name, pair in heads.items()}
    return q_values.detach(), seen


def _close(got: torch.Tensor):
    """A test: is a candidate tensor `got`, up to float32 rounding (whatever the two tensors' float dtypes)?"""
    return lambda value: value.shape == got.shape and torch.allclose(got.double(), value.double(), rtol=1e-4, atol=1e-5)


def _judge_trunk(heads: dict, features: torch.Tensor, call: str, case: dict, states: torch.Tensor) -> None:
    """Both heads must read ReLU(Linear(ReLU(Linear(states)))) of the trunk's own layers."""
    seen = heads["value_head"][0]
    if not _close(seen)(features):
        name_the_mistake(_close(seen), _trunk_slips(case, states),
                         f"the input of {call}'s heads is not ReLU(Linear(ReLU(Linear(states)))) of its trunk layers. "
                         "Hint: the trunk is Linear, ReLU, Linear, ReLU: a ReLU after each of its two layers.",
                         returned=f"the input of {call}'s heads is not the trunk's output: ")
    expect(_close(heads["advantage_head"][0])(seen), f"{call}'s two heads get different inputs.",
           "both heads read the trunk's output: V = self.value_head(features), A = self.advantage_head(features).")


def _judge_combination(q_values: torch.Tensor, reference: dict, call: str) -> None:
    """Q must be V + A − (mean of A over the actions)."""
    expected = reference["q"]
    if _close(q_values)(expected):
        return
    returned = (f"{call}'s output is not V + A − mean over the actions of A (V and A: what value_head and "
                "advantage_head returned): ")
    shared = _shared_subtraction(q_values, reference)
    name_the_mistake(_close(q_values), _combination_slips(reference),
                     returned + shared if shared else
                     f"{call}'s output differs by up to {(q_values - expected).abs().max():.3g} from V + A − mean over "
                     "the actions of A, V and A being what value_head and advantage_head returned. Hint: " + MEAN_HINT,
                     returned=returned)


def _shared_subtraction(q_values: torch.Tensor, reference: dict) -> str:
    """If Q is V + A less one number shared by the whole batch, or by each action over the batch: which; else ''."""
    taken = reference["values"] + reference["advantages"] - q_values
    if torch.allclose(taken, taken.flatten()[0].expand_as(taken), rtol=1e-4, atol=1e-5):
        return (f"one number, {float(taken.flatten()[0]):.4g}, is subtracted from every Q-value of the batch: a max "
                "or mean taken without dim= reduces the whole batch to one number. Hint: subtract each state's own "
                "mean advantage: A.mean(dim=-1, keepdim=True).")
    if len(taken) > 1 and torch.allclose(taken, taken[:1].expand_as(taken), rtol=1e-4, atol=1e-5):
        return ("each action's Q-values have the same number subtracted in every state: it is reduced over the "
                "batch (dim 0), so a state's Q-values depend on the other states of its batch. Hint: reduce over "
                "the actions: A.mean(dim=-1, keepdim=True).")
    return ""


def _trunk_gradients(net, states: torch.Tensor) -> dict:
    """For each head: the gradient norm of each trunk layer's weight from a backward pass of its output alone."""
    heads = {name: getattr(net, name) for name, _, _ in HEADS}
    trunk = [m for m in net.modules() if type(m) is nn.Linear and all(m is not head for head in heads.values())]
    outputs = {}
    # a copy in the graph: the forward may change the head's output in place afterwards (a -= a.mean(...))
    handles = [head.register_forward_hook(lambda module, inputs, output, name=name: outputs.__setitem__(
        name, output.clone() if type(output) is torch.Tensor else output)) for name, head in heads.items()]
    try:
        net(states)
    finally:
        for handle in handles:
            handle.remove()
    norms = {}
    for name, output in outputs.items():
        reaches = type(output) is torch.Tensor and output.requires_grad
        gradients = torch.autograd.grad(output.sum(), [m.weight for m in trunk], allow_unused=True,
                                        retain_graph=True) if reaches else [None] * len(trunk)
        norms[name] = [0.0 if g is None else float(g.norm()) for g in gradients]
    # Σ_a (A(s, a) − mean_a' A(s, a')) = 0: the sum of the Q-values has no gradient with respect to A's weights,
    # unless the mean is cut from the graph (.detach()) or is not A's own mean
    q_values = net(states)
    weight = heads["advantage_head"].weight
    if type(q_values) is torch.Tensor and q_values.requires_grad:
        gradient = torch.autograd.grad(q_values.sum(), weight, allow_unused=True)[0]
        scale = float(weight.detach().norm()) + 1.0
        norms["advantage in the sum"] = [0.0 if gradient is None else float(gradient.norm()) / scale]
    return norms


def _judge_gradients(results, key: str, call: str) -> None:
    """A backward pass from V alone, and from A alone, must reach every trunk layer (the trunk is shared)."""
    norms = None if results.raised(f"{key} gradients") else results.value(f"{key} gradients")
    if type(norms) is not dict:
        return
    for name, symbol in (("value_head", "V"), ("advantage_head", "A")):
        layers = norms.get(name)
        expect(type(layers) is not list or all(type(n) is float and n > 0 for n in layers), f"{call}: {symbol}'s "
               f"gradient never reaches the shared trunk: a backward pass from {name}'s output alone gives the trunk "
               f"layers no gradient ({name}(features.detach()), or {symbol} computed under torch.no_grad()), so the "
               f"trunk does not learn from {symbol}. The Q-values are right, but training is not.", f"feed {name} the "
               f"trunk's output itself: {symbol} = self.{name}(features), without .detach().")
    in_sum = norms.get("advantage in the sum")
    expect(not (type(in_sum) is list and in_sum and type(in_sum[0]) is float and in_sum[0] > 1e-5), f"{call}: the "
           "sum of the Q-values over the actions depends on A's weights, which it cannot when the mean of A is "
           "subtracted within the graph (the centred advantages sum to 0): the mean is cut from the gradient "
           "(.detach()), so the gradient of A ignores the centring.", "subtract A.mean(dim=-1, keepdim=True) as it "
           "is, without .detach(): the centring is part of the network.")


def _judge_single_state(results, key: str, call: str, case: dict) -> None:
    """One state (obs_dim,) must give (n_actions,) Q-values, the same as in a batch of one."""
    obs_dim, shape = case["dims"]["obs_dim"], (case["dims"]["n_actions"],)
    error = results.raised(f"{key} single")
    if error and not error.get("not_done"):
        hint = (EXPAND_HINT if "expanded size" in str(error.get("message")) and "leading" in str(error.get("message"))
                else SINGLE_HINT)
        raise Mistake(f"{call} fails on a single state of shape ({obs_dim},): it raised {crash_text(error)}. "
                      f"Hint: {hint}")
    q_values = results.value(f"{key} single")
    expect(not (type(q_values) in (torch.Tensor, nn.Parameter) and tuple(q_values.shape) == (1, *shape)), f"{call} "
           f"on a single state of shape ({obs_dim},) returned {describe(q_values)}; expected shape {shape}: a batch "
           "dimension is written in, as when V is reshaped with v.view(-1, 1) or v.repeat(1, n_actions) (or the "
           "state is unsqueezed and never squeezed back).", "leave V as value_head returns it, (..., 1): it "
           "broadcasts against A by itself: Q = V + A − A.mean(dim=-1, keepdim=True).")
    expect(type(q_values) in (torch.Tensor, nn.Parameter) and tuple(q_values.shape) == shape, f"{call} on a single "
           f"state of shape ({obs_dim},) returned {describe(q_values)}; expected shape {shape}, one Q-value per "
           "action.", SINGLE_HINT)
    expected = _dueling_reference(case, torch.from_numpy(case["state"]).unsqueeze(0))["q"][0]
    expect(torch.allclose(q_values.detach(), expected, rtol=1e-4, atol=1e-5), f"{call} gives a single state other "
           "Q-values than the same state in a batch of one.", SINGLE_HINT)


check_dueling_network = Check("7.1", "DuelingQNetwork", dueling_inputs, probe_dueling, judge_dueling,
                              references=("utils.networks.DuelingQNetwork",))


# --- 7.2 n_step_targets -------------------------------------------------------------------------

EPISODE_REWARDS = (1.0, -0.5, 2.0, 0.25, 3.0)
EPISODE_VALUES = (10.0, 20.0, 30.0, 40.0, 50.0)  # far apart, so that a value read one step off shows
N_STEP_GAMMA = 0.9
# (n, terminated): windows shorter than the episode, one-step targets, and n ≥ T; each episode ends by
# termination, then by truncation. The first two cases expose most mistakes.
N_STEP_CASES = ((3, True), (3, False), (1, True), (1, False), (8, True), (8, False))
WINDOW_HINT = ("stop the window at the episode's end: m = min(n, T − t) rewards, then bootstrap_values[t + m − 1], "
               "the value of s_(t+m); every step t < T gets a target, the last ones with m < n.")
INTEGER_TARGETS = ("the array they were written into has an integer dtype (np.zeros(T, dtype=int), or "
                   "np.zeros_like of an integer array), so every target, and every sum in it, is truncated. Hint: "
                   "write them into a float array: np.zeros(T) (float64).")
FORMULA_HINT = ("Hint: y_t = Σ_(k<m) γ^k r_(t+k) + γ^m · bootstrap_values[t + m − 1] · (0 if terminated and "
                "t + m == T else 1), with m = min(n, T − t).")


def n_step_inputs(rng) -> dict:
    """An episode's rewards and bootstrap values, γ, and the (n, terminated) cases to try."""
    if rng is None:
        return {"rewards": list(EPISODE_REWARDS), "values": list(EPISODE_VALUES), "gamma": N_STEP_GAMMA,
                "cases": [list(case) for case in N_STEP_CASES]}
    for _ in range(1000):  # a few draws at most: most episodes separate every mistake
        length = int(rng.integers(5, 9))
        n, beyond = int(rng.integers(2, length - 1)), int(rng.integers(length, length + 4))
        inputs = {"rewards": [float(r) for r in np.round(rng.uniform(-1, 3, length), 2)],
                  "values": [float(v) for v in np.round(rng.uniform(5, 60, length), 1)],
                  "gamma": float(rng.choice(GAMMAS)),
                  "cases": [[n, True], [n, False], [1, True], [1, False], [beyond, True], [beyond, False]]}
        if all(separated([_n_step_reference(inputs, *case), *_n_step_slips(inputs, *case).values()], same_ok=True)
               for case in inputs["cases"]):
            return inputs
    return inputs


def _n_step_reference(inputs: dict, n: int, terminated: bool, masks=None, power=lambda m: m, value_shift: int = 0,
                      reward_power=lambda k, m: k, summed=lambda m: m, window=lambda n, T, t: min(n, T - t),
                      value_at=lambda t, m: t + m - 1, reward_shift: int = 0) -> np.ndarray:
    """The targets of the episode; the keywords make the usual mistakes (their defaults: the right answer).

    `masks(t, m, T)`: whether the bootstrap is dropped (right: terminated and t + m == T);
    `power(m)`: the exponent of γ on the bootstrap; `value_at(t, m)` + `value_shift`: the index of the
    bootstrap value; `reward_power(k, m)`: the exponent of γ on r_(t+k); `summed(m)`: how many rewards are
    summed; `window(n, T, t)`: m; `reward_shift`: how many steps late the window's first reward is (rewards past
    the episode's end left out).
    """
    rewards, values, gamma = inputs["rewards"], inputs["values"], inputs["gamma"]
    length = len(rewards)
    masks = masks or (lambda t, m, T: terminated and t + m == T)
    targets = []
    for t in range(length):
        m = window(n, length, t)
        window_sum = sum(gamma ** reward_power(k, m) * rewards[t + k + reward_shift] for k in range(summed(m))
                         if t + k + reward_shift < length)
        value = values[min(max(value_at(t, m) + value_shift, 0), length - 1)]
        targets.append(window_sum + (not masks(t, m, length)) * gamma ** power(m) * value)
    return np.array(targets)


def _n_step_slips(inputs: dict, n: int, terminated: bool) -> dict:
    """The targets each usual mistake gives for one case, keyed by its message."""
    late = " Hint: bootstrap from bootstrap_values[t + m − 1], the value of s_(t+m) where the window ends."
    power_hint = " Hint: the bootstrap comes m steps after s_t: γ^m with m = min(n, T − t)."

    def slip(**keywords):
        """The targets with the mistake `keywords` make."""
        return _n_step_reference(inputs, n, terminated, **keywords)

    return {
        "it bootstraps after termination: the episode ended at s_T, which has no future value. Hint: drop the "
        "bootstrap term when terminated and t + m == T.": slip(masks=lambda t, m, T: False),
        "truncation is treated as termination: cut by the time limit, s_T still has a future, so the last targets "
        "must bootstrap from bootstrap_values[T − 1]. Hint: drop the bootstrap term only if terminated (and "
        "t + m == T).": slip(masks=lambda t, m, T: t + m == T),
        "the two endings are swapped: it bootstraps at the end of a terminated episode and not at the end of a "
        "truncated one. Hint: drop the bootstrap term only if terminated (and t + m == T).":
            slip(masks=lambda t, m, T: not terminated and t + m == T),
        "terminated drops the bootstrap of every target of the episode, but only the windows that reach its end "
        "(t + m == T) end at the terminal state; the others bootstrap from a state that has a future. Hint: "
        "multiply by (0 if terminated and t + m == T else 1), per step.": slip(masks=lambda t, m, T: terminated),
        "near the end it discounts the bootstrap by γ^n, but there the window holds only m = T − t < n rewards. "
        "Hint: γ^m with m = min(n, T − t).": slip(power=lambda m: n),
        "the bootstrap is discounted by γ whatever the window: it comes m steps after s_t." + power_hint:
            slip(power=lambda m: 1),
        "the bootstrap is discounted by γ^(m−1), one power too few: it comes m steps after s_t, after the m rewards "
        "r_t … r_(t+m−1)." + power_hint: slip(power=lambda m: m - 1),
        "the bootstrap value is read one step late: bootstrap_values[t + m] is the value of s_(t+m+1)." + late:
            slip(value_shift=1),
        "the bootstrap value is read one step early: bootstrap_values[t + m − 2] is the value of s_(t+m−1)." + late:
            slip(value_shift=-1),
        "the bootstrap value is bootstrap_values[t], the value of s_(t+1) as in a one-step target, but the window of "
        "m rewards ends at s_(t+m)." + late: slip(value_at=lambda t, m: t),
        "only m − 1 rewards are summed: the window's last reward, r_(t+m−1), is left out. Hint: Σ_(k<m) γ^k r_(t+k) "
        "sums k = 0 … m − 1, range(m).": slip(summed=lambda m: m - 1),
        **{f"the window is one step short near the episode's end: m = {written} stops a window that should reach "
           "s_T one step before it, so it leaves out r_(T−1) and bootstraps even after a termination. Hint: "
           "m = min(n, T − t).": slip(window=window)
           for written, window in (("max(1, min(n, T − t − 1))", lambda n, T, t: max(1, min(n, T - t - 1))),
                                   ("min(n, T − t − 1)", lambda n, T, t: min(n, T - t - 1)))},
        "the first reward is discounted: r_(t+k) gets γ^(k+1). Hint: r_t is received now, undiscounted: "
        "Σ_(k<m) γ^k r_(t+k).": slip(reward_power=lambda k, m: k + 1),
        "everything is discounted once too often: r_(t+k) gets γ^(k+1) and the bootstrap γ^(m+1). Hint: r_t is "
        "received now, undiscounted: Σ_(k<m) γ^k r_(t+k) + γ^m · bootstrap_values[t + m − 1].":
            slip(reward_power=lambda k, m: k + 1, power=lambda m: m + 1),
        "the rewards in the window are not discounted: r_(t+k) needs γ^k. Hint: Σ_(k<m) γ^k r_(t+k).":
            slip(reward_power=lambda k, m: 0),
        "the bootstrap value is not discounted: it comes m steps after s_t, so it needs γ^m." + power_hint:
            slip(power=lambda m: 0),
        "the window starts one step late, at r_(t+1): r_t, the reward of the step from s_t, is the first reward of "
        "its target. Hint: Σ_(k<m) γ^k r_(t+k), from k = 0: rewards[t + k].": slip(reward_shift=1),
        "it is an (n − 1)-step target: m = min(n − 1, T − t) counts the bootstrap state as one of the n steps, so "
        "the window holds one reward too few. Hint: m = min(n, T − t) rewards r_t … r_(t+m−1), then γ^m · "
        "bootstrap_values[t + m − 1].": slip(window=lambda n, T, t: min(n - 1, T - t)),
        "n is ignored: every target sums all the rewards left in the episode (a Monte Carlo return), then "
        "bootstraps from its end. Hint: the window holds m = min(n, T − t) rewards.":
            _n_step_reference(inputs, len(inputs["rewards"]), terminated),
        "the discounts of the window are in reverse order: the last reward gets γ^0. Hint: r_(t+k) gets γ^k, "
        "r_t undiscounted.": slip(reward_power=lambda k, m: m - 1 - k),
        "the targets are whole numbers: " + INTEGER_TARGETS: np.trunc(_n_step_reference(inputs, n, terminated)),
    }


def _n_step_call(inputs: dict, n: int, terminated: bool) -> str:
    """The call as the check made it."""
    return (f"n_step_targets({inputs['rewards']}, {inputs['values']}, terminated={terminated}, n={n}, "
            f"gamma={inputs['gamma']})")


def probe_n_step(rec, inputs: dict, n_step_targets) -> None:
    """Call the student's function on the episode for every (n, terminated)."""
    for index, (n, terminated) in enumerate(inputs["cases"]):
        rewards, values = np.array(inputs["rewards"]), np.array(inputs["values"])
        rec.call(f"case {index}", n_step_targets, rewards, values, terminated, n, inputs["gamma"], expect_error=True)
        rec.note(f"case {index} rewards after", rewards)  # as the call left them: they must be unchanged
        rec.note(f"case {index} values after", values)


def judge_n_step(results, inputs: dict) -> None:
    """Compare the targets of the episode with the reference for several n and both ways of ending.

    A mistake is named by the wrong version that matches every case the student's code answered;
    failing that, by the one that matches the first case it got wrong.
    """
    answered = []
    for index, (n, terminated) in enumerate(inputs["cases"]):
        if results.raised(f"case {index}"):
            break
        answered.append(_n_step_targets(results.value(f"case {index}"), inputs, n, terminated))
    for index, (n, terminated) in enumerate(inputs["cases"][:len(answered)]):
        targets, expected = answered[index], _n_step_reference(inputs, n, terminated)
        if np.allclose(targets, expected):
            continue
        call = _n_step_call(inputs, n, terminated)
        returned = f"{call} returned {_numbers(targets)}, expected {_numbers(expected)}: "
        got = results.value(f"case {index}")
        expect(got.dtype.kind not in "iu", returned + f"the targets are whole numbers ({got.dtype}): "
               + INTEGER_TARGETS)
        everywhere = _first_matching(lambda slips: all(np.allclose(got, value) for got, value in zip(answered, slips)),
                                     _slips_by_case(inputs, len(answered)))
        if everywhere:
            raise Mistake(returned + everywhere)
        name_the_mistake(lambda value: np.allclose(targets, value), _n_step_slips(inputs, n, terminated),
                         _bootstrap_rows(targets, inputs, n, terminated, returned)
                         or f"{call} returned {_numbers(targets)}; expected {_numbers(expected)}. " + FORMULA_HINT,
                         returned=returned)
    if len(answered) < len(inputs["cases"]):
        _n_step_crash(results, len(answered), inputs)
    for index, (n, terminated) in enumerate(inputs["cases"]):
        _judge_n_step_arguments(results, index, inputs, n, terminated)


def _judge_n_step_arguments(results, index: int, inputs: dict, n: int, terminated: bool) -> None:
    """The call of case `index` must leave the rewards and bootstrap values it was given as they were."""
    for name, key in (("rewards", "rewards"), ("bootstrap_values", "values")):
        after = plain_array(results.value(f"case {index} {key} after"), f"the {name} array", "a NumPy array")
        expect(np.array_equal(after, np.array(inputs[key])), f"{_n_step_call(inputs, n, terminated)} changed the {name} it "
               f"was given to {_numbers(after)}: the caller's array is changed too.", "leave the arguments as they "
               "are: leave the bootstrap term out of the target rather than zeroing a value, or work on a copy "
               f"(np.array({name}, dtype=float)).")


def _bootstrap_rows(targets: np.ndarray, inputs: dict, n: int, terminated: bool, returned: str) -> str:
    """If every target is right but for its bootstrap term, kept or dropped at the wrong steps: which steps; else ''."""
    kept = _n_step_reference(inputs, n, terminated, masks=lambda t, m, T: False)
    dropped = _n_step_reference(inputs, n, terminated, masks=lambda t, m, T: True)
    right = _n_step_reference(inputs, n, terminated)
    as_kept, as_dropped = np.isclose(targets, kept), np.isclose(targets, dropped)
    if not np.all(as_kept | as_dropped):
        return ""
    length = len(targets)
    rule = ("Hint: drop the bootstrap term only when terminated and t + m == T, the window reaching the terminal state "
            "s_T; every other target bootstraps from bootstrap_values[t + m − 1].")
    wrongly_dropped = [t for t in range(length) if as_dropped[t] and not as_kept[t] and right[t] != dropped[t]]
    if wrongly_dropped:
        t, others = wrongly_dropped[0], wrongly_dropped[1:]
        m = min(n, length - t)
        where = (f"s_{t + m} (t + m = {t + m} < T = {length}), a state with a future" if t + m < length else
                 "s_T, where the episode was truncated, not terminated: s_T has a future the time limit cut off")
        return (f"{returned}the target of step t = {t} has no bootstrap term, but its window ends at {where}"
                + (f" (so do{'es' * (len(others) == 1)} step{'s' * (len(others) > 1)} {', '.join(map(str, others))})"
                   if others else "") + f". {rule}")
    wrongly_kept = [t for t in range(length) if as_kept[t] and not as_dropped[t] and right[t] != kept[t]]
    if not wrongly_kept:
        return ""
    t = wrongly_kept[0]
    return (f"{returned}the target of step t = {t} bootstraps from bootstrap_values[{length - 1}], but its window "
            f"ends at s_T, where the episode " + ("terminated" if terminated else "was truncated") + f". {rule}")


def _n_step_crash(results, index: int, inputs: dict) -> None:
    """Raise what the call of case `index` raised: reading past the episode's end, or another crash."""
    error = results.raised(f"case {index}")
    call = _n_step_call(inputs, *inputs["cases"][index])
    if error.get("type") == "IndexError":
        raise Mistake(f"{call} raised {crash_text(error)}: it reads past the episode's end. Hint: {WINDOW_HINT}")
    if error.get("type") == "ValueError" and re.search(r"not aligned|broadcast|shape", str(error.get("message"))):
        raise Mistake(f"{call} raised {crash_text(error)}: near the episode's end a window holds fewer than n rewards, "
                      f"and n discounts (gamma ** np.arange(n)) no longer fit it. Hint: {WINDOW_HINT}")
    results.value(f"case {index}")


def _slips_by_case(inputs: dict, cases: int) -> dict:
    """For each usual mistake, the targets it gives in each of the first `cases` cases."""
    by_case = [_n_step_slips(inputs, n, terminated) for n, terminated in inputs["cases"][:cases]]
    return {message: [slips[message] for slips in by_case] for message in by_case[0]} if by_case else {}


def _n_step_targets(got, inputs: dict, n: int, terminated: bool) -> np.ndarray:
    """What the student's function returned for one case, as a float array of one target per step."""
    call, length = _n_step_call(inputs, n, terminated), len(inputs["rewards"])
    # The statement asks for an array: a list does not scale or add like one (targets * 2 repeats a list).
    targets = plain_values(got, f"{call} returned", f"a NumPy array of {length} targets, as the statement's "
                           "-> np.ndarray says (a list or tensor does not compute like one: targets * 2 repeats a "
                           "list)",
                           "return np.array(targets), one float per step.", containers=(np.ndarray,))
    expect(targets.shape == (length,), f"{call} returned " + (f"{len(targets)} targets" if targets.ndim == 1 else
           f"an array of shape {targets.shape}") + f" for an episode of {length} steps; expected {length}, one per "
           "step.", WINDOW_HINT)
    return targets


check_n_step_targets = Check("7.2", "n_step_targets", n_step_inputs, probe_n_step, judge_n_step,
                             references=("utils.nstep.episode_n_step_transitions", "utils.nstep.n_step_return"))


# --- 7.3 SumTree --------------------------------------------------------------------------------

TREE_CAPACITY = 8
FILLED = (3.0, 1.0, 4.0, 1.0, 5.0, 9.0)  # slots 6 and 7 stay 0; integers keep every sum exact
OVERWRITES = ((2, 7.0), (3, 0.0))  # then a zero-priority slot sits between positive ones: find must skip it
ALL_POSITIVE = (3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0)  # for values exactly on a prefix sum
LARGE_CAPACITY = 1024
LARGE_UPDATES = ((0, 2.0), (517, 3.0), (LARGE_CAPACITY - 1, 1.0))
PATH_NODES = LARGE_CAPACITY.bit_length()  # a leaf and its ancestors: log2(capacity) + 1 = 11 nodes
# Recomputing each parent on the path from its two children touches 3 entries per level (31 in all), a
# descent reading both children and the left one again about as many; a scan touches 1,024 or more.
MAX_ACCESSES = 4 * PATH_NODES
FIND_VALUES = 40
# The statement's example: in a 4-slot tree the total is 0.8300000000000001, and 0.83 − 0.32 = 0.51 exactly, so a
# descent without the guard goes right twice from find(0.83) and ends in the empty slot 3.
ROUNDING_PRIORITIES, ROUNDING_VALUE = (0.18, 0.14, 0.51), 0.83
# The edge case at totals near 1, 1e3 and 1e6: a fixed margin such as min(value, total - 1e-12) keeps the value
# below the total near 1 or 1e3, but is lost in rounding near 1e6, where neighbouring floats are 1.2e-10 apart.
ROUNDING_SCALES = (1, 1e3, 1e6)
EMPTY_END_HINT = ("go right only if the right child's sum is > 0 (or step back to the last slot of positive priority), "
                  "so that find never returns a slot of priority 0.")


def sum_tree_inputs(rng) -> dict:
    """Priorities to fill and overwrite, values to find, a tree of positive priorities, and a large tree.

    The notebook's inputs come from the generator seeded 7, drawn in the order the check used to draw them.
    """
    draw = np.random.default_rng(7) if rng is None else rng
    if rng is None:
        capacity, filled, overwrites = TREE_CAPACITY, list(FILLED), [list(pair) for pair in OVERWRITES]
        positive, updates = list(ALL_POSITIVE), [list(pair) for pair in LARGE_UPDATES]
    else:
        capacity = int(rng.choice([8, 16]))
        filled = [float(p) for p in rng.integers(1, 10, int(rng.integers(capacity - 4, capacity - 1)))]
        raised, emptied = (int(slot) for slot in rng.choice(len(filled) - 1, size=2, replace=False))
        overwrites = [[raised, filled[raised] % 9 + 1], [emptied, 0.0]]
        positive = [float(p) for p in rng.integers(1, 10, capacity)]
        updates = [[0, float(rng.integers(1, 10))], [int(rng.integers(1, LARGE_CAPACITY - 1)),
                   float(rng.integers(1, 10))], [LARGE_CAPACITY - 1, float(rng.integers(1, 10))]]
    total = _overwritten(capacity, filled, overwrites).sum()
    inputs = {"capacity": capacity, "filled": filled, "overwrites": overwrites,
              "find": [float(v) for v in draw.uniform(0, total, FIND_VALUES)], "at_total": float(total),
              "positive": positive, "boundaries": [0.0, *np.cumsum(positive)[:-1].tolist()]}
    inputs["rounding"] = [_rounding_case(rng, scale) for scale in ROUNDING_SCALES]
    large = draw.integers(1, 10, LARGE_CAPACITY).astype(float)
    nodes = _tree_nodes(large)
    for slot, priority in updates:
        large[slot] = priority
    inputs["large"] = {"nodes": nodes, "updates": updates, "counted_finds": draw.uniform(0, large.sum(), 3),
                       "finds": draw.uniform(0, large.sum(), 5)}
    return inputs


def _rounding_case(rng, scale: float = 1) -> dict:
    """Three priorities of a 4-slot tree, summing to about `scale`, and a value below its total that a descent
    without the guard ends beyond.

    With three slots filled in order, every way of keeping the sums (recomputing parents, adding the change)
    gives the same rounded nodes, so the value trips any unguarded descent. Near 1, the priorities have two
    decimals (about 1 draw in 1,500 trips); above, they are drawn to full precision (about 1 in 500). The
    notebook's cases come from generators of their own, seeded by the scale.
    """
    if rng is None and scale == 1:
        return {"priorities": list(ROUNDING_PRIORITIES), "value": ROUNDING_VALUE}
    draw = np.random.default_rng(int(scale)) if rng is None else rng
    for _ in range(100_000):
        priorities = draw.uniform(0.01, 0.99, 3) * scale
        priorities = np.round(priorities, 2) if scale == 1 else priorities
        nodes = _tree_nodes(np.append(priorities, 0.0))
        below = [float(np.round(priorities.sum(), 2)), float(np.nextafter(nodes[1], 0))]
        value = next((v for v in below if v < nodes[1] and _descend(nodes[4:], v, guarded=False) == 3), None)
        if value is not None:
            return {"priorities": priorities.tolist(), "value": value}
    raise RuntimeError("no rounding case found")  # never seen: one is found within a few thousand draws


def _overwritten(capacity: int, filled: list, overwrites: list) -> np.ndarray:
    """The priorities of every slot after the fills and the overwrites."""
    priorities = np.zeros(capacity)
    priorities[:len(filled)] = filled
    for slot, priority in overwrites:
        priorities[int(slot)] = priority
    return priorities


def _tree_nodes(priorities: np.ndarray) -> np.ndarray:
    """The `nodes` array of a sum tree over `priorities` (their number a power of two), laid out as the skeleton's."""
    capacity = len(priorities)
    nodes = np.zeros(2 * capacity)
    nodes[capacity:] = priorities
    for k in range(capacity - 1, 0, -1):
        nodes[k] = nodes[2 * k] + nodes[2 * k + 1]
    return nodes


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


def probe_sum_tree(rec, inputs: dict, tree_class) -> None:
    """Fill and overwrite slots, reading the tree; find values; then count the entries each call touches."""
    tree = rec.call("tree", tree_class, inputs["capacity"])
    for slot, priority in enumerate(inputs["filled"]):
        rec.call(f"fill {slot}", tree.update, slot, priority)
    _note_tree(rec, "filled", tree)
    for index, (slot, priority) in enumerate(inputs["overwrites"]):
        rec.call(f"overwrite {index}", tree.update, slot, priority)
        _note_tree(rec, f"overwrite {index}", tree)
    for index, value in enumerate(inputs["find"]):
        rec.call(f"find {index}", tree.find, value)
    rec.call("find at total", tree.find, inputs["at_total"])
    for index, case in enumerate(inputs["rounding"]):
        rounding = rec.call(f"rounding {index} tree", tree_class, 4)
        for slot, priority in enumerate(case["priorities"]):
            rec.call(f"rounding {index} {slot}", rounding.update, slot, priority)
        _note_tree(rec, f"rounding {index}", rounding)
        rec.call(f"find rounding {index}", rounding.find, case["value"])
    positive = rec.call("positive tree", tree_class, inputs["capacity"])
    for slot, priority in enumerate(inputs["positive"]):
        rec.call(f"positive {slot}", positive.update, slot, priority)
    for index, value in enumerate(inputs["boundaries"]):
        rec.call(f"boundary {index}", positive.find, value)
    _probe_large_tree(rec, inputs["large"], tree_class)


def _note_tree(rec, key: str, tree) -> None:
    """Record the tree's `nodes` and what its total() returns."""
    rec.call(f"{key} nodes", getattr, tree, "nodes")
    rec.call(f"{key} total", _read_total, tree)


def _read_total(tree):
    """`tree.total()` as the skeleton writes it (a property is accepted too)."""
    total = tree.total
    return total() if callable(total) else total


def _probe_large_tree(rec, large: dict, tree_class) -> None:
    """Give a large tree counted nodes; record the entries each update and find touches, then some finds."""
    tree = rec.call("large tree", tree_class, LARGE_CAPACITY)
    counted = CountedNodes(large["nodes"])
    rec.call("large nodes", setattr, tree, "nodes", counted)  # the layout was checked at capacity 8
    for index, (slot, priority) in enumerate(large["updates"]):
        counted.accesses[0] = 0
        rec.call(f"large update {index}", tree.update, slot, priority)
        rec.note(f"large update {index} accesses", counted.accesses[0])
    for index, value in enumerate(large["counted_finds"]):
        counted.accesses[0] = 0
        rec.call(f"large find {index}", tree.find, float(value))
        rec.note(f"large find {index} accesses", counted.accesses[0])
    for index, value in enumerate(large["finds"]):
        rec.call(f"large check {index}", tree.find, float(value))


def judge_sum_tree(results, inputs: dict) -> None:
    """Fill and overwrite slots, compare every node and `find` with brute force, then count accesses per call."""
    capacity = inputs["capacity"]
    results.value("tree")
    for slot in range(len(inputs["filled"])):
        results.value(f"fill {slot}")
    priorities = _overwritten(capacity, inputs["filled"], [])
    _expect_sums(results, "filled", priorities, f"after update(j, p_j) for the priorities {_numbers(inputs['filled'])}",
                 history=list(enumerate(inputs["filled"])))
    for index, (slot, priority) in enumerate(inputs["overwrites"]):
        _judge_overwrite(results, index, priorities, int(slot), float(priority))
    _judge_finds(results, [f"find {i}" for i in range(len(inputs["find"]))], priorities, inputs["find"])
    positive = np.array(inputs["positive"])
    results.value("positive tree")
    for slot in range(capacity):
        results.value(f"positive {slot}")
    # A value equal to the sum of p_0..p_j belongs to slot j + 1: sum(p_0..p_j) <= value < sum(p_0..p_(j+1)).
    _judge_finds(results, [f"boundary {i}" for i in range(capacity)], positive, inputs["boundaries"])
    _judge_large_tree(results, inputs["large"])
    _judge_find_at_total(results, priorities, inputs["at_total"])
    _judge_find_after_rounding(results, inputs["rounding"])


def _total(results, key: str) -> float:
    """What total() returned, checked to be a number."""
    return plain_number(results.value(f"{key} total"), "total() returned", "a number")


def _nodes(results, key: str) -> np.ndarray:
    """`tree.nodes` as a new float array, checked to hold plain numbers (they are compared with the sums)."""
    return plain_values(results.value(f"{key} nodes"), "tree.nodes is", "a NumPy array of 2 * capacity sums",
                        "self.nodes = np.zeros(2 * capacity).")


def _sums_problem(results, key: str, priorities: np.ndarray, after: str, history=None) -> str:
    """What is wrong with the leaves, the inner sums or total() of the tree, or '' if nothing.

    `history`, the (slot, priority) updates made so far, lets it name children read at the wrong index.
    """
    capacity, nodes = len(priorities), _nodes(results, key)
    leaves = nodes[capacity:]
    if (nodes.shape == (2 * capacity,) and not np.array_equal(leaves, priorities)
            and np.array_equal(leaves, priorities.astype(np.float32).astype(float))):
        shown, wanted = _apart(leaves, priorities)
        return (f"{after}, the leaves nodes[{capacity}:] hold {shown}; expected {wanted}: the nodes are float32, "
                "which keeps about 7 digits, so the priorities and their sums are rounded. Hint: keep the nodes "
                "float64: self.nodes = np.zeros(2 * capacity), NumPy's default dtype.")
    if nodes.shape != (2 * capacity,) or not np.array_equal(leaves, priorities):
        return (f"{after}, the leaves nodes[{capacity}:] hold {_numbers(leaves)}; expected {_numbers(priorities)}. "
                "Hint: slot j is the leaf nodes[capacity + j].")
    wrong = [k for k in range(1, capacity) if nodes[k] != nodes[2 * k] + nodes[2 * k + 1]]
    total, expected = _total(results, key), priorities.sum()
    if not wrong and total == expected:
        return ""
    sums = _tree_nodes(priorities)[1:capacity]
    if np.any(sums != 0) and np.allclose(nodes[1:capacity], -sums):
        return (f"{after}, total() returns {total:g}; expected {expected:g}: every sum above the leaves is the "
                "negative of what it should be: update changes the ancestors by old − new, the wrong sign. Hint: "
                "change = priority − self.nodes[leaf] (new − old), computed before the leaf is overwritten, then add "
                "it to every ancestor.")
    where = (f": node {wrong[0]}{' (the root)' if wrong[0] == 1 else ''} holds {nodes[wrong[0]]:g}, not the sum of "
             f"its children {nodes[2 * wrong[0]] + nodes[2 * wrong[0] + 1]:g}") if wrong else ""
    shift = next((shift for shift in (-1, 1) if history is not None
                  and np.allclose(nodes, _shifted_children(capacity, history, shift))), 0)
    if shift:
        left = "2k − 1" if shift < 0 else "2k + 1"
        right = "2k" if shift < 0 else "2k + 2"
        return (f"{after}, total() returns {total:g}; expected {expected:g}{where}: update sums nodes[{left}] and "
                f"nodes[{right}] into node k, but node k's children are 2k and 2k + 1 (the root's are 2 and 3). "
                "Hint: self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1].")
    return (f"{after}, total() returns {total:g}; expected {expected:g}{where}. Hint: after setting the leaf, move up "
            "(node //= 2) and update every ancestor, the root (node 1) included.")


def _shifted_children(capacity: int, history: list, shift: int) -> np.ndarray:
    """The nodes after the `history` of updates if each parent summed nodes[2k + shift] and nodes[2k + 1 + shift]."""
    nodes = np.zeros(2 * capacity + 1)  # one spare entry: with shift +1 the last parent reads past the leaves
    for slot, priority in history:
        node = capacity + int(slot)
        nodes[node] = priority
        while node > 1:
            node //= 2
            nodes[node] = nodes[2 * node + shift] + nodes[2 * node + 1 + shift]
    return nodes[:2 * capacity]


def _expect_sums(results, key: str, priorities: np.ndarray, after: str, history=None) -> None:
    """Fail unless the leaves hold `priorities` and every inner node the sum of its children."""
    problem = _sums_problem(results, key, priorities, after, history)
    if problem:
        raise Mistake(problem)


def _judge_overwrite(results, index: int, priorities: np.ndarray, slot: int, priority: float) -> None:
    """Overwriting a slot must replace its priority, and change every sum above it by the difference only."""
    old, old_total = priorities[slot], priorities.sum()
    priorities[slot] = priority
    key, after = f"overwrite {index}", f"after update({slot}, {priority:g}) overwrote the priority {old:g}"
    results.value(key)
    leaf = len(priorities) + slot
    nodes = _nodes(results, key)
    got = (float(nodes[leaf]) if leaf < len(nodes) else float("nan"), _total(results, key))
    capacity = len(priorities)
    if nodes.shape == (2 * capacity,) and [k for k in range(1, capacity) if nodes[k] != nodes[2 * k] + nodes[2 * k + 1]] \
            == [1]:  # only the root is stale: it was left out, whatever the priority (adding 0 looks the same)
        _expect_sums(results, key, priorities, after)
    if got != (priority, priorities.sum()):
        name_the_mistake(lambda value: got == value, {
            "update adds the new priority to the old one instead of replacing it. Hint: set the leaf to the new "
            "priority, and change each ancestor by the difference (new − old), or recompute it from its children.":
                (old + priority, old_total + priority),
            "update adds the new priority to every ancestor, so the old one is still counted. Hint: change each "
            "ancestor by the difference (new − old), or recompute it as the sum of its two children.":
                (priority, old_total + priority),
        }, _sums_problem(results, key, priorities, after) or f"{after}, total() returns {got[1]:g}; expected "
           f"{priorities.sum():g}.", returned=f"{after}, nodes[{leaf}] is {got[0]:g} and total() {got[1]:g}; "
                                              f"expected {priority:g} and {priorities.sum():g}: ")
    _expect_sums(results, key, priorities, after)


def _descend(priorities: np.ndarray, value: float, subtracts: bool = True, strict: bool = True,
             compares: int = 0, subtracted: int = 0, guarded: bool = True) -> int:
    """The slot a root-to-leaf descent finds; the keywords other than their defaults make the usual mistakes.

    `compares`, `subtracted`: which child's sum the value is compared with, and which one is subtracted
    when going right (0: the left one, right; 1: the right one); `guarded`: never go right into a sum of 0.
    """
    capacity, nodes = len(priorities), _tree_nodes(priorities)
    node = 1
    while node < capacity:
        left = 2 * node
        if value < nodes[left + compares] or (not strict and value == nodes[left]) or (guarded and not nodes[left + 1]):
            node = left
        else:
            value -= nodes[left + subtracted] if subtracts else 0.0
            node = left + 1
    return node - capacity


def _slot(results, key: str, about: str, value: float) -> int:
    """What find(value) returned, checked to be an int."""
    return plain_number(results.value(key), f"{about} find({value:g}) returned", "a slot number, an int",
                        "return the leaf's slot, node − capacity.", types=(int, np.integer))


def _judge_finds(results, keys: list, priorities: np.ndarray, values) -> None:
    """`find(v)` must be the slot j with sum(p_0..p_(j−1)) <= v < sum(p_0..p_j), found by brute force.

    A mistake is named by the wrong descent that gives the first wrong slot and most of the others.
    """
    prefix_sums = np.cumsum(priorities)
    about = f"with priorities {_numbers(priorities)} (prefix sums {_numbers(prefix_sums)}),"
    found = [(value, _slot(results, key, about, value)) for key, value in zip(keys, map(float, values))]
    wrong = [(value, got) for value, got in found if got != _prefix_slot(prefix_sums, value)]
    if not wrong:
        return
    value, got = wrong[0]
    expected, mistakes = _prefix_slot(prefix_sums, value), _find_mistakes(priorities)
    returned = f"{about} find({value:g}) returned {got}, expected {expected}: "
    # For each mistake that gives the first wrong slot, how many of find's answers it gives.
    agreement = {description: max(sum(slot == way(v) for v, slot in found) for way in ways if way(value) == got)
                 for description, ways in mistakes.items() if any(way(value) == got for way in ways)}
    if agreement:
        raise Mistake(returned + max(agreement, key=agreement.get))  # the first of the best ones, in the dict's order
    raise Mistake(f"{about} find({value:g}) returned {got}; expected slot {expected}. Hint: from the root, go left "
                  "if value < the left child's sum, else go right with value − left sum, down to a leaf; its slot is "
                  "node − capacity.")


def _prefix_slot(prefix_sums: np.ndarray, value: float) -> int:
    """The slot j with sum(p_0..p_(j−1)) <= value < sum(p_0..p_j)."""
    return int(np.searchsorted(prefix_sums, value, side="right"))


def _find_mistakes(priorities: np.ndarray) -> dict:
    """For each usual mistake of find, the ways of making it: functions from a value to the slot found."""
    def descents(**mistake) -> tuple:
        """A descent with `mistake`, with the guard against empty subtrees and without."""
        return tuple(functools.partial(_descend, priorities, guarded=guarded, **mistake) for guarded in (True, False))

    return {
        "it returns the leaf's node number, not its slot. Hint: slot = node − capacity.":
            (lambda value: _prefix_slot(np.cumsum(priorities), value) + len(priorities),),
        "the slots are counted from 1: node − capacity + 1. Hint: slot = node − capacity, so that the first leaf, "
        "node capacity, is slot 0.": (lambda value: _prefix_slot(np.cumsum(priorities), value) + 1,),
        "going right, it does not subtract the left child's sum from the value. Hint: when value >= the left "
        "sum, go right with value − left sum (the right subtree's prefix sums start at 0).":
            descents(subtracts=False),
        "a value equal to the left child's sum goes left, but it belongs to the right subtree. Hint: go left "
        "only if value < left sum, as in sum(p_0..p_(j−1)) <= value < sum(p_0..p_j).": descents(strict=False),
        "it compares the value with the right child's sum; the left child's decides. Hint: go left if value < "
        "the left child's sum, else go right with value − left sum.": descents(compares=1),
        "going right, it subtracts the right child's sum; it is the left child's sum that the right subtree's "
        "values come after. Hint: value − left sum.": descents(subtracted=1),
    }


def _judge_find_at_total(results, priorities: np.ndarray, total: float) -> None:
    """find(total()) must return the last slot of positive priority, never an empty one beyond it.

    Rounding can put a value drawn in [0, total) at the total itself, or just past the sum of a
    subtree; a descent that then goes right into slots of priority 0 returns a slot that holds
    nothing (the course's SumTree guards against it).
    """
    about = f"with priorities {_numbers(priorities)},"
    got = _slot(results, "find at total", about, total)
    expected = int(np.flatnonzero(priorities)[-1])
    if got == expected:
        return
    empty = 0 <= got < len(priorities) and priorities[got] == 0
    expect(not empty, f"{about} find({total:g}), the value at total() itself, returned slot {got}, whose priority "
           "is 0: a slot that holds nothing. Rounding can put a value drawn in [0, total) at the total (or at the end "
           "of a subtree), and the descent then goes right into the empty slots.", EMPTY_END_HINT)
    raise Mistake(f"{about} find({total:g}), the value at total() itself, returned {got}; expected slot {expected}, "
                  f"the last one of positive priority. Hint: {EMPTY_END_HINT}")


def _judge_find_after_rounding(results, cases: list) -> None:
    """In 4-slot trees of totals near 1, 1e3 and 1e6, a value just below the total that rounding leaves at the end
    of a subtree must find slot 2, never the empty slot 3."""
    handled = []  # the totals at which the edge case was handled
    for index, case in enumerate(cases):
        priorities, value = np.append(case["priorities"], 0.0), case["value"]
        nodes = _tree_nodes(priorities)  # as every update keeps them for three slots filled in order
        results.value(f"rounding {index} tree")
        for slot in range(3):
            results.value(f"rounding {index} {slot}")
        _expect_sums(results, f"rounding {index}", priorities, f"after update(j, p_j) for the priorities "
                     f"{case['priorities']}", history=list(enumerate(case["priorities"])))
        about = f"in a tree of 4 slots with the priorities {case['priorities']} (total() = {float(nodes[1])!r}),"
        got = _slot(results, f"find rounding {index}", about, value)
        if got == 2:
            handled.append(float(nodes[1]))
            continue
        margin = (f" The same edge case with a total of {handled[0]:.4g} found slot 2: a fixed margin, such as "
                  f"min(value, total − 1e-12), is lost in rounding at this total, where neighbouring floats are "
                  f"{float(np.spacing(nodes[1])):.2g} apart." if handled else "")
        expect(got != 3, f"{about} find({value!r}) returned slot 3, whose priority is 0: a slot that holds nothing. "
               f"Going right at the root leaves {value!r} − {float(nodes[2])!r} = {float(value - nodes[2])!r}, which "
               f"rounding puts at (not below) slot 2's priority {float(nodes[6])!r}, so the descent goes right again, "
               f"into the empty slot.{margin}", EMPTY_END_HINT)
        raise Mistake(f"{about} find({value!r}) returned {got}; expected slot 2. Hint: {EMPTY_END_HINT}")


def _judge_large_tree(results, large: dict) -> None:
    """At capacity 1024, each update and find may touch only a few entries per level of the tree."""
    priorities = np.array(large["nodes"][LARGE_CAPACITY:])
    results.value("large tree")
    results.value("large nodes")
    levels = f"a leaf and its ancestors are {PATH_NODES} nodes"
    for index, (slot, priority) in enumerate(large["updates"]):
        results.value(f"large update {index}")
        priorities[int(slot)] = priority
        accesses = plain_number(results.value(f"large update {index} accesses"), "the count", "an int", types=(int,))
        expect(accesses <= MAX_ACCESSES, f"at capacity {LARGE_CAPACITY}, update({slot}, {priority:g}) read or wrote "
               f"{accesses} entries of nodes; {levels}.", "update only the leaf and its ancestors, moving up one "
               "parent at a time (node //= 2): O(log capacity), not the whole tree.")
    for index, value in enumerate(large["counted_finds"]):
        results.value(f"large find {index}")
        accesses = plain_number(results.value(f"large find {index} accesses"), "the count", "an int", types=(int,))
        expect(accesses <= MAX_ACCESSES, f"at capacity {LARGE_CAPACITY}, find({value:g}) read {accesses} entries of "
               f"nodes; {levels}.", "descend from the root, choosing one child per level: O(log capacity), not a "
               "scan of the leaves.")
    _judge_finds(results, [f"large check {i}" for i in range(len(large["finds"]))], priorities, large["finds"])


check_sum_tree = Check("7.3", "SumTree", sum_tree_inputs, probe_sum_tree, judge_sum_tree,
                       references=("utils.prioritized.SumTree",))


# --- 7.4 priorities, importance weights, β -------------------------------------------------------

TD_ERRORS = (-2.0, 0.0, 0.5, 3.0)
ALPHA = 0.6
EPS = 1e-6
OTHER_EPS = 0.01
BATCH_PROBABILITIES = (0.1, 0.4, 0.2, 0.05)  # P(i) of a batch's transitions: they need not sum to 1
MEMORY_SIZE = 100
BETA = 0.4
BETA_STEPS = (0, 250, 750, 1000, 1500)  # the start, a quarter and three quarters of the way, the end, and past it
BETA_TOTAL_STEPS = 1000


def per_inputs(rng) -> dict:
    """TD errors (one of them 0) and α, a batch's probabilities and memory size, β and the steps of its schedule."""
    if rng is None:
        return {"td_errors": list(TD_ERRORS), "alpha": ALPHA, "eps": OTHER_EPS,
                "probabilities": list(BATCH_PROBABILITIES), "size": MEMORY_SIZE, "beta": BETA,
                "steps": list(BETA_STEPS), "total_steps": BETA_TOTAL_STEPS}
    for _ in range(1000):  # a few draws at most
        td_errors = np.round(rng.uniform(-4, 4, int(rng.integers(4, 7))), 2)
        td_errors[rng.integers(len(td_errors))] = 0.0
        total = int(rng.choice([800, 1000, 2000, 5000]))
        inputs = {"td_errors": td_errors.tolist(), "alpha": float(rng.choice([0.5, 0.6, 0.7, 0.8])),
                  "eps": float(rng.choice([0.01, 0.05, 0.1])),
                  "probabilities": np.round(rng.uniform(0.01, 0.4, int(rng.integers(4, 7))), 3).tolist(),
                  "size": int(rng.integers(50, 500)), "beta": float(rng.choice([0.3, 0.4, 0.5, 0.6])),
                  # one step before β's fraction of the way and one well after it: max(beta_start, step / total)
                  # shows at both
                  "steps": [0, int(total * rng.uniform(0.05, 0.25)), int(total * rng.uniform(0.7, 0.9)), total,
                            int(total * rng.uniform(1.2, 2))],
                  "total_steps": total}
        if (min(np.abs(td_errors[td_errors != 0])) > 0.1 and len(set(inputs["probabilities"])) > 2
                and all(separated([expected, *slips.values()], same_ok=True)
                        for expected, slips in _per_slips(inputs)[1:])):
            return inputs
    return inputs


def _per_slips(inputs: dict) -> list:
    """(expected, {message: what a usual mistake returns}) for priorities, weights and β.

    The priority mistakes differ from the right answer by construction (some only by about eps).
    """
    return [(_expected_priorities(inputs), _priority_slips(inputs)), (_expected_weights(inputs), _weight_slips(inputs)),
            (_expected_betas(inputs), _beta_slips(inputs))]


def probe_per(rec, inputs: dict, priorities_from, importance_weights, beta_at) -> None:
    """Call the three functions on the inputs (with the default eps and another, with β and with β = 0)."""
    td_errors, probabilities = np.array(inputs["td_errors"]), np.array(inputs["probabilities"])
    rec.call("priorities", priorities_from, td_errors.copy(), inputs["alpha"], expect_error=True)
    rec.call("priorities eps", priorities_from, td_errors.copy(), inputs["alpha"], inputs["eps"], expect_error=True)
    rec.call("weights", importance_weights, probabilities.copy(), inputs["size"], inputs["beta"], expect_error=True)
    rec.call("weights beta 0", importance_weights, probabilities.copy(), inputs["size"], 0.0, expect_error=True)
    for index, step in enumerate(inputs["steps"]):
        rec.call(f"beta {index}", beta_at, step, inputs["beta"], inputs["total_steps"], expect_error=True)


def judge_per(results, inputs: dict) -> None:
    """Compare the three functions with the formulas of Schaul et al. (2016) on the inputs."""
    _judge_priorities(results, inputs)
    _judge_importance_weights(results, inputs)
    _judge_beta_at(results, inputs)


def _array_result(got, call: str, length: int, what: str) -> np.ndarray:
    """`got` if it is a float ndarray of `length` entries, else a mistake saying what came back."""
    wanted, hint = f"a NumPy array of {length} {what}", ("compute with NumPy on the array you are given (np.abs, **), "
                                                         "which returns an array of the same shape.")
    plain = plain_array(got, f"{call} returned", wanted, hint, kinds="iuf")
    expect(plain.shape == (length,), f"{call} returned {describe(plain)}; expected {wanted}.", hint)
    return plain.astype(float)


def _expected_priorities(inputs: dict) -> np.ndarray:
    """(|δ| + 1e-6)^α for the inputs' TD errors."""
    return prioritized.priorities_from_td_errors(inputs["td_errors"], inputs["alpha"], EPS)


def _priority_slips(inputs: dict) -> dict:
    """What the usual mistakes return for priorities_from(td_errors, alpha), keyed by the message."""
    td_errors, alpha = np.array(inputs["td_errors"]), inputs["alpha"]
    hint = " Hint: (|δ| + eps) ** alpha."
    with np.errstate(invalid="ignore"):  # a fractional power of a negative error is NaN, as in the mistake
        signed = (td_errors + EPS) ** alpha
    return {
        "eps is missing: a TD error of 0 gives priority 0, and that transition is never replayed again." + hint:
            np.abs(td_errors) ** alpha,
        "α is missing: priorities proportional to |δ| replay large errors too greedily (α = 0 is uniform "
        "sampling, α = 1 fully proportional)." + hint: np.abs(td_errors) + EPS,
        "eps is added after the power." + hint: np.abs(td_errors) ** alpha + EPS,
        "the power is applied to each term, |δ|^α + eps^α: eps is added to |δ| before the power." + hint:
            np.abs(td_errors) ** alpha + EPS ** alpha,
        "eps is a floor, max(|δ|, eps), instead of being added: eps is added to |δ| before the power." + hint:
            np.maximum(np.abs(td_errors), EPS) ** alpha,
        "the sign of δ is kept, so negative errors give NaN. Hint: (np.abs(td_errors) + eps) ** alpha.": signed,
        "it squares δ: the priority is of |δ|, not δ²." + hint: (td_errors ** 2 + EPS) ** alpha,
        "eps is added inside the absolute value, |δ + eps|, which shrinks the negative errors." + hint:
            np.abs(td_errors + EPS) ** alpha,
        "α multiplies the error instead of being its exponent: α · (|δ| + eps) is proportional to |δ|, so the "
        "priorities are not flattened at all." + hint:
            (alpha * (np.abs(td_errors) + EPS), alpha * np.abs(td_errors) + EPS, alpha * np.abs(td_errors)),
    }


def _judge_priorities(results, inputs: dict) -> None:
    """(|δ| + eps)^α elementwise, with eps = 1e-6 by default and the eps passed otherwise."""
    td_errors, alpha = inputs["td_errors"], inputs["alpha"]
    call = f"priorities_from(np.array({td_errors}), alpha={alpha})"
    got = _array_result(results.value("priorities"), call, len(td_errors), "priorities")
    # Numbers computed in float32 (returned so, or cast up) are held to float32's precision: the slips that differ
    # by less (where eps goes) differ by far more at the TD error 0.
    rtol = 1e-6 if np.array_equal(got, got.astype(np.float32).astype(float)) else 1e-9
    expected = _expected_priorities(inputs)
    if not np.allclose(got, expected, rtol=rtol, atol=0):
        _expect_default_eps(got, inputs, call)
        shown, wanted = _apart(got, expected)
        name_the_mistake(lambda value: any(np.allclose(got, candidate, rtol=rtol, atol=0, equal_nan=True)
                                           for candidate in (value if type(value) is tuple else (value,))),
                         _priority_slips(inputs), f"{call} returned {shown}; expected {wanted}. "
                         "Hint: (|δ| + eps) ** alpha.", returned=f"{call} returned {shown}, expected {wanted}: ")
    call = f"priorities_from(np.array({td_errors}), {alpha}, {inputs['eps']})"
    got = _array_result(results.value("priorities eps"), call, len(td_errors), "priorities")
    expected = prioritized.priorities_from_td_errors(td_errors, alpha, inputs["eps"])
    expect(np.allclose(got, expected, rtol=rtol, atol=0), f"{call} returned {_numbers(got)}; expected "
           f"{_numbers(expected)}: the eps argument is ignored.", "use the eps parameter, not a fixed 1e-6.")


def _expect_default_eps(got: np.ndarray, inputs: dict, call: str) -> None:
    """Name a default eps other than 1e-6, read from the priority of the TD error 0 (which is eps^α)."""
    td_errors, alpha = np.array(inputs["td_errors"]), inputs["alpha"]
    zero = got[td_errors == 0]
    if zero.size and zero[0] > 0:
        eps = float(zero[0]) ** (1 / alpha)
        expect(not np.allclose(got, (np.abs(td_errors) + eps) ** alpha, rtol=1e-9, atol=0), f"{call} returned "
               f"{_numbers(got)}, expected {_numbers(_expected_priorities(inputs))}: the default eps is {eps:.3g}, "
               "not 1e-6.", "priorities_from(td_errors, alpha, eps=1e-6).")


def _expected_weights(inputs: dict) -> np.ndarray:
    """(N · P)^(−β) / max for the inputs' batch."""
    return prioritized.importance_weights(inputs["probabilities"], inputs["size"], inputs["beta"])


def _weight_slips(inputs: dict) -> dict:
    """What the usual mistakes return for importance_weights(probabilities, size, beta), keyed by the message."""
    probabilities, size, beta = np.array(inputs["probabilities"]), inputs["size"], inputs["beta"]
    raw = (size * probabilities) ** -beta
    hint = " Hint: w = (N · P) ** (−beta), then w / w.max()."
    return {
        f"the weights are not normalised: the largest is {raw.max():.4g}, not 1. Hint: divide by their max, so "
        "that the weights only ever scale updates down.": raw,
        "the exponent is +β: the frequent transitions get the larger weights, but it is the rare ones (small "
        "P) whose updates need the weight, to make up for being sampled less." + hint:
            prioritized.importance_weights(probabilities, size, -beta),
        "the weights are divided by their sum; the max is the one to divide by (the largest weight is then 1)."
        + hint: raw / raw.sum(),
        "the weights are divided by their smallest, so they are ≥ 1 and scale updates up; divide by the largest."
        + hint: raw / raw.min(),
        "β is ignored: the exponent is −1 whatever beta is." + hint: probabilities.min() / probabilities,
        "the weights are divided by the first one; the largest is the one to divide by." + hint: raw / raw[0],
    }


def _judge_importance_weights(results, inputs: dict) -> None:
    """(N · P)^(−β) divided by its max; all 1 when β = 0."""
    probabilities, size = inputs["probabilities"], inputs["size"]
    call = f"importance_weights(np.array({probabilities}), {size}, {inputs['beta']})"
    got = _array_result(results.value("weights"), call, len(probabilities), "weights")
    expected = _expected_weights(inputs)
    if not np.allclose(got, expected):
        name_the_mistake(lambda value: np.allclose(got, value), _weight_slips(inputs),
                         f"{call} returned {_numbers(got)}; expected {_numbers(expected)}. Hint: w = (N · P) ** "
                         "(−beta), then w / w.max().",
                         returned=f"{call} returned {_numbers(got)}, expected {_numbers(expected)}: ")
    call = f"importance_weights(np.array({probabilities}), {size}, 0.0)"
    got = _array_result(results.value("weights beta 0"), call, len(probabilities), "weights")
    expect(np.allclose(got, 1.0), f"{call} returned {_numbers(got)}; expected all 1 (β = 0: no correction).",
           "the exponent is −beta: w = (N · P) ** (−beta).")


def _expected_betas(inputs: dict) -> list:
    """β at each of the inputs' steps."""
    return [prioritized.annealed_beta(step, inputs["beta"], inputs["total_steps"]) for step in inputs["steps"]]


def _beta_slips(inputs: dict) -> dict:
    """What the usual mistakes return for beta_at at the steps, keyed by the message."""
    start, total, steps = inputs["beta"], inputs["total_steps"], inputs["steps"]
    fractions = [step / total for step in steps]
    hint = " Hint: beta_start + (1 − beta_start) · min(step / total_steps, 1)."
    return {
        "β is not annealed: it stays at beta_start, so the bias of prioritized sampling is never fully corrected."
        + hint: [start] * len(steps),
        "β goes past 1 after total_steps: the weights then over-correct. Hint: cap the fraction: "
        "min(step / total_steps, 1).": [start + (1 - start) * f for f in fractions],
        "β reaches 1 too early: step / total_steps is added to beta_start, not scaled to the distance "
        "1 − beta_start." + hint: [min(start + f, 1.0) for f in fractions],
        "step // total_steps is an integer division: it stays 0 until total_steps, so β jumps from beta_start to 1 "
        "instead of growing linearly. Hint: step / total_steps.":
            [start + (1 - start) * min(step // total, 1) for step in steps],
        "β grows from 0, not from beta_start." + hint: [min(f, 1.0) for f in fractions],
        "β is max(beta_start, step / total_steps): it stays at beta_start until that fraction of the way, then "
        "grows as if it had started from 0, so the slope ignores beta_start." + hint:
            [min(max(start, f), 1.0) for f in fractions],
        "max(…, 1) keeps β at 1 or more from the start; it is min that caps it at 1." + hint:
            [max(start + (1 - start) * f, 1.0) for f in fractions],
    }


def _judge_beta_at(results, inputs: dict) -> None:
    """A float growing linearly from beta_start to 1 at total_steps, then staying at 1."""
    steps = inputs["steps"]
    call = f"beta_at(step, {inputs['beta']}, {inputs['total_steps']})"
    for index, step in enumerate(steps):
        got = results.value(f"beta {index}")
        expect(not (type(got) is int and got == 1 and step >= inputs["total_steps"]), f"{call} at step {step} "
               "returned the int 1; expected a float: min(1, x) returns the int 1 once step ≥ total_steps.",
               "use 1.0, not 1: min(…, 1.0), so that beta_at always returns a float, as the statement asks.")
    got = [plain_number(results.value(f"beta {index}"), f"{call} returned", "a float", "return a plain number: "
                        "beta_start + (1 − beta_start) * min(step / total_steps, 1).", types=(float, np.floating))
           for index in range(len(steps))]
    expected = _expected_betas(inputs)
    if np.allclose(got, expected):
        return
    name_the_mistake(lambda value: np.allclose(got, value), _beta_slips(inputs),
                     f"{call} at steps {steps} returned {_numbers(got)}; expected {_numbers(expected)}: β must grow "
                     "linearly from beta_start to exactly 1 at total_steps, then stay at 1. Hint: beta_start + "
                     "(1 − beta_start) · min(step / total_steps, 1).",
                     returned=f"{call} at steps {steps} returned {_numbers(got)}, expected {_numbers(expected)}: ")


check_per_weights = Check("7.4", "priorities_from / importance_weights / beta_at", per_inputs, probe_per, judge_per,
                          references=("utils.prioritized.priorities_from_td_errors",
                                      "utils.prioritized.importance_weights", "utils.prioritized.annealed_beta"))


# --- 7.5 PrioritizedSlots -----------------------------------------------------------------------

SLOTS_CAPACITY = 8
SLOTS_ALPHA = 0.6
SLOTS_EPS = 1e-5  # not priorities_from's default 1e-6: an update that leaves out self.eps shows at the zero error
FIRST_ERRORS = ((1, 3.0), (3, -0.5))  # (slot, TD error) of the first gradient step
LATER_ERRORS = ((1, 0.1),)  # a smaller error later: max_priority must not go down
ZERO_ERRORS = ((2, 0.0), (4, 1.2))  # a TD error of exactly 0 must still leave a priority eps^α > 0
SAMPLE_BATCH = 64
SAMPLE_ROUNDS = 100
FULL_BETA = 1.0
"""A second β for sample's weights, apart from every β the inputs use: a β fixed in sample shows there."""
# Over 100 batches of 64 draws, a slot's frequency has a standard deviation of at most
# sqrt(0.25 / 6400) ≈ 0.006 with independent draws (less when stratified): 0.035 is over 5 of them,
# while every named wrong sampler is more than 0.06 off for some slot.
FREQUENCY_TOLERANCE = 0.035
ADD_HINT = " Hint: self.tree.set(slot, self.max_priority)."
# Priorities are compared to 1e-4: whether eps is in them is the zero-error stage's question, and the memory's
# eps (at most 2e-5) changes the priority of the first update's smallest error, 0.2, by at most 8e-5 of itself.
PRIORITY_RTOL = 1e-4
SIZE_HINT = "count the slots in use in add: self.size = min(self.size + 1, capacity)."


def slots_inputs(rng) -> dict:
    """Slots to add, TD errors to update with, generator seeds for sampling, and the adds that fill the memory."""
    if rng is None:
        return {"capacity": SLOTS_CAPACITY, "alpha": SLOTS_ALPHA, "eps": SLOTS_EPS, "adds": [0, 1, 2, 3, 4],
                "first": [list(pair) for pair in FIRST_ERRORS], "later": [list(pair) for pair in LATER_ERRORS],
                "next": 5, "beta": BETA, "seeds": {"weights": 5, "same": 5, "other": 6, "frequencies": 11},
                "zero": [list(pair) for pair in ZERO_ERRORS], "fill": [6, 7, 0]}
    for _ in range(1000):  # a few draws at most
        capacity, alpha = int(rng.integers(6, 11)), float(rng.choice([0.5, 0.6, 0.7]))
        added = int(rng.integers(3, capacity - 2))  # then one more: at least two slots stay unused while sampling
        big, small, zero, other = (int(s) for s in rng.choice(added, size=4, replace=added < 4))
        signs = rng.choice([-1.0, 1.0], size=3)
        if signs[:2].min() > 0:  # a negative error in the first update: a priority from the signed error shows
            signs[1] = -1.0
        seeds = [int(s) for s in rng.choice(10**6, size=3, replace=False)]
        inputs = {"capacity": capacity, "alpha": alpha, "eps": float(rng.choice([1e-5, 2e-5])),
                  "adds": list(range(added)),
                  "first": [[big, float(signs[0] * round(rng.uniform(2.5, 6), 2))],
                            [small, float(signs[1] * round(rng.uniform(0.2, 0.9), 2))]],
                  "later": [[big, round(float(rng.uniform(0.05, 0.5)), 2)]], "next": added,
                  "beta": float(rng.choice([0.4, 0.5, 0.6])),
                  "seeds": {"weights": seeds[0], "same": seeds[0], "other": seeds[1], "frequencies": seeds[2]},
                  "zero": [[zero, 0.0], [other, float(signs[2] * round(rng.uniform(0.3, 1.5), 2))]],
                  "fill": [*range(added + 1, capacity), 0]}
        if big != small and zero != other and _samplers_apart(inputs):
            return inputs
    return inputs


def _samplers_apart(inputs: dict) -> bool:
    """Do the named wrong samplers give frequencies at least 0.06 off the right ones (for some slot)?"""
    priorities = _sampled_priorities(inputs)
    expected = priorities / priorities.sum()
    powered = priorities ** inputs["alpha"]
    return min(np.abs(np.full(len(priorities), 1 / len(priorities)) - expected).max(),
               np.abs(powered / powered.sum() - expected).max()) > 0.06


def _priorities_after(inputs: dict, stage: str, eps: Optional[float] = None) -> tuple:
    """(the tree's priorities, max_priority) the right memory has after `stage` (with another `eps`: a wrong one's)."""
    alpha, priorities, largest = inputs["alpha"], np.zeros(inputs["capacity"]), 1.0
    eps = inputs["eps"] if eps is None else eps
    for name in ("adds", "first", "later", "next", "zero", "fill"):
        if name in ("adds", "next", "fill"):
            slots = inputs[name] if type(inputs[name]) is list else [inputs[name]]
            priorities[slots] = largest
        else:
            slots, errors = zip(*inputs[name])
            new = prioritized.priorities_from_td_errors(errors, alpha, eps)
            priorities[list(slots)] = new
            largest = max(largest, float(new.max()))
        if name == stage:
            return priorities, largest
    raise ValueError(stage)


def _sampled_priorities(inputs: dict) -> np.ndarray:
    """The priorities of the slots in use while the check samples (after `next`)."""
    return _priorities_after(inputs, "next")[0][:inputs["next"] + 1]


def probe_slots(rec, inputs: dict, slots_class) -> None:
    """Add slots and update priorities, reading the tree; sample many batches from seeded generators; fill up."""
    capacity = inputs["capacity"]
    memory = rec.call("memory", slots_class, capacity, inputs["alpha"], inputs["eps"])
    tree = rec.call("tree", getattr, memory, "tree", None)
    if type(tree) is not prioritized.SumTree:
        return
    seen = []
    tree.find = _spying(tree.find, seen)  # on this tree only: it records the values sample looks up
    for slot in inputs["adds"]:
        rec.call(f"add {slot}", memory.add, slot)
    _note_memory(rec, "adds", memory, tree)
    for stage in ("first", "later"):
        slots, errors = (np.array(part) for part in zip(*inputs[stage]))
        rec.call(stage, memory.update, slots, errors.astype(float))
        _note_memory(rec, stage, memory, tree)
    rec.call("add next", memory.add, inputs["next"])
    _note_memory(rec, "next", memory, tree)
    seeds, beta = inputs["seeds"], inputs["beta"]
    seen.clear()
    rec.call("sample", memory.sample, SAMPLE_BATCH, beta, np.random.default_rng(seeds["weights"]))
    rec.note("sample looked up", np.concatenate(seen) if seen else np.zeros(0))
    rec.call("sample full beta", memory.sample, SAMPLE_BATCH, FULL_BETA, np.random.default_rng(seeds["weights"]))
    for name in ("same", "other"):
        rec.call(f"draws {name}", _draw_batches, memory, 4, 10, beta, seeds[name])
    rec.call("draws same again", _draw_batches, memory, 4, 10, beta, seeds["same"])
    rec.call("frequencies", _draw_batches, memory, SAMPLE_BATCH, SAMPLE_ROUNDS, beta, seeds["frequencies"])
    slots, errors = (np.array(part) for part in zip(*inputs["zero"]))
    rec.call("zero", memory.update, slots, errors.astype(float))
    _note_memory(rec, "zero", memory, tree)
    for slot in inputs["fill"]:
        rec.call(f"fill {slot}", memory.add, slot)
    _note_memory(rec, "fill", memory, tree)


def _spying(find, seen: list):
    """`find`, recording a copy of the values it is given in `seen`."""
    def spy(values):
        """Record the values, then find their slots."""
        seen.append(np.array(values, dtype=float).ravel())
        return find(values)
    return spy


def _note_memory(rec, key: str, memory, tree) -> None:
    """Record the tree's priorities, size and max_priority."""
    rec.call(f"{key} priorities", tree.priorities, np.arange(tree.capacity))
    rec.call(f"{key} size", getattr, memory, "size")
    rec.call(f"{key} max", getattr, memory, "max_priority")


def _draw_batches(memory, batch_size: int, rounds: int, beta: float, seed: int) -> list:
    """What `rounds` calls of sample(batch_size, beta, rng) returned, rng a generator seeded `seed`.

    Small batches for the seed comparisons: with 64 segments, stratified draws hardly vary from one seed to the next.
    """
    rng = np.random.default_rng(seed)
    return [memory.sample(batch_size, beta, rng) for _ in range(rounds)]


def judge_slots(results, inputs: dict) -> None:
    """Add slots and update priorities, reading the tree; then sample many batches from a seeded rng."""
    _expect_total_read(results)
    results.value("memory")
    tree = results.value("tree")
    expect(type(tree) is Opaque and tree.type_name == "utils.prioritized.SumTree", f"PrioritizedSlots(...).tree is "
           f"{describe(tree)}; expected the course's SumTree.", "from utils.prioritized import SumTree, then "
           "self.tree = SumTree(capacity) (its update, set, find, total and priorities take arrays).")
    for slot in inputs["adds"]:
        results.value(f"add {slot}")
    _judge_adds(results, inputs, "adds", inputs["adds"])
    _judge_first_update(results, inputs)
    _judge_later_update(results, inputs)
    results.value("add next")
    _judge_adds(results, inputs, "next", [inputs["next"]])
    _judge_sampling(results, inputs)
    _judge_zero_error(results, inputs)
    for slot in inputs["fill"]:
        results.value(f"fill {slot}")
    _judge_adds(results, inputs, "fill", inputs["fill"])


def _expect_total_read(results) -> None:
    """Name a call of total(): the course's SumTree has total as a property (7.3's skeleton had a method)."""
    stopped = results.entries.get(str(results.entries.get("$stopped")))
    info = stopped.get("raised") if type(stopped) is dict else None
    if (type(info) is dict and info.get("type") == "TypeError" and "not callable" in str(info.get("message"))
            and re.search(r"\.total\s*\(\s*\)", str(info.get("where")))):
        raise Mistake(f"your code raised {crash_text(info)}: self.tree.total is a number, not a method. Hint: the "
                      "course's SumTree has total as a property (7.3's skeleton had a method total()): write "
                      "self.tree.total, without parentheses.")


def _tree_priorities(results, key: str) -> np.ndarray:
    """The tree's priorities after `key` (read with the course's tree, so a plain array)."""
    return plain_array(results.value(f"{key} priorities"), "the tree's priorities are", "a NumPy array").astype(float)


def _judge_adds(results, inputs: dict, stage: str, slots: list) -> None:
    """The slots added get max_priority, the other slots keep theirs, and size counts the slots in use."""
    expected, largest = _priorities_after(inputs, stage)
    after = f"after add({slots[0]})" + (f" … add({slots[-1]})" if len(slots) > 1 else "")
    everywhere = _tree_priorities(results, stage)
    got = everywhere[slots]
    if not np.allclose(got, largest, rtol=PRIORITY_RTOL):
        name_the_mistake(lambda value: np.allclose(got, value, rtol=PRIORITY_RTOL), {
            "add gives priority 0: a new transition would never be sampled." + ADD_HINT: 0.0,
            "add gives priority 1, not the largest priority so far." + ADD_HINT: 1.0,
            "add raises max_priority to the power α again, but it is already a priority (|δ| + eps)^α." + ADD_HINT:
                largest ** inputs["alpha"],
        }, f"{after} the new slots have the priorities {_numbers(got)}; expected max_priority = {largest:.4g}."
           + ADD_HINT, returned=f"{after} the new slots have the priorities {_numbers(got)}, expected max_priority = "
                                f"{largest:.4g}: ")
    expect(np.allclose(everywhere, expected, rtol=PRIORITY_RTOL), f"{after} the tree holds the priorities "
           f"{_numbers(everywhere)}; expected {_numbers(expected)}.", "add(slot) sets the priority of that slot only.")
    size = int(np.count_nonzero(expected))
    got_size = plain_number(results.value(f"{stage} size"), f"{after} size is", "an int", types=(int, np.integer))
    if got_size != size and size == inputs["capacity"] and got_size > size:
        raise Mistake(f"{after} size is {got_size!r}; expected {size}, the capacity: size grows past the capacity. "
                      "A full ring buffer overwrites its oldest slot, so the number of slots in use stays "
                      f"{size}. Hint: {SIZE_HINT}")
    expect(got_size == size, f"{after} size is {got_size!r}; expected {size}.", SIZE_HINT)


def _max_priority(results, key: str) -> float:
    """What max_priority was after `key`, checked to be a plain number (it is compared)."""
    return float(plain_number(results.value(f"{key} max"), "max_priority is", "a number"))


def _judge_first_update(results, inputs: dict) -> None:
    """update writes (|δ| + eps)^α for its slots; max_priority becomes the largest priority so far."""
    slots, deltas = (np.array(part) for part in zip(*inputs["first"]))
    _expect_absolute_errors(results, "first", slots, deltas)
    results.value("first")
    before = _priorities_after(inputs, "adds")[0]
    expected, largest = _priorities_after(inputs, "first")
    got = _tree_priorities(results, "first")
    called = f"update({slots.tolist()}, {deltas.tolist()})"
    if not np.allclose(got, expected, rtol=PRIORITY_RTOL):
        without_alpha, added = before.copy(), before.copy()
        without_alpha[slots] = np.abs(deltas) + inputs["eps"]
        added[slots] += expected[slots]
        name_the_mistake(lambda value: np.allclose(got, value, rtol=PRIORITY_RTOL), {
            "the priorities were not updated after the step, so every transition keeps the priority it was added "
            "with. Hint: self.tree.update(slots, priorities).": before,
            "α is missing: the new priorities are |δ| + eps. Hint: (|δ| + eps) ** alpha, the same as 7.4's "
            "priorities_from.": without_alpha,
            "update adds the new priorities to the old ones instead of replacing them. Hint: "
            "self.tree.update(slots, priorities).": added,
        }, f"after {called} the tree holds {_numbers(got)}; expected {_numbers(expected)}. Hint: priorities "
           "(|δ| + eps) ** alpha for those slots, the others unchanged.",
            returned=f"after {called} the tree holds {_numbers(got)}, expected {_numbers(expected)}: ")
    got_max = _max_priority(results, "first")
    if not np.isclose(got_max, largest):
        name_the_mistake(lambda value: np.isclose(got_max, value), {
            "max_priority was not raised, so new transitions still get 1.0. Hint: self.max_priority = "
            "max(self.max_priority, priorities.max()).": 1.0,
            "max_priority is the largest |δ|, not the largest priority (|δ| + eps)^α. Hint: self.max_priority = "
            "max(self.max_priority, priorities.max()).": float(np.abs(deltas).max()),
        }, f"after {called} max_priority is {got_max:.4g}; expected {largest:.4g}, the largest priority given so far.",
            returned=f"max_priority is {got_max:.4g}, expected {largest:.4g}: ")


def _expect_absolute_errors(results, key: str, slots: np.ndarray, deltas: np.ndarray) -> None:
    """Name the tree refusing a NaN or negative priority from an update with a negative TD error."""
    info = results.raised(key)
    refused = info is not None and info.get("type") == "ValueError" and "finite" in str(info.get("message"))
    where = (info or {}).get("where", "")
    expect(not (refused and (deltas < 0).any()), f"update({slots.tolist()}, {deltas.tolist()}) gave the tree a NaN "
           f"or negative priority, which it refused{where}: the priorities come from the signed TD error, and a "
           "negative error to the power α is NaN; use its absolute value.",
           "(np.abs(td_errors) + self.eps) ** self.alpha, the same as 7.4's priorities_from.")


def _judge_later_update(results, inputs: dict) -> None:
    """A later, smaller error must not lower max_priority."""
    slots, deltas = (np.array(part) for part in zip(*inputs["later"]))
    results.value("later")
    largest = _priorities_after(inputs, "later")[1]
    got_max = _max_priority(results, "later")
    expect(np.isclose(got_max, largest), f"after a later update({slots.tolist()}, {deltas.tolist()}) with a smaller "
           f"error, max_priority is {got_max:.4g}; expected it to stay {largest:.4g}, the largest priority given so "
           "far.", "keep the running maximum: self.max_priority = max(self.max_priority, priorities.max()).")


def _judge_zero_error(results, inputs: dict) -> None:
    """A TD error of exactly 0 must give the priority eps^α > 0: the transition stays sampleable."""
    slots, deltas = (np.array(part) for part in zip(*inputs["zero"]))
    _expect_absolute_errors(results, "zero", slots, deltas)
    results.value("zero")
    expected = _priorities_after(inputs, "zero")[0]
    got = _tree_priorities(results, "zero")
    # 1e-5: a max_priority taken without eps, |δ|^α, is up to 5.6e-6 off and harmless; eps^α with the default eps
    # instead of the memory's is 3 to 8 times off
    if np.allclose(got, expected, rtol=1e-5, atol=0):
        return
    called = f"update({slots.tolist()}, {deltas.tolist()})"
    if np.allclose(got, _priorities_after(inputs, "zero", eps=EPS)[0], rtol=1e-5, atol=0):
        raise Mistake(f"after {called} the tree holds {_numbers(got)}, expected {_numbers(expected)}: a TD error of 0 "
                      f"got the priority of priorities_from's default eps, 1e-6, not of this memory's eps, "
                      f"{inputs['eps']:g}: update leaves out self.eps. Hint: priorities_from(td_errors, self.alpha, "
                      "self.eps).")
    zeroed = slots[deltas == 0]
    expect(not np.any(got[zeroed] == 0), f"after {called} slot {zeroed[0]} has priority 0: a TD error of exactly 0 "
           "gives priority 0, and that transition is never sampled again.", "(|δ| + eps) ** alpha: eps > 0 keeps "
           "every priority positive.")
    shown, wanted = _apart(got, expected)
    raise Mistake(f"after {called} the tree holds {shown}; expected {wanted}. Hint: priorities "
                  "(|δ| + eps) ** alpha for those slots, the others unchanged.")


def _sample_parts(result, call: str, batch_size: int) -> tuple:
    """What one `sample(batch_size, BETA, rng)` returned, as (integer slots, float weights)."""
    expect(type(result) is tuple and len(result) == 2, f"{call} returned {describe(result)}; expected a pair "
           "(slots, weights).", "return slots, weights.")
    # plain containers only: np.asarray of an object array would keep its elements' own __eq__
    expect(all(type(part) in (np.ndarray, list, tuple) for part in result), f"{call} returned a pair holding "
           f"{' and '.join(describe(part) for part in result)}; expected NumPy arrays.", "return slots, weights.")
    slots, weights = (np.asarray(part) for part in result)
    expect(not (slots.dtype.kind == "f" and weights.dtype.kind in "iu"), f"{call} returned float slots and integer "
           "weights: the pair is (weights, slots), swapped.", "return slots, weights, in that order.")
    expect(slots.shape == weights.shape == (batch_size,) and slots.dtype.kind in "iu" and weights.dtype.kind in "iuf",
           f"{call} returned slots of shape {slots.shape} and dtype {slots.dtype} and weights of shape "
           f"{weights.shape}; expected {batch_size} integer slots and {batch_size} weights.",
           "slots = self.tree.find(values) with one value per draw, and one weight per slot.")
    return slots.astype(np.int64), weights.astype(float)


def _drawn(results, key: str, batch_size: int, beta: float, size: int) -> np.ndarray:
    """The slots of every batch recorded under `key`, checked to be slots in use."""
    batches = results.value(key)
    call = f"sample({batch_size}, {beta}, rng)"
    slots = np.concatenate([_sample_parts(batch, call, batch_size)[0] for batch in batches]) \
        if type(batches) is list and batches else np.zeros(0, dtype=np.int64)
    _expect_used(slots, size)
    return slots


def _expect_used(slots: np.ndarray, size: int) -> None:
    """Fail if a slot is not one of the `size` slots in use."""
    unused = slots[(slots < 0) | (slots >= size)]
    expect(unused.size == 0, f"sample returned slot {unused[0] if unused.size else ''}, but only slots 0–{size - 1} "
           f"hold transitions (size = {size}).", "draw by priority: slots = self.tree.find(values) with values in "
           "[0, self.tree.total); unused slots have priority 0 and are never found.")


def _judge_sampling(results, inputs: dict) -> None:
    """Only used slots, values spread over [0, total), reproducible with the rng given, frequencies ∝ priorities."""
    priorities, beta = _sampled_priorities(inputs), inputs["beta"]
    size = len(priorities)
    slots, weights = _sample_parts(results.value("sample"), f"sample({SAMPLE_BATCH}, {beta}, rng)", SAMPLE_BATCH)
    _expect_used(slots, size)
    _judge_looked_up(plain_array(results.value("sample looked up"), "the values", "an array"), priorities.sum())
    first = _drawn(results, "draws same", 4, beta, size)
    expect(np.array_equal(first, _drawn(results, "draws same again", 4, beta, size)), "generators seeded alike "
           "sampled different slots: the draws do not come from the rng argument.", "draw with the rng given "
           "(rng.random, rng.uniform), not np.random or a generator of your own.")
    expect(not np.array_equal(first, _drawn(results, "draws other", 4, beta, size)), "generators with different seeds "
           "sampled the same slots: the rng argument is not used.", "draw with the rng given (rng.random, "
           "rng.uniform).")
    _judge_frequencies(_drawn(results, "frequencies", SAMPLE_BATCH, beta, size), priorities, inputs["alpha"])
    _judge_sample_weights(slots, weights, priorities, inputs, beta)
    call = f"sample({SAMPLE_BATCH}, {FULL_BETA}, rng)"
    full_slots, full_weights = _sample_parts(results.value("sample full beta"), call, SAMPLE_BATCH)
    expect(np.array_equal(full_slots, slots), f"{call} drew other slots than sample({SAMPLE_BATCH}, {beta}, rng) with "
           "an rng seeded alike: β must change the weights only.", "draw the slots with the rng alone.")
    _judge_sample_weights(slots, full_weights, priorities, inputs, FULL_BETA)
    # Small batches miss some slots, the one of the smallest priority among them: weights normalised over the whole
    # memory instead of over the batch show there (a batch of 64 always holds that slot).
    for batch in results.value("draws same"):
        _judge_sample_weights(*_sample_parts(batch, f"sample(4, {beta}, rng)", 4), priorities, inputs, beta)


def _judge_looked_up(values: np.ndarray, total: float) -> None:
    """The values sample gave tree.find must spread over [0, total): scaled by the total, one per segment."""
    if values.size < SAMPLE_BATCH:
        return  # sample did not look its values up one batch at a time in this tree: the frequencies will tell
    hint = ("one uniform value in each of batch_size equal segments of [0, self.tree.total): (np.arange(batch_size) "
            "+ rng.uniform(size=batch_size)) * self.tree.total / batch_size.")
    expect(values.max() >= 2 * total / SAMPLE_BATCH, f"the {values.size} values sample looked up with tree.find all "
           f"lie in [0, {values.max():.3g}], the first segment of [0, {total:.4g}): the segment's offset "
           "i · total / batch_size is missing.", hint)
    expect(values.max() >= 1.0, f"the values sample looked up with tree.find all lie in [0, 1), but the priorities "
           f"sum to {total:.4g}: they are not scaled by the total, so only the first slots can be found.", hint)
    expect(values.max() <= total * (1 + 1e-9), f"sample looked up values up to {values.max():.4g} with tree.find, "
           f"past the total {total:.4g}: a value beyond the total finds no slot of its own.", hint)
    if values.size == SAMPLE_BATCH:
        _judge_segments(values, total, hint)


def _judge_segments(values: np.ndarray, total: float, hint: str) -> None:
    """The batch's values, in any order, must be one in each of its equal segments, each with its own offset."""
    size = len(values)
    segment = total / size
    # where each value lies, in segments: value k of the sorted batch must lie in [k, k + 1]
    position = np.sort(values) / segment
    offsets = position - np.arange(size)
    if not np.all((offsets >= -1e-9) & (offsets <= 1 + 1e-9)):
        counts = np.bincount(np.clip(np.floor(values / segment), 0, size - 1).astype(int), minlength=size)
        empty = np.flatnonzero(counts == 0)
        expect(empty.tolist() != [0], f"sample({size}, ...) looked up no value in the first segment [0, "
               f"{segment:.4g}) of [0, {total:.4g}) and {counts[-1]} in the last: the segments are counted from 1 "
               "(np.arange(1, batch_size + 1)), so the first is never drawn.", hint)
        _expect_segment_width(np.sort(values), total, hint)
        raise Mistake(f"the {size} values sample({size}, ...) looked up with tree.find are not one in each of {size} "
                      f"equal segments of [0, {total:.4g}): {len(empty)} segments got none and one got "
                      f"{counts.max()}, as plain draws over the whole range (rng.uniform(0, total, batch_size)) fall. "
                      "The statement asks for stratified draws, which cover the priorities evenly in every batch. "
                      f"Hint: {hint}")
    expect(np.ptp(offsets) > 1e-6, f"the {size} values sample({size}, ...) looked up lie at the same place in each "
           f"of the {size} segments (offset {offsets[0]:.4g} of a segment): one draw is shared by all segments "
           "(rng.uniform() with no size), so a batch is a fixed comb, not a random draw in each segment.", "one "
           "independent draw per segment: rng.uniform(size=batch_size).")


def _expect_segment_width(ordered: np.ndarray, total: float, hint: str) -> None:
    """Name values that lie one per segment of equal segments narrower than total / batch_size."""
    size = len(ordered)
    # a width w puts value k of the sorted batch in [k·w, (k + 1)·w]: w lies between these two bounds
    narrowest, widest = (ordered / np.arange(1, size + 1)).max(), (ordered[1:] / np.arange(1, size)).min()
    if not narrowest <= widest * (1 + 1e-9) < total / size:
        return
    plus_one = narrowest <= total / (size + 1) * (1 + 1e-9) and total / (size + 1) <= widest * (1 + 1e-9)
    width = (f"total / (batch_size + 1) = {total / (size + 1):.4g}" if plus_one else f"at most {widest:.4g}")
    raise Mistake(f"the {size} values sample({size}, ...) looked up lie one in each of {size} equal segments, but "
                  f"the segments are {width} wide, not total / batch_size = {total / size:.4g}: nothing past "
                  f"{size * widest:.4g} of [0, {total:.4g}) is ever drawn, so the slots at the end of the tree are "
                  f"never sampled. Hint: {hint}")


def _judge_frequencies(drawn: np.ndarray, priorities: np.ndarray, alpha: float) -> None:
    """Over many draws, slot i must come with frequency p_i / total.

    Stratified draws (one uniform value per segment of [0, total)) lower the variance of a batch but
    sample the same distribution as independent ones: whether the values are stratified is
    _judge_segments' question, asked of the values sample looked up.
    """
    size = len(priorities)
    got = np.bincount(drawn, minlength=size)[:size] / max(len(drawn), 1)
    expected = priorities / priorities.sum()
    close = functools.partial(np.allclose, got, rtol=0, atol=FREQUENCY_TOLERANCE)
    if close(expected):
        return
    powered = priorities ** alpha
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


def _judge_sample_weights(slots, weights, priorities: np.ndarray, inputs: dict, beta: float) -> None:
    """(N · P(i))^(−β) / max with P(i) = p_i / total and N = size, for sample's argument `beta`.

    Once divided by their max, the weights no longer depend on N (nor on dividing p_i by the
    total): N = capacity instead of size only shows in weights that are not normalised.
    """
    size, capacity = len(priorities), inputs["capacity"]
    probabilities = priorities[slots] / priorities.sum()
    expected = prioritized.importance_weights(probabilities, size, beta)
    if np.allclose(weights, expected, rtol=PRIORITY_RTOL):
        return
    shown, first = np.unique(slots, return_index=True)  # stratified batches repeat slots: show each once
    returned = (f"for the slots {shown.tolist()}, sample(..., beta={beta}, ...) returned the weights "
                f"{_numbers(weights[first])}, expected {_numbers(expected[first])}")
    hint = " Hint: w = (size · p_i / total) ** (−beta), divided by w.max() (7.4's importance_weights)."
    name_the_mistake(lambda value: np.allclose(weights, value, rtol=PRIORITY_RTOL), {
        "the weights are not normalised (the largest must be 1)." + hint: (size * probabilities) ** -beta,
        f"the weights are not normalised (the largest must be 1), and N is the capacity ({capacity}), not the "
        f"number of slots in use ({size})." + hint: (capacity * probabilities) ** -beta,
        "the weights are all 1: β is ignored, or P(i) is taken as uniform, 1/size, instead of p_i / total (then "
        "every (size · P(i))^(−β) is 1), so the bias of prioritized sampling is not corrected." + hint:
            np.ones(len(slots)),
        f"the weights are computed with β = 1, not the beta argument ({beta}): the correction is full from the "
        "start instead of annealed. Hint: pass beta on: importance_weights(probabilities, self.size, beta).":
            prioritized.importance_weights(probabilities, size, 1.0),
        f"the weights are those of β = {inputs['beta']}, whatever the beta argument ({beta}): β is fixed inside "
        "sample. Hint: pass beta on: importance_weights(probabilities, self.size, beta).":
            prioritized.importance_weights(probabilities, size, inputs["beta"]),
        "the exponent is +β: the frequent transitions get the larger weights; it is the rare ones that need them."
        + hint: prioritized.importance_weights(probabilities, size, -beta),
        "P(i) is computed from p_i^α, but the tree already holds p_i = (|δ| + eps)^α: P(i) = p_i / total." + hint:
            prioritized.importance_weights(priorities[slots] ** inputs["alpha"], size, beta),
        "the weights are normalised by the largest weight in the whole memory, that of the smallest priority "
        "(Baselines' choice); the course divides by the largest weight in the batch, so the largest weight of every "
        "batch is 1." + hint: (size * probabilities) ** -beta / (size * priorities.min() / priorities.sum()) ** -beta,
    }, returned + "." + hint, returned=returned + ": ")


check_prioritized_slots = Check("7.5", "PrioritizedSlots", slots_inputs, probe_slots, judge_slots,
                                references=("utils.prioritized.PrioritizedReplayMemory",
                                            "utils.prioritized.stratified_values"))


# --- 7.6 iqm / bootstrap_interval ---------------------------------------------------------------

RUN_SCORES = (500.0, 12.0, 230.0, 498.0, 77.0, 310.0, 150.0, 499.0, 20.0, 405.0)  # distinct and unsorted
IQM_SIZES = (10, 7, 8, 5, 3)  # 25% of n is 2.5, 1.75, 2, 1.25, 0.75 runs: floor(0.25 · n) cut from each end
RESAMPLES = 2_000
FEW_RESAMPLES = 200
REFERENCE_RESAMPLES = 100_000
# Right intervals lie within 0.2 standard deviations of the resampled IQMs of the 100,000-resample
# reference on the notebook's scores (2,000 seeds), and within 0.55 on scores drawn as a grading run
# draws them (100 seeds on each of 60 draws): 1.0 leaves room. Resamples that are not uniform are
# named before this, by how often each run was drawn.
REFERENCE_TOLERANCE = 1.0
# Each run is drawn n_resamples times on average; a chi-square statistic of the counts above its
# 1e-6 quantile says the draws are not uniform (a right answer fails once in a million runs).
UNIFORM_P_VALUE = 1e-6
# A bootstrap of the first 7 runs too: a resample size written in (the notebook's 10 runs) shows there.
FEWER_RUNS = 7
PERCENTILE_HINT = " Hint: np.percentile(values, [100 * (1 − confidence) / 2, 100 * (1 + confidence) / 2])."


def statistics_inputs(rng) -> dict:
    """Run scores, the sizes of their prefixes to take the IQM of, generator seeds and a second confidence."""
    if rng is None:
        return {"scores": list(RUN_SCORES), "sizes": list(IQM_SIZES), "confidence": 0.8,
                "seeds": {"main": 1, "same": 2, "other": 3, "confidence": 4}, "fewer": FEWER_RUNS}
    for _ in range(1000):  # a few draws at most
        count = int(rng.integers(8, 13))
        scores = rng.permutation(np.round(rng.uniform(0, 500, count), 1))
        sizes = [count, *sorted(rng.choice(np.arange(3, count), size=4, replace=False).tolist(), reverse=True)]
        seeds = [int(s) for s in rng.choice(10**6, size=4, replace=False)]
        inputs = {"scores": scores.tolist(), "sizes": sizes, "confidence": float(rng.choice([0.5, 0.68, 0.8, 0.9])),
                  "seeds": dict(zip(("main", "same", "other", "confidence"), seeds)),
                  "fewer": int(rng.choice([size for size in range(5, count) if size != len(RUN_SCORES)]))}
        # a size with n % 4 == 3 (and n > 3, where the rounded cut is not the median): round(0.25 · n) shows there
        if len(set(inputs["scores"])) == count and any(size % 4 == 3 and size > 3 for size in sizes) and all(
                separated([_iqm(np.array(scores[:size])), *_iqm_slips(np.array(scores[:size])).values()], same_ok=True)
                for size in sizes):
            return inputs
    return inputs


def _iqm(scores: np.ndarray) -> float:
    """The interquartile mean, as scipy.stats.trim_mean(scores, 0.25)."""
    return float(stats.trim_mean(scores, 0.25))


def _iqm_slips(scores: np.ndarray) -> dict:
    """What the usual mistakes return for iqm(scores), keyed by the message."""
    size, cut = len(scores), len(scores) // 4
    ordered, rounded_up = np.sort(scores), -(-len(scores) // 4)
    rounded = (f" round(0.25 · n) does that here: it rounds {size / 4:g} to {round(size / 4)}."
               if round(size / 4) == rounded_up != cut else "")
    return {
        # Before the median: with 3 runs (and by chance with 7), cutting 1 (2) runs from each end leaves the median.
        f"it cuts {rounded_up} runs from each end of {size}: 0.25 · n rounded up (or the runs kept are those between "
        f"the 25th and 75th percentiles).{rounded} Hint: cut floor(0.25 · n), here {cut} (n // 4 or int(0.25 * n)), as "
        "scipy.stats.trim_mean(scores, 0.25) does.": float(np.mean(ordered[rounded_up:size - rounded_up])),
        "that is the median. Hint: the IQM is the mean of the middle runs: sort, cut floor(0.25 · n) runs from each "
        "end, average the rest (scipy.stats.trim_mean(scores, 0.25)).": float(np.median(scores)),
        "that is the plain mean. Hint: sort, cut floor(0.25 · n) runs from each end, average the rest.":
            float(np.mean(scores)),
        "it cuts 25% of the runs in total (12.5% from each end). Hint: cut floor(0.25 · n) runs from each end, half "
        "of them in all.": float(stats.trim_mean(scores, 0.125)),
        "it cuts runs from each end without sorting first, so it drops whichever runs come first and last. Hint: "
        "np.sort(scores) before cutting.": float(np.mean(scores[cut:size - cut])),
        "it cuts 25% of the runs from the top only. Hint: cut floor(0.25 · n) runs from each end.":
            float(np.mean(ordered[:size - cut])),
        f"it keeps sorted[n // 4 : 3 * n // 4], which cuts {cut} runs from the bottom but {size - 3 * size // 4} from "
        "the top: the same number only when n is a multiple of 4. Hint: cut = n // 4, then sorted[cut : n − cut].":
            float(np.mean(ordered[cut:3 * size // 4])),
    }


class RecordedStatistic:
    """The IQM as a statistic that records every sample it is applied to."""

    def __init__(self):
        """Nothing recorded yet."""
        self.samples = []

    def __call__(self, sample) -> float:
        """The IQM of `sample`, recorded."""
        sample = np.array(sample, dtype=float)  # a copy: the caller may reuse its buffer
        if sample.ndim != 1:  # not expect(...): describing every sample would cost more than the IQM
            raise Mistake(f"statistic was called on {describe(sample)}; expected one resample, a 1-D array of scores. "
                          "Hint: apply statistic to each resample separately: statistic(resample).")
        self.samples.append(sample)
        cut = len(sample) // 4  # as scipy.stats.trim_mean(sample, 0.25), 40 times faster on 10 runs
        return float(np.sort(sample)[cut:len(sample) - cut].mean())


def probe_statistics(rec, inputs: dict, iqm, bootstrap_interval) -> None:
    """iqm on prefixes of the scores (and the array afterwards); bootstrap_interval with a recording statistic."""
    scores = np.array(inputs["scores"])
    for size in inputs["sizes"]:
        given = scores[:size].copy()
        rec.call(f"iqm {size}", iqm, given)
        rec.note(f"iqm {size} array", given)
    seeds = inputs["seeds"]
    for key, resamples, seed, confidence in (("main", RESAMPLES, seeds["main"], None),
                                             ("same", FEW_RESAMPLES, seeds["same"], None),
                                             ("same again", FEW_RESAMPLES, seeds["same"], None),
                                             ("other", FEW_RESAMPLES, seeds["other"], None),
                                             ("confidence", FEW_RESAMPLES, seeds["confidence"], inputs["confidence"])):
        statistic = RecordedStatistic()
        keywords = {} if confidence is None else {"confidence": confidence}
        rec.call(f"interval {key}", bootstrap_interval, scores.copy(), statistic, resamples,
                 np.random.default_rng(seed), **keywords)
        if key in ("main", "confidence"):
            rec.note(f"samples {key}", statistic.samples)
    statistic = RecordedStatistic()
    rec.call("interval fewer", bootstrap_interval, scores[:inputs["fewer"]].copy(), statistic, FEW_RESAMPLES,
             np.random.default_rng(seeds["same"]))
    rec.note("samples fewer", statistic.samples)


def judge_statistics(results, inputs: dict) -> None:
    """Compare iqm with scipy's trim_mean; check the resamples of bootstrap_interval and its intervals."""
    scores = np.array(inputs["scores"])
    for size in inputs["sizes"]:
        _judge_iqm(results, scores[:size])
    _judge_bootstrap(results, inputs)


def _number(got, call: str) -> float:
    """`got` as a float if it is one real number, else a mistake saying what came back."""
    return float(plain_number(got, f"{call} returned", "one number", "return a float, e.g. float(...).",
                              types=NUMBERS + (np.ndarray,)))


def _judge_iqm(results, scores: np.ndarray) -> None:
    """iqm(scores) must be scipy.stats.trim_mean(scores, 0.25), and leave `scores` as it was."""
    call = f"iqm({_numbers(scores)})"
    got = _number(results.value(f"iqm {len(scores)}"), call)
    expect(np.array_equal(results.value(f"iqm {len(scores)} array"), scores), f"{call} reordered the array it was "
           "given.", "sort a copy: np.sort(scores), not scores.sort(), which changes the caller's array.")
    expected = _iqm(scores)
    if np.isclose(got, expected):
        return
    cut = len(scores) // 4
    expect(not (np.isnan(got) and cut == 0), f"{call} returned nan, the mean of no runs at all: with {len(scores)} "
           f"runs the cut is floor(0.25 · {len(scores)}) = 0, and a slice ordered[cut:-cut] is then ordered[0:0] "
           "(−0 is 0), which is empty.", "end the slice at len(ordered) − cut: ordered[cut:len(ordered) - cut], "
           "which keeps every run when cut is 0.")
    expect(not np.isnan(got), f"{call} returned nan, the mean of no runs at all: the cut leaves nothing.", "cut "
           "floor(0.25 · n) runs from each end, a quarter of them, not half (scipy.stats.trim_mean(scores, 0.25)).")
    name_the_mistake(lambda value: np.isclose(got, value), _iqm_slips(scores),
                     f"{call} returned {got:.6g}; expected {expected:.6g}. Hint: sort, cut floor(0.25 · n) runs from "
                     "each end, average the rest (scipy.stats.trim_mean(scores, 0.25)).",
                     returned=f"{call} returned {got:.6g}, expected {expected:.6g}: ")


def _interval(results, key: str, resamples: int, confidence=None) -> tuple:
    """(low, high) that bootstrap_interval returned under `key`, checked to be two numbers."""
    given = "" if confidence is None else f", confidence={confidence}"
    call = f"bootstrap_interval(scores, statistic, {resamples}, rng{given})"
    got = results.value(f"interval {key}")
    pair = (type(got) in (tuple, list) and len(got) == 2) or (type(got) is np.ndarray and got.shape == (2,))
    expect(pair, f"{call} returned {describe(got)}; expected a pair (low, high).", "return low, high.")
    return tuple(_number(bound, call) for bound in got)


def _judge_bootstrap(results, inputs: dict) -> None:
    """Resamples with replacement, percentiles of the statistic, close to a reference, reproducible with the rng."""
    scores = np.array(inputs["scores"])
    low, high = _interval(results, "main", RESAMPLES)
    samples = _resamples(results, "main", scores, RESAMPLES)
    _judge_percentiles((low, high), samples, 0.95)
    _judge_against_reference(low, high, scores)
    first, again = _interval(results, "same", FEW_RESAMPLES), _interval(results, "same again", FEW_RESAMPLES)
    expect(first == again, f"two calls with generators seeded alike gave different intervals, {_numbers(first)} and "
           f"{_numbers(again)}: the resamples do not come from the rng argument.", "draw every resample with the rng "
           "given (rng.choice or rng.integers), not np.random or a generator of your own.")
    expect(first != _interval(results, "other", FEW_RESAMPLES), "generators with different seeds gave the same "
           "interval: the rng argument is not used.", "draw every resample with the rng given (rng.choice or "
           "rng.integers).")
    confidence = inputs["confidence"]
    interval = _interval(results, "confidence", FEW_RESAMPLES, confidence)
    _judge_percentiles(interval, _on_resamples(results.value("samples confidence"), scores), confidence)
    fewer = scores[:inputs["fewer"]]
    interval = _interval(results, "fewer", FEW_RESAMPLES)
    _judge_percentiles(interval, _resamples(results, "fewer", fewer, FEW_RESAMPLES, earlier=len(scores)), 0.95)


def _on_resamples(samples, scores: np.ndarray) -> list:
    """The recorded samples as float arrays, leaving out calls on the scores themselves (point estimates)."""
    arrays = [plain_array(sample, "statistic was given", "an array") for sample in samples] \
        if type(samples) is list else []
    return [sample.astype(float) for sample in arrays if not np.array_equal(sample, scores)]


def _resamples(results, key: str, scores: np.ndarray, resamples: int, earlier: int = 0) -> list:
    """The resamples the statistic was applied to: as many as asked, each drawn with replacement, n runs long.

    `earlier`: the number of scores of an earlier call, which a size written in would repeat.
    """
    recorded = results.value(f"samples {key}")
    expect(type(recorded) is list and recorded, "bootstrap_interval never called the statistic it was given, so the "
           "interval is of another statistic (the mean?).", "apply statistic to each resample: statistic(resample).")
    drawn = _on_resamples(recorded, scores)
    left_out = [sample for sample in drawn if len(sample) == len(scores) - 1]
    expect(not (len(left_out) == len(scores) and len(drawn) - len(left_out) == resamples), "the statistic was also "
           f"applied to {len(scores)} samples that each leave one run out: scipy.stats.bootstrap's default method, "
           "BCa, does that, and its interval is not the percentile interval.", "draw the resamples yourself, or pass "
           "method='percentile' to scipy.stats.bootstrap.")
    expect(len(drawn) == resamples, f"statistic was applied to {len(drawn)} resamples for n_resamples={resamples}; "
           "expected one call per resample.", "draw n_resamples resamples and apply statistic to each.")
    sizes = sorted({len(sample) for sample in drawn})
    fixed = (f" The size is written in, not read from the scores: it is the {sizes[0]} runs of the first call's "
             "scores." if sizes == [earlier] else "")
    expect(sizes == [len(scores)], f"for {len(scores)} scores the resamples hold {' or '.join(map(str, sizes))} "
           f"runs; expected {len(scores)}, as many as the scores.{fixed}", "each resample draws len(scores) runs with "
           "replacement: rng.choice(scores, size=len(scores), replace=True).")
    stacked = np.stack(drawn)
    expect(np.isin(stacked, scores).all(), "the resamples hold values that are not scores of the runs.",
           "resample the scores themselves: rng.choice(scores, size=len(scores)) or "
           "scores[rng.integers(0, len(scores), size=len(scores))].")
    expect(not np.all(np.sort(stacked, axis=1) == np.sort(scores)), "every resample is the scores reordered: they "
           "were drawn without replacement, so the statistic is the same each time and the interval collapses to a "
           "point.", "draw with replacement: rng.choice(scores, size=len(scores), replace=True).")
    expect(len(np.unique(stacked, axis=0)) > 1, f"all {resamples} resamples are the same one.",
           "draw a new resample for each of the n_resamples, inside the loop.")
    never = [score for score in scores if score not in stacked]
    expect(not never, f"the run scoring {never[0] if never else 0:g} never appears in {resamples} resamples: one "
           "run cannot be drawn.", "every run must be equally likely: rng.integers(0, len(scores), "
           "size=len(scores)) (the high end is excluded) or rng.choice(scores, size=len(scores)).")
    _expect_uniform_draws(stacked, scores)
    return drawn


def _expect_uniform_draws(stacked: np.ndarray, scores: np.ndarray) -> None:
    """Every run must come about equally often over all the resamples (a chi-square test of the counts)."""
    counts = np.array([np.count_nonzero(stacked == score) for score in scores])
    expected = stacked.size / len(scores)
    if stats.chi2.sf(((counts - expected) ** 2 / expected).sum(), len(scores) - 1) >= UNIFORM_P_VALUE:
        return
    most, least = counts.argmax(), counts.argmin()
    raise Mistake(f"the runs are not drawn equally often: over {stacked.size:,} draws the run scoring "
                  f"{scores[most]:g} came {counts[most]:,} times and the run scoring {scores[least]:g} "
                  f"came {counts[least]:,} times, where each should come about {expected:,.0f} times. Hint: each "
                  "resample: rng.choice(scores, size=len(scores), replace=True), every run equally likely at every "
                  "draw.")


def _statistic_values(samples: list) -> np.ndarray:
    """The IQM of each sample, computed as the recording statistic computed it (the same bits)."""
    return np.array([np.sort(sample)[len(sample) // 4:len(sample) - len(sample) // 4].mean() for sample in samples])


def _judge_percentiles(interval: tuple, samples: list, confidence: float) -> None:
    """The interval must be the (1 − c)/2 and (1 + c)/2 percentiles of the statistic's values on the resamples."""
    expect(samples, f"bootstrap_interval(..., confidence={confidence}) never applied the statistic to a resample.",
           "apply statistic to each resample: statistic(resample).")
    values = _statistic_values(samples)
    expected = tuple(np.percentile(values, [50 * (1 - confidence), 50 * (1 + confidence)]))
    close = functools.partial(np.allclose, interval, rtol=1e-9)
    if close(expected) or _order_statistics(interval, values, confidence):
        return
    means = [float(np.mean(sample)) for sample in samples]
    narrower = 100 * (1 - confidence), 100 * confidence
    name_the_mistake(close, {
        f"that is a {2 * confidence - 1:.0%} interval (the {narrower[0]:.3g}th and {narrower[1]:.3g}th percentiles), "
        f"not a {confidence:.0%} one: each tail holds (1 − confidence) / 2." + PERCENTILE_HINT:
            tuple(np.percentile(values, narrower)),
        "that is the 95% interval (2.5th and 97.5th percentiles) whatever confidence is." + PERCENTILE_HINT:
            tuple(np.percentile(values, [2.5, 97.5])),
        "np.percentile was given fractions ((1 − confidence) / 2), but it takes percents. Hint: "
        "np.percentile(values, [2.5, 97.5]) for 95%, or np.quantile(values, [0.025, 0.975]).":
            tuple(np.percentile(values, [50 * (1 - confidence) / 100, 50 * (1 + confidence) / 100])),
        f"those are the quantiles at confidence / 2 and 1 − confidence / 2 ({confidence / 2:.4g} and "
        f"{1 - confidence / 2:.4g}), a narrow band around the median, not the two tails: each tail holds "
        "(1 − confidence) / 2, so the levels are (1 − confidence) / 2 and (1 + confidence) / 2." + PERCENTILE_HINT:
            tuple(np.percentile(values, [50 * confidence, 100 - 50 * confidence])),
        "that is the smallest and largest value: no percentiles." + PERCENTILE_HINT: (values.min(), values.max()),
        "those are percentiles of the resamples' means: the statistic's values are not used. Hint: keep "
        "statistic(resample) for each resample, then take the percentiles of those values.":
            tuple(np.percentile(means, [50 * (1 - confidence), 50 * (1 + confidence)])),
        "the bounds are swapped: (high, low)." + PERCENTILE_HINT: expected[::-1],
    }, _normal_interval(interval, values, confidence)
        or f"bootstrap_interval(..., confidence={confidence}) returned {_numbers(interval)}; the percentiles of the "
           f"statistic's values on your resamples are {_numbers(expected)}." + PERCENTILE_HINT,
        returned=f"bootstrap_interval(..., confidence={confidence}) returned {_numbers(interval)}, expected "
                 f"{_numbers(expected)}: ")


def _order_statistics(interval: tuple, values: np.ndarray, confidence: float) -> bool:
    """Is each bound a quantile of its level by some definition: between the order statistics around it?

    The statement asks for the (1 − c)/2 and (1 + c)/2 quantiles, not for np.percentile's linear interpolation:
    np.quantile's other methods, and sorted values at int(level · n) by hand, lie within one order statistic of
    position level · n; every named wrong level is many order statistics away.
    """
    ordered, count = np.sort(values), len(values)
    for bound, level in zip(interval, ((1 - confidence) / 2, (1 + confidence) / 2)):
        lowest, highest = max(int(np.floor(level * count)) - 1, 0), min(int(np.ceil(level * count)) + 1, count - 1)
        slack = 1e-9 * max(abs(ordered[lowest]), abs(ordered[highest]), 1.0)
        if not ordered[lowest] - slack <= bound <= ordered[highest] + slack:
            return False
    return interval[0] <= interval[1]


def _normal_interval(interval: tuple, values: np.ndarray, confidence: float) -> str:
    """If the interval is centred on the mean of the statistic's values (mean ± k sd): the message; else ''."""
    low, high = interval
    mean, spread = float(values.mean()), float(values.std())
    if not (spread > 0 and high > low and np.isclose((low + high) / 2, mean, rtol=1e-9, atol=1e-9 * spread)):
        return ""
    return (f"bootstrap_interval(..., confidence={confidence}) returned {_numbers(interval)}, the mean of the "
            f"statistic's values ± {(high - low) / 2 / spread:.3g} standard deviations: a normal interval, which "
            "assumes the values are symmetric around their mean. The exercise asks for the percentile interval, "
            "which takes the tails as the resamples give them." + PERCENTILE_HINT)


@functools.lru_cache(maxsize=8)
def _reference_interval(scores: tuple) -> tuple:
    """(the 95% percentile-bootstrap interval of the IQM of `scores` from 100,000 resamples, their spread)."""
    runs = np.array(scores)
    rng = np.random.default_rng(12345)  # a generator of its own: the student's draws are not replayed
    values = stats.trim_mean(runs[rng.integers(0, len(runs), (REFERENCE_RESAMPLES, len(runs)))], 0.25, axis=1)
    return np.percentile(values, [2.5, 97.5]), float(values.std())


def _judge_against_reference(low: float, high: float, scores: np.ndarray) -> None:
    """The 95% interval must be close to the reference, in units of the spread of the resampled IQMs."""
    reference, spread = _reference_interval(tuple(scores.tolist()))
    off = np.abs(np.array([low, high]) - reference).max() / spread
    expect(off <= REFERENCE_TOLERANCE, f"the interval {_numbers([low, high])} is {off:.2f} standard deviations of the "
           f"IQM off the percentile bootstrap's {_numbers(reference)} (from {REFERENCE_RESAMPLES:,} resamples): the "
           "resamples are not drawn uniformly from the runs.", "each resample: rng.choice(scores, size=len(scores), "
           "replace=True), every run equally likely at every draw.")


check_iqm_bootstrap = Check("7.6", "iqm / bootstrap_interval", statistics_inputs, probe_statistics, judge_statistics,
                            references=("utils.stats.iqm", "utils.stats.bootstrap_ci"))
