"""Checks for notebook 3: the Q-network and greedy action selection (probe and judge, see protocol).

3.1: the probe builds the student's network with the default sizes, other sizes (by keyword and
by position, as the course's training code calls it) and records its linear layers' weights and
its outputs on the inputs' states, also with the output bias shifted and without biases. The judge
rebuilds the course's QNetwork from those weights and compares, naming the usual slips.
3.2: the probe calls the student's functions on a scripted Q-network whose Q-values are the
first entries of the state, and records the actions and how the network was called.
"""
import copy
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.checks.core import (TENSOR_TYPES, Mistake, describe, expect, is_plain, name_the_mistake, plain_number,
                               plain_tensor)
from utils.checks.protocol import Check, crash_text
from utils.checks.tensors import expect_tensor, shape_hint
from utils.networks import QNetwork

DEFAULT_SIZES = {"obs_dim": 4, "n_actions": 2, "hidden": 128}
SMALL_SIZES = {"obs_dim": 6, "n_actions": 3, "hidden": 32}  # each differs from every default
CONTAINERS = (nn.Linear, nn.ReLU, nn.Sequential, nn.ModuleList, nn.ModuleDict)
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


# --- 3.1 the Q-network: inputs and probe ------------------------------------------------------

def network_inputs(rng) -> dict:
    """States to feed the network, the other sizes and the initialisation seed (fresh ones for a grading run)."""
    seeded = np.random.default_rng(0) if rng is None else rng
    small = dict(SMALL_SIZES) if rng is None else _other_sizes(rng)
    return {"seed": 0 if rng is None else int(rng.integers(0, 2**31)), "small": small,
            "states": _states(seeded, 64, 4), "batch": _states(seeded, 5, 4),
            "x": _states(seeded, 32, 4, scale=1.0), "y": _states(seeded, 32, 4, scale=1.0),
            "small states": _states(seeded, 64, small["obs_dim"]), "small batch": _states(seeded, 5, small["obs_dim"])}


def _other_sizes(rng) -> dict:
    """Sizes that differ from every default and from one another."""
    obs_dim = int(rng.choice([3, 5, 6, 7, 8]))
    n_actions = int(rng.choice([n for n in (3, 4, 5) if n != obs_dim]))
    return {"obs_dim": obs_dim, "n_actions": n_actions, "hidden": int(rng.choice([16, 24, 32, 48, 64]))}


def _states(rng, rows: int, obs_dim: int, scale: float = 3.0) -> np.ndarray:
    """A float32 batch of random states."""
    return (scale * rng.normal(size=(rows, obs_dim))).astype(np.float32)


def probe_network(rec, inputs: dict, network_class) -> None:
    """Build the student's network at several sizes; record its layers and its outputs on the inputs' states."""
    with torch.random.fork_rng(devices=[]):  # the notebook's own torch random stream is left as it was
        torch.manual_seed(inputs["seed"])
        net = _build(rec, "default", network_class, {})
        rec.call("explicit build", _linear_sizes, network_class, DEFAULT_SIZES, expect_error=True)
        _probe_default(rec, net, inputs)
        small = _build(rec, "small", network_class, inputs["small"])
        rec.call("small batch", small, torch.as_tensor(inputs["small batch"]))
        with torch.no_grad():
            rec.call("small q", small, torch.as_tensor(inputs["small states"]))
        sizes = inputs["small"]
        rec.call("positional build", _linear_sizes, network_class, sizes, positional=True, expect_error=True)


def _build(rec, tag: str, network_class, sizes: dict):
    """`network_class(**sizes)`, recorded, with what the network holds (a raise ends the probe)."""
    net = rec.call(f"{tag} build", network_class, **sizes)
    rec.note(f"{tag} module", isinstance(net, nn.Module))
    if isinstance(net, nn.Module):
        rec.note(f"{tag} structure", _structure(net))
    return net


def _structure(net: nn.Module) -> dict:
    """What a network holds: are its parameters plain, how many train, its nn.Linear layers, its other modules."""
    linears = [m for m in net.modules() if type(m) is nn.Linear]  # a subclass could rig its forward
    return {"plain": all(type(p) is nn.Parameter for p in net.parameters()),
            "count": sum(p.numel() for p in net.parameters() if p.requires_grad),
            "linears": [[m.in_features, m.out_features, m.weight.detach().clone(),
                         None if m.bias is None else m.bias.detach().clone()] for m in linears],
            "others": sorted({type(m).__name__ for m in net.modules() if m is not net and type(m) not in CONTAINERS}),
            "weighted": sorted({type(m).__name__ for m in net.modules() if m is not net and type(m) is not nn.Linear
                                and any(True for _ in m.parameters(recurse=False))})}


def _linear_sizes(network_class, sizes: dict, positional: bool = False) -> list:
    """[[in_features, out_features], ...] of the nn.Linear layers of a network built with `sizes`."""
    net = network_class(*sizes.values()) if positional else network_class(**sizes)
    modules = net.modules() if isinstance(net, nn.Module) else []
    return [[m.in_features, m.out_features] for m in modules if type(m) is nn.Linear]


def _probe_default(rec, net: nn.Module, inputs: dict) -> None:
    """The default network's outputs: a batch with gradients, then (without) the probes for the usual slips."""
    if not isinstance(net, nn.Module):
        return
    states, x, y = (torch.as_tensor(inputs[key]) for key in ("states", "x", "y"))
    rec.call("default batch", net, torch.as_tensor(inputs["batch"]))
    rec.call("default layers without gradient", _layers_without_gradient, net, torch.as_tensor(inputs["batch"]),
             expect_error=True)
    rec.call("default one", net, torch.as_tensor(inputs["batch"][:1]))
    rec.call("default single", net, torch.as_tensor(inputs["batch"][0]), expect_error=True)
    with torch.no_grad():
        rec.call("default q", net, states.clone())
        rec.call("default q again", net, states.clone())
        rec.call("default shifted", _shifted, net, states.clone(), DEFAULT_SIZES["n_actions"])
        rec.call("default x+y", net, x + y)
        rec.call("default x", net, x.clone())
        rec.call("default y", net, y.clone())
        rec.call("default zero", net, torch.zeros(1, 4))
        rec.call("default unbiased", _unbiased, net, [x.clone(), 2.5 * x])


def _layers_without_gradient(net: nn.Module, batch: torch.Tensor) -> list:
    """[[in, out], ...] of the linear layers of a copy of `net` whose weight gets no gradient from its output's sum."""
    copied = copy.deepcopy(net)
    output = copied(batch)
    if not (isinstance(output, torch.Tensor) and output.requires_grad):
        return []  # the output's own check names this
    output.sum().backward()
    return [[m.in_features, m.out_features] for m in copied.modules() if type(m) is nn.Linear and m.weight.grad is None]


def _shifted(net: nn.Module, states: torch.Tensor, n_actions: int):
    """The output of a copy of `net` whose output layer's bias is lowered by 1000 (None if it has no such layer)."""
    shifted = copy.deepcopy(net)
    layer = next((m for m in shifted.modules() if type(m) is nn.Linear and m.out_features == n_actions), None)
    if layer is None or layer.bias is None:
        return None
    layer.bias -= 1000.0
    return shifted(states)


def _unbiased(net: nn.Module, batches: list) -> list:
    """The outputs of a copy of `net` whose linear layers' biases are all 0, on each batch."""
    unbiased = copy.deepcopy(net)
    for layer in (m for m in unbiased.modules() if type(m) is nn.Linear and m.bias is not None):
        layer.bias.zero_()
    return [unbiased(batch) for batch in batches]


# --- 3.1 the judge --------------------------------------------------------------------------

def judge_network(results, inputs: dict) -> None:
    """Check the layers, the output, that nothing is random or constant, and Linear, ReLU, Linear, ReLU, Linear."""
    layers = _judge_built(results, "default", {}, _explicit(results))
    _judge_output(results, "default batch", 4, 2)
    _judge_batch_of_one(results.value("default one"), 4, 2)
    _judge_deterministic(results, inputs["states"])
    _judge_initialised(layers)
    _judge_function(results, inputs, layers)
    _judge_gradient_reaches_every_layer(results)
    small = inputs["small"]
    layers = _judge_built(results, "small", small, None)
    _judge_fixed_reshape(results.raised("small batch"), small)
    _judge_output(results, "small batch", small["obs_dim"], small["n_actions"])
    got = _q(results.value("small q"), inputs["small states"])
    expected = _reference(layers, small, inputs["small states"])
    expect(_close(got, expected), f"{_call(small)}'s output is not Linear, ReLU, Linear, ReLU, Linear of its layers.",
           "build the same network whatever the sizes: only the layers' sizes depend on the arguments.")
    _judge_positional(results, small)
    _judge_single_state(results, results.value("default batch"), 4, 2)


def _judge_gradient_reaches_every_layer(results) -> None:
    """A loss on the output must reach every linear layer's weight: a .detach() inside forward cuts the layers before it."""
    key = "default layers without gradient"
    cut = results.value(key) if results.has(key) and not results.raised(key) else []
    if type(cut) is list and cut:
        layers = ", ".join(f"{size[0]}→{size[1]}" for size in cut if type(size) is list and len(size) == 2)
        them = "them" if len(cut) > 1 else "it"
        raise Mistake(f"no gradient reaches the linear layer{'s' * (len(cut) > 1)} {layers}: forward cuts {them} off "
                      "the output (.detach(), .data or torch.no_grad() on a hidden activation), so training would "
                      f"never change {them}. Hint: keep forward one differentiable chain: Linear, ReLU, Linear, ReLU, "
                      "Linear, with no .detach() inside.")


def _explicit(results):
    """The layer sizes of QNetwork(obs_dim=4, n_actions=2, hidden=128), or None if that call failed."""
    return results.value("explicit build") if results.has("explicit build") and not results.raised("explicit build") \
        else None


def _call(sizes: dict) -> str:
    """The call the check made: `QNetwork()` or `QNetwork(obs_dim=6, n_actions=3, hidden=32)`."""
    return f"QNetwork({', '.join(f'{k}={v}' for k, v in sizes.items())})"


def _judge_built(results, tag: str, sizes: dict, explicit) -> list:
    """The network `tag` was built, is an nn.Module, and its linear layers are obs_dim → hidden → hidden → n_actions.

    Returns its (in, out, weight, bias) layers, in registration order. `explicit` lists the layer sizes of
    QNetwork(obs_dim=4, n_actions=2, hidden=128), which tells wrong defaults from ignored arguments.
    """
    call = _call(sizes)
    info = results.raised(f"{tag} build")
    if info and info.get("type") == "TypeError":
        raise Mistake(f"{call} raised TypeError: {info.get('message')}. "
                      "Hint: keep the signature QNetwork(obs_dim=4, n_actions=2, hidden=128).")
    if info and info.get("type") == "AttributeError" and "Module.__init__" in str(info.get("message")):
        raise Mistake(f"{call} raised AttributeError: {info.get('message')}. Hint: call super().__init__() first "
                      "in __init__, before creating any layer.")
    net = results.value(f"{tag} build")
    expect(results.value(f"{tag} module") is True, f"{call} built {describe(net)}; expected a torch.nn.Module.",
           "subclass nn.Module: class QNetwork(nn.Module).")
    structure = results.value(f"{tag} structure")
    expect(structure["plain"] is True, f"{call} holds a parameter that is not an nn.Parameter.",
           "let nn.Linear create its weights and biases.")
    count = structure["count"]
    expect(count > 0, f"{call} has no trainable parameters: its layers are made in forward (new, untrained ones at "
           "every call), or kept in a plain Python list or dict, which PyTorch does not see.",
           "create the layers once, in __init__, each assigned to self.<name> (or in nn.Sequential / nn.ModuleList).")
    full = {**DEFAULT_SIZES, **sizes}
    obs_dim, n_actions, hidden = full["obs_dim"], full["n_actions"], full["hidden"]
    layers = structure["linears"]
    wanted = f"{obs_dim}→{hidden}→{hidden}→{n_actions}"
    expected = (obs_dim + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * n_actions
    sizes_found = [layer[:2] for layer in layers]
    if _shapes(sizes_found) != _wanted_shapes(obs_dim, n_actions, hidden):
        raise Mistake(f"{call} has linear layers {_chain_text(sizes_found)} ({count:,} parameters); expected {wanted} "
                      f"({expected:,} parameters). Hint: {_layer_sizes_hint(sizes, sizes_found, explicit)}")
    expect(all(layer[3] is not None for layer in layers), f"{call} has linear layers without bias "
           f"({count:,} parameters; expected {expected:,}).", "keep nn.Linear's default bias=True.")
    others = structure["weighted"]
    expect(count == expected, f"{call} has {count:,} trainable parameters; expected {expected:,}"
           + (f": it also holds {', '.join(others)}." if others else "."),
           "the network should hold only its three linear layers (no normalisation or other layers).")
    for in_features, out_features, weight, bias in layers:
        for tensor, shape in ((weight, (out_features, in_features)), (bias, (out_features,))):
            plain_tensor(tensor, f"a linear layer's weight of {call} is", "an nn.Parameter",
                         "let nn.Linear create its weights and biases.")
            expect(tuple(tensor.shape) == shape, f"a linear layer of {call} holds a weight of shape "
                   f"{tuple(tensor.shape)}; expected {shape}.", "let nn.Linear create its weights and biases.")
    return layers


def _chain_text(sizes: list) -> str:
    """'4→128→128→2': the sizes of the linear layers in registration order."""
    return "→".join([str(sizes[0][0])] + [str(out) for _, out in sizes]) if sizes else "none"


def _shapes(sizes: list) -> list:
    """The sorted (in_features, out_features) of the linear layers: the order they were registered in is free."""
    return sorted(tuple(size) for size in sizes)


def _wanted_shapes(obs_dim: int, n_actions: int, hidden: int) -> list:
    """The sorted layer shapes of obs_dim → hidden → hidden → n_actions."""
    return sorted([(obs_dim, hidden), (hidden, hidden), (hidden, n_actions)])


def _layer_sizes_hint(sizes: dict, found: list, explicit) -> str:
    """Why the layers have the wrong sizes: ignored arguments, wrong defaults, or else."""
    full = {**DEFAULT_SIZES, **sizes}
    with_sizes = found if sizes else (explicit if type(explicit) is list else [])
    ins, outs = {size[0] for size in with_sizes}, {size[1] for size in with_sizes}
    ignored = [name for name, used in (("obs_dim", full["obs_dim"] in ins), ("n_actions", full["n_actions"] in outs),
                                       ("hidden", full["hidden"] in outs)) if not used]
    if with_sizes and ignored:
        names = " and ".join(", ".join(f"`{name}`" for name in ignored).rsplit(", ", 1))
        evidence = "" if sizes else f" ({_call(full)} builds {_chain_text(with_sizes)} too)"
        return (f"the {names} argument{'s are' if len(ignored) > 1 else ' is'} ignored{evidence}: size the layers "
                "with the arguments, not fixed numbers.")
    if with_sizes and not sizes and _shapes(with_sizes) == _wanted_shapes(**DEFAULT_SIZES):
        return (f"the defaults are wrong ({_call(full)} is right): write the signature as "
                "QNetwork(obs_dim=4, n_actions=2, hidden=128).")
    return ("three nn.Linear layers: (obs_dim, hidden), (hidden, hidden), (hidden, n_actions); use the arguments, "
            "not hard-coded sizes.")


def _judge_output(results, key: str, obs_dim: int, n_actions: int) -> None:
    """A (5, obs_dim) float32 batch gives (5, n_actions) float32 Q-values that carry gradients."""
    q_values = results.value(key)
    expect(not (type(q_values) in TENSOR_TYPES and q_values.shape == (5,) and not q_values.is_floating_point()),
           f"the output for a batch of shape (5, {obs_dim}) is an integer tensor of shape (5,): one action index "
           f"per state (an argmax), not the {n_actions} Q-values of each state.",
           "forward returns the last nn.Linear's output as it is, shape (B, n_actions); choosing the greedy action "
           "(argmax) is greedy_action's job, in exercise 3.2.")
    expect(not (type(q_values) in TENSOR_TYPES and q_values.shape == (1, 5, n_actions)), f"the output for a batch of "
           f"shape (5, {obs_dim}) has shape (1, 5, {n_actions}): forward adds a batch dimension (unsqueeze(0)) to an "
           "input that has one already.", "forward takes (B, obs_dim) batches and single (obs_dim,) states alike: "
           "nn.Linear handles both, so apply the layers to x as it is, without unsqueeze.")
    expect_tensor(q_values, f"the output for a batch of shape (5, {obs_dim})", (5, n_actions), torch.float32)
    expect(q_values.requires_grad,
           "the output does not require grad: forward ran under torch.no_grad() or detached its result.",
           "forward must stay differentiable so the network can be trained; use no_grad only when selecting actions.")


def _judge_single_state(results, batch_q, obs_dim: int, n_actions: int) -> None:
    """One state, shape (obs_dim,), must give its Q-values, shape (n_actions,): greedy_action relies on it."""
    said = f"for one state, shape ({obs_dim},), the network"
    why = "greedy_action gives the network one state at a time (in this notebook and the ones after)"
    info = results.raised("default single")
    expect(not info, f"{said} raised {crash_text(info or {})}: {why}.", "layers that take any leading shape "
           "(nn.Linear and ReLU, or nn.Sequential of them) handle it; don't reshape with states.size(0), view(B, -1) or "
           "nn.Flatten().")
    q_values = plain_tensor(results.value("default single"), f"{said} returned", "a tensor of Q-values",
                            "return the last nn.Linear's output.")
    expect(tuple(q_values.shape) == (n_actions,) and torch.allclose(q_values, batch_q[0], atol=1e-5),
           f"{said} returned shape {tuple(q_values.shape)}; expected ({n_actions},), its row of the batch's Q-values: "
           f"{why}.", "return the last layer's output as it is, without adding or removing dimensions.")


def _judge_batch_of_one(q_values, obs_dim: int, n_actions: int) -> None:
    """A batch of one state, shape (1, obs_dim), must keep its batch dimension: (1, n_actions)."""
    plain_tensor(q_values, f"for a batch of one state, shape (1, {obs_dim}), the network returned",
                 "a tensor of Q-values", "return the last nn.Linear's output.")
    got = tuple(q_values.shape)
    if got != (1, n_actions):
        dropped = len(got) < 2 and q_values.numel() == n_actions
        raise Mistake(f"for a batch of one state, shape (1, {obs_dim}), the network returned shape {got}; expected "
                      f"(1, {n_actions})" + (": the batch dimension was dropped (a .squeeze() on the output?). "
                                             "Batches of one happen (batch_size=1, one state at a time), and "
                                             "gather(1, actions) or argmax(dim=1) on them then fails or reads the "
                                             "wrong axis." if dropped else ".")
                      + " Hint: return the last layer's output as it is: (B, n_actions) for every B, B = 1 included.")


def _q(value, states: np.ndarray) -> torch.Tensor:
    """A recorded output if it is a plain torch tensor (a subclass could rig torch.allclose), else a Mistake."""
    return plain_tensor(value, f"for a batch of shape {states.shape} the network returned",
                        "a tensor of Q-values", "return the last nn.Linear's output.")


def _close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    """Same shape and close values."""
    return got.shape == expected.shape and torch.allclose(got, expected.to(got.dtype), **TOLERANCE)


def _judge_deterministic(results, states: np.ndarray) -> None:
    """Two calls on the same batch must give the same Q-values: a Q-network here holds no dropout."""
    first, again = (_q(results.value(key), states) for key in ("default q", "default q again"))
    if first.shape == again.shape and torch.equal(first, again):
        return
    dropout = "Dropout" in results.value("default structure")["others"]
    raise Mistake("two calls of QNetwork() on the same batch gave different Q-values: "
                  + ("the network holds nn.Dropout, which zeroes random hidden units in training mode. "
                     if dropout else "its forward is random. ")
                  + "The course's training loop never switches the network to eval mode, so every Q-value, greedy "
                    "action and TD target would be random. Hint: a DQN Q-network here has no dropout: Linear, ReLU, "
                    "Linear, ReLU, Linear, nothing else.")


def _judge_fixed_reshape(crash, sizes: dict) -> None:
    """A reshape written with the notebook's sizes (view(-1, 4)) breaks a network built for other sizes: say so."""
    message = str((crash or {}).get("message", ""))
    expect(not ((crash or {}).get("type") == "RuntimeError" and re.search(r"shape '\[.*\]' is invalid for input",
                                                                          message)),
           f"{_call(sizes)} raised {crash_text(crash or {})} on a batch of shape (5, {sizes['obs_dim']}): forward "
           "reshapes with a fixed size (such as view(-1, 4)), so the network works only for the notebook's sizes.",
           "no reshape is needed: nn.Linear takes a (B, obs_dim) batch and a single (obs_dim,) state alike.")


def _judge_initialised(layers: list) -> None:
    """A hidden layer's weights must differ from one another (a constant initialisation keeps its units equal).

    The output layer may start constant (zero, say): its rows get different gradients, one per action.
    """
    feeding = {in_features for in_features, *_ in layers}
    for in_features, out_features, weight, _ in layers:
        if out_features in feeding and weight.numel() > 1 and bool(torch.all(weight == weight.flatten()[0])):
            raise Mistake(f"every weight of the linear layer {in_features}→{out_features} is "
                          f"{float(weight.flatten()[0]):g}: with equal weights all hidden units compute the same "
                          "thing and get the same gradient, so they stay equal forever. Hint: keep nn.Linear's default "
                          "(random) initialisation.")


def _ordered(layers: list, sizes: dict) -> list:
    """The (weight, bias) of the first, middle and last layer, found by their shapes, as float64 tensors."""
    full = {**DEFAULT_SIZES, **sizes}
    wanted = [(full["obs_dim"], full["hidden"]), (full["hidden"], full["hidden"]), (full["hidden"], full["n_actions"])]
    by_shape = {(layer[0], layer[1]): layer for layer in layers}
    return [(by_shape[shape][2].double(), by_shape[shape][3].double()) for shape in wanted]


def _reference(layers: list, sizes: dict, states: np.ndarray) -> torch.Tensor:
    """The course's QNetwork with the student's weights, applied to `states` (float32)."""
    full = {**DEFAULT_SIZES, **sizes}
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # building it draws initial weights; keep torch's stream
        reference = QNetwork(full["obs_dim"], full["n_actions"], full["hidden"])
        for layer, (weight, bias) in zip((m for m in reference.modules() if type(m) is nn.Linear),
                                         _ordered(layers, sizes)):
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        return reference(torch.as_tensor(states))


def _variant(layers: list, states: np.ndarray, hidden=torch.relu, second=None, output=None, middle: int = 1):
    """The default network's output with other activations (`second` after the second layer), `middle` middle layers."""
    (w1, b1), (w2, b2), (w3, b3) = _ordered(layers, {})
    h = hidden(F.linear(torch.as_tensor(states).double(), w1, b1))
    for _ in range(middle):
        h = (second or hidden)(F.linear(h, w2, b2))
    q = F.linear(h, w3, b3)
    return (output(q) if output else q).float()


def _judge_function(results, inputs: dict, layers: list) -> None:
    """The default network's output must be the course's QNetwork with its weights; else name what differs."""
    states = inputs["states"]
    got = _q(results.value("default q"), states)
    if _close(got, _reference(layers, {}, states)):
        return
    _judge_linear_output(results, layers, got, states)
    _judge_relu_between(results, inputs, layers)
    identity = lambda h: h  # noqa: E731
    hint = " Hint: apply ReLU after each of the two hidden layers: Linear, ReLU, Linear, ReLU, Linear."
    name_the_mistake(lambda value: _close(got, value), {
        "there is no ReLU between the first linear layer (4→128) and the second (128→128)." + hint:
            _variant(layers, states, hidden=identity, second=torch.relu),
        "there is no ReLU between the second linear layer (128→128) and the last (128→2)." + hint:
            _variant(layers, states, second=identity),
        "the activation between the layers is LeakyReLU, not ReLU (it lets 1% of negative inputs through)." + hint:
            _variant(layers, states, hidden=F.leaky_relu),
        "the second hidden layer (128→128) is never used in forward: it goes from the first layer straight to the "
        "last. Hint: Linear, ReLU, Linear, ReLU, Linear, each layer once.": _variant(layers, states, middle=0),
        "the second hidden layer (128→128) is applied twice. Hint: Linear, ReLU, Linear, ReLU, Linear, each layer "
        "once.": _variant(layers, states, middle=2),
    }, f"the output differs by up to {(got - _reference(layers, {}, states)).abs().max():.3g} from Linear, ReLU, "
       "Linear, ReLU, Linear of the network's own layers. Hint: apply the three layers once each, in order, with ReLU "
       "after the two hidden ones and nothing else.",
        returned="QNetwork()'s output is not Linear, ReLU, Linear, ReLU, Linear of its layers: ")


def _judge_linear_output(results, layers: list, got: torch.Tensor, states: np.ndarray) -> None:
    """Lowering the output layer's bias by 1000 must lower every Q-value by 1000: no output activation."""
    after = results.value("default shifted")
    hint = " Hint: return the last nn.Linear's output as it is; Q-values are unbounded real numbers (and can be negative)."
    if after is None:
        return
    after = _q(after, states)
    if after.shape == got.shape and torch.allclose(after, got - 1000.0, atol=1e-2):
        return
    if after.shape != got.shape:
        raise Mistake("the Q-values are not a linear function of the last layer's output." + hint)
    if any(torch.allclose(q.sum(dim=d), torch.ones(q.shape[1 - d])) for q in (got, after) for d in (0, 1)):
        raise Mistake("the Q-values sum to 1: there is a softmax on the output (that makes action "
                      "probabilities, a policy, not action values)." + hint)
    if torch.all(after == 0) and torch.any(got == 0):
        raise Mistake("the Q-values are clipped at 0: there is a ReLU after the last layer." + hint)
    if torch.all(got.abs() <= 1) and torch.all(after.abs() <= 1):
        raise Mistake("the Q-values stay within [-1, 1]: there is a squashing activation (sigmoid, tanh) on the output."
                      + hint)
    if _close(got, _variant(layers, states, output=lambda q: F.log_softmax(q, dim=-1))):
        raise Mistake("there is a log_softmax on the output: its Q-values are log-probabilities of a policy "
                      "(each row's exponentials sum to 1), not action values." + hint)
    raise Mistake("the Q-values are not a linear function of the last layer's output." + hint)


def _judge_relu_between(results, inputs: dict, layers: list) -> None:
    """The network must not be affine (activation missing) and, without biases, be positively homogeneous (ReLU)."""
    x_plus_y, x, y, zero = (_q(results.value(f"default {key}"), inputs["x"]) for key in ("x+y", "x", "y", "zero"))
    gap = (x_plus_y - x - y + zero).abs().max()
    expect(gap > 1e-4, "the network is affine: f(x + y) = f(x) + f(y) - f(0), so there is no activation "
           "between the layers.", "a stack of linear layers is one linear layer: apply ReLU after each hidden layer.")
    unbiased = results.value("default unbiased")
    expect(type(unbiased) is list and len(unbiased) == 2, "the network's outputs could not be read.")
    once, scaled = (_q(value, inputs["x"]) for value in unbiased)
    if torch.allclose(scaled, 2.5 * once, rtol=1e-4, atol=1e-5):
        return
    states = inputs["states"]
    got = _q(results.value("default q"), states)
    name_the_mistake(lambda value: _close(got, value), {
        f"the activation between the layers is {name}, not ReLU. Hint: use torch.relu / nn.ReLU between the layers.":
            _variant(layers, states, hidden=activation)
        for name, activation in (("tanh", torch.tanh), ("sigmoid", torch.sigmoid), ("ELU", F.elu), ("GELU", F.gelu),
                                 ("SiLU", F.silu), ("softplus", F.softplus))
    }, "the activation between the layers is not ReLU (with the biases set to 0, doubling the input does not double "
       "the output, as it would with ReLU). Hint: use torch.relu / nn.ReLU between the layers.")


def _judge_positional(results, sizes: dict) -> None:
    """QNetwork(obs_dim, n_actions, hidden) by position must build the same layers (the course calls it so)."""
    call = f"QNetwork({', '.join(str(v) for v in sizes.values())})"
    info = results.raised("positional build")
    if info:
        raise Mistake(f"{call} (the sizes by position, as the course's training code passes them) raised "
                      f"{info.get('type')}: {info.get('message')}. Hint: keep the signature "
                      "QNetwork(obs_dim=4, n_actions=2, hidden=128), in that order.")
    found = results.value("positional build")
    expect(type(found) is list and _shapes(found) == _wanted_shapes(**sizes),
           f"{call} (the sizes by position, as the course's training code passes them) builds linear layers "
           f"{_chain_text(found) if type(found) is list else found}; expected "
           f"{sizes['obs_dim']}→{sizes['hidden']}→{sizes['hidden']}→{sizes['n_actions']}: the arguments are in "
           "another order.", "keep the signature order QNetwork(obs_dim=4, n_actions=2, hidden=128).")


check_q_network = Check("3.1", "QNetwork", network_inputs, probe_network, judge_network,
                        references=("utils.networks.QNetwork",))


# --- 3.2 greedy action selection --------------------------------------------------------------

class ScriptedQNet(nn.Module):
    """A stand-in Q-network with known Q-values (the first n_actions state entries) that records its calls."""

    def __init__(self, obs_dim: int = 4, n_actions: int = 3):
        """Q(s, a) = s[a]: a linear layer whose weights pick the first n_actions entries of the state."""
        super().__init__()
        self.linear = nn.Linear(obs_dim, n_actions, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(n_actions, obs_dim))
        self.n_actions = n_actions
        # [calls, calls with autograd recording] in a plain list: the checks call the network thousands of times,
        # and nn.Module's attribute setting and a submodule call cost more than the layer's own product
        self.counts = [0, 0]

    @property
    def calls(self) -> int:
        """How many times the network was called."""
        return self.counts[0]

    @property
    def calls_with_grad(self) -> int:
        """How many of those calls were made while autograd was recording."""
        return self.counts[1]

    def __call__(self, states: torch.Tensor) -> torch.Tensor:
        """forward, without nn.Module's hook machinery, which cost as much as forward itself here."""
        return self.forward(states)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Q-values of `states`, counting calls and calls made while autograd was recording."""
        counts = self.counts
        counts[0] += 1
        counts[1] += torch.is_grad_enabled()
        return F.linear(states, self.linear.weight)


# Q-values = first three entries; rows chosen so that argmin and the argmax over the whole
# state differ from the right answer, and B = 5 differs from the 3 actions.
BATCH = np.array([[0.1, 0.9, -0.3, 7.0],
                  [2.0, -1.0, 0.5, -7.0],
                  [-0.2, -0.4, -0.1, 3.0],
                  [0.3, 0.2, 0.1, 0.0],
                  [-5.0, 4.0, 4.5, 1.0]], dtype=np.float32)
REPEATS = 3  # calls of greedy_action per state: a random choice shows


def greedy_inputs(rng) -> dict:
    """The notebook's batch of 5 states (3 actions), or for a grading run fresh states on which every slip differs."""
    if rng is None:
        return {"rows": BATCH, "n_actions": 3, "seed": 0}
    n_actions = int(rng.choice([3, 4]))
    obs_dim, batch = n_actions + int(rng.integers(1, 3)), int(rng.integers(5, 8))
    for _ in range(1000):  # a few draws at most
        rows = np.array([_greedy_row(rng, n_actions, obs_dim) for _ in range(batch - 1)]
                        + [_negative_row(rng, n_actions, obs_dim)], dtype=np.float32)
        if any(int(row[1] > row[0]) != int(row[:n_actions].argmax()) for row in rows):
            break
    return {"rows": rows, "n_actions": n_actions, "seed": int(rng.integers(0, 2**31))}


def _greedy_row(rng, n_actions: int, obs_dim: int) -> np.ndarray:
    """A state whose Q-values (its first entries) separate the slips.

    The greedy action's Q-value is above obs_dim + 1, so that the largest Q-value made an int is no
    action; a later entry of the state is larger still (the argmax over the whole state is no
    action either); the lowest Q-value's action differs from what comparing two actions gives.
    """
    for _ in range(1000):  # a few draws at most
        top = round(float(rng.uniform(obs_dim + 1, 9)), 1)
        q_values = np.round(rng.uniform(-9, top, size=n_actions), 1)  # some close to the top: a random choice shows
        q_values[rng.integers(n_actions)] = top
        if len(set(q_values.tolist())) == n_actions and int(q_values[1] > q_values[0]) != int(q_values.argmin()):
            break
    extra = q_values.max() + rng.uniform(0.5, 3, size=obs_dim - n_actions)
    return np.concatenate([q_values, np.round(extra, 1)])


def _negative_row(rng, n_actions: int, obs_dim: int) -> np.ndarray:
    """A state whose Q-values are all below -1.5, its greedy action not 0 and action 1's above action 0's.

    A running maximum started from 0 returns 0 there, comparing actions 0 and 1 returns 1, and the
    largest Q-value made an int is no action; the rest of the state is larger still, as in _greedy_row.
    """
    for _ in range(1000):  # a few draws at most
        q_values = np.round(rng.uniform(-9, -1.5, size=n_actions), 1)
        if len(set(q_values.tolist())) == n_actions and q_values.argmax() > 1 and q_values[1] > q_values[0]:
            break
    extra = q_values.max() + rng.uniform(0.5, 3, size=obs_dim - n_actions)
    return np.concatenate([q_values, np.round(extra, 1)])


def probe_greedy(rec, inputs: dict, greedy_action, greedy_actions) -> None:
    """Call greedy_action on every state (a few times) and greedy_actions on the batch, each with a new scripted net."""
    rows, n_actions = inputs["rows"], inputs["n_actions"]
    with torch.random.fork_rng(devices=[]):  # a function that draws from torch draws the same in every run
        torch.manual_seed(inputs["seed"])
        for index, row in enumerate(rows):
            for repeat in range(REPEATS):
                net = ScriptedQNet(rows.shape[1], n_actions)
                rec.call(f"one {index} {repeat}", greedy_action, net, row.astype(np.float64))  # as an env may give it
                rec.note(f"one {index} {repeat} calls", [net.calls, net.calls_with_grad])
        rec.call("list", greedy_action, ScriptedQNet(rows.shape[1], n_actions), rows[0].astype(np.float64).tolist(),
                 expect_error=True)  # the statement allows a list
        net = ScriptedQNet(rows.shape[1], n_actions)
        rec.call("batch", greedy_actions, net, torch.tensor(rows, dtype=torch.float32))
        rec.note("batch calls", [net.calls, net.calls_with_grad])
        rec.call("batch of one", greedy_actions, ScriptedQNet(rows.shape[1], n_actions),
                 torch.tensor(rows[:1], dtype=torch.float32))


def judge_greedy(results, inputs: dict) -> None:
    """Compare both functions' actions with the argmax of the scripted Q-values, naming the usual slips."""
    rows, n_actions = inputs["rows"], inputs["n_actions"]
    per_state = [[_judge_one_state(results, f"one {index} {repeat}", row, n_actions) for repeat in range(REPEATS)]
                 for index, row in enumerate(rows)]
    expected = [int(row[:n_actions].argmax()) for row in rows]
    expect(any(actions != [0] * REPEATS for actions in per_state) or not any(expected),
           f"greedy_action returned action 0 for every state; expected {expected}. An argmax over dim 0 of a "
           "(1, n_actions) output is always 0: that dimension is the batch, of size 1.",
           "take the argmax over the actions, the last dimension (argmax(dim=-1) or argmax(dim=1) of a (1, n_actions) "
           "output), or call q_net on the state without adding a batch dimension.")
    _judge_max_from_zero([actions[0] for actions in per_state], rows, n_actions)
    for row, actions in zip(rows, per_state):
        expect(len(set(actions)) == 1, f"greedy_action returned {actions} in {REPEATS} calls on the same state: it is "
               "random.", "greedy means the argmax of the Q-values, the same action every time for the same state.")
        _judge_greedy_value(actions[0], row, n_actions)
    _judge_list_state(results, rows[0], n_actions)
    _judge_batch(results, rows, n_actions)


def _judge_list_state(results, row: np.ndarray, n_actions: int) -> None:
    """One state given as a Python list, as the statement allows, must give the action its array gives."""
    shown, info = [round(float(x), 2) for x in row], results.raised("list")
    expect(not info, f"greedy_action(q_net, state) with the state as a Python list {shown} raised "
           f"{crash_text(info or {})}: the statement allows a list.", "convert with torch.as_tensor(state, "
           "dtype=torch.float32), which takes lists and NumPy arrays alike (torch.from_numpy takes arrays only).")
    action, expected = results.value("list"), int(row[:n_actions].argmax())
    expect(type(action) is int and action == expected, f"greedy_action(q_net, state) with the state as a Python list "
           f"{shown} returned {describe(action)}; expected {expected}, the action its NumPy array gives.",
           "convert with torch.as_tensor(state, dtype=torch.float32) whatever the state's type.")


MAX_FROM_ZERO = ("the running maximum starts from 0 (best = 0.0), above every Q-value of this state, so it never "
                 "moves")
MAX_FROM_ZERO_HINT = "start from the first Q-value or from float('-inf'), or take int(q_values.argmax())."
"""What greedy_action (3.2) and epsilon_greedy_action (4.2) are told when they pick 0 among all-negative Q-values."""


def _judge_max_from_zero(actions: list, rows: np.ndarray, n_actions: int) -> None:
    """Right where some Q-value is positive, 0 where all are negative: a running maximum that starts from 0."""
    q_values = rows[:, :n_actions]
    from_zero = [int(q.argmax()) if q.max() > 0 else 0 for q in q_values]
    negative = [i for i, q in enumerate(q_values) if q.max() < 0 and q.argmax() != 0]
    if negative and actions == from_zero:
        q = q_values[negative[0]]
        raise Mistake(f"greedy_action returned 0 for Q-values {[round(float(v), 2) for v in q]}, all negative; "
                      f"expected {int(q.argmax())}: {MAX_FROM_ZERO}. Hint: {MAX_FROM_ZERO_HINT}")


def _judge_one_state(results, key: str, row: np.ndarray, n_actions: int) -> int:
    """The action greedy_action returned for one state, if it is a Python int and came from the q_net, without grad."""
    info = results.raised(key)
    obs_dim = len(row)
    if info:
        kind, message = info.get("type"), str(info.get("message"))
        if kind in ("RuntimeError", "TypeError", "AttributeError") and any(
                word in message for word in ("dtype", "ndarray", "must be Tensor")):
            raise Mistake(f"greedy_action(q_net, state) with a NumPy float64 state raised {kind}: {message}. "
                          "Hint: convert first: torch.as_tensor(state, dtype=torch.float32).")
        if kind == "IndexError":
            raise Mistake(f"greedy_action(q_net, state) with a state of shape ({obs_dim},) raised IndexError: "
                          f"{message}. Hint: one state gives Q-values of shape (n_actions,): take argmax over the last "
                          "dimension (or unsqueeze(0) the state and index the result).")
        results.value(key)  # any other raise: what it means (not done, or the crash and its line)
    calls = results.value(f"{key} calls")
    _expect_called_without_grad(calls, "greedy_action")
    action = results.value(key)
    q_values = row[:n_actions]
    expected, shown = int(q_values.argmax()), [round(float(q), 2) for q in q_values]
    value = _floating_number(action)
    if value is not None and np.isclose(value, float(q_values.max())):
        raise Mistake(f"greedy_action returned {value:.4g} for Q-values {shown}: the largest Q-value itself; "
                      f"expected its index, the action {expected}. Hint: take the index of the maximum: "
                      "int(q_values.argmax()), or .max(0).indices instead of .max(0)[0].")
    return plain_number(action, "greedy_action returned", "a Python int",
                        "env.step and ε-greedy code expect a plain int: use int(...) or .item().", types=(int,))


def _judge_greedy_value(action: int, row: np.ndarray, n_actions: int) -> None:
    """The action must be the argmax of the Q-values; else name the slip."""
    q_values = row[:n_actions]
    expected, shown, top = int(q_values.argmax()), [round(float(q), 2) for q in q_values], float(q_values.max())
    if action == expected:
        return
    largest = (f"it returns the largest Q-value itself ({top:g}), made an int ({{}}), not its index. Hint: "
               "int(q_values.argmax()), or .max(0).indices instead of .max(0)[0] / .max().")
    name_the_mistake(lambda value: action == value, {
        "it picks the action with the lowest Q-value. Hint: argmax, not argmin.": int(q_values.argmin()),
        "it looks at the whole state instead of the Q-values. Hint: take argmax of q_net(state).": int(row.argmax()),
        "it compares only the first two actions' Q-values. Hint: take the argmax over all n_actions Q-values.":
            int(q_values[1] > q_values[0]),
        largest.format("truncated"): int(top),
        largest.format("rounded"): round(top),
    }, f"greedy_action returned {action} for Q-values {shown}; expected {expected}.",
        returned=f"greedy_action returned {action} for Q-values {shown}; expected {expected}: ")


def _floating_number(value):
    """`value` as a float if it is one floating-point number (Python, NumPy or a one-element tensor), else None."""
    if type(value) in TENSOR_TYPES and value.numel() == 1 and value.is_floating_point():
        return float(value)
    return float(value) if is_plain(value, (float, np.floating)) else None  # type(): a subclass may rig __float__


def _judge_batch(results, rows: np.ndarray, n_actions: int) -> None:
    """A (B, obs_dim) float32 batch → a (B,) int64 tensor of per-row argmaxes, under no_grad."""
    _expect_called_without_grad(results.value("batch calls"), "greedy_actions")
    actions = results.value("batch")
    is_tensor = type(actions) in TENSOR_TYPES  # not isinstance: a subclass could rig shape, allclose and equal
    q_values = torch.as_tensor(rows[:, :n_actions])
    batch, obs_dim = rows.shape
    shape = f"a ({batch}, {obs_dim}) batch"
    if is_tensor and actions.shape != (batch,):
        name_the_mistake(lambda value: tuple(actions.shape) == value, {
            "argmax over dim 0 picks a row per action. Hint: the actions are along dim 1: argmax(dim=1).": (n_actions,),
            "argmax without dim returns one index into the flattened (B, n_actions) tensor. Hint: argmax(dim=1).": (),
        }, f"greedy_actions on {shape} returned shape {tuple(actions.shape)}; expected ({batch},). "
           f"Hint: {shape_hint(tuple(actions.shape), (batch,))}",
            returned=f"greedy_actions on {shape} returned shape {tuple(actions.shape)}; expected ({batch},): ")
    if is_tensor and actions.is_floating_point() and torch.allclose(actions.float(), q_values.max(dim=1).values):
        raise Mistake("greedy_actions returned the largest Q-values, not the actions. "
                      "Hint: .max(dim=1) gives (values, indices): take the indices, or use argmax(dim=1).")
    expect_tensor(actions, f"greedy_actions on {shape}", (batch,), torch.int64)
    expected = q_values.argmax(dim=1)
    if not torch.equal(actions, expected):
        largest = ("it returns the largest Q-values themselves, made integers ({}), not their indices. Hint: "
                   ".max(dim=1) gives (values, indices): take the indices, or use argmax(dim=1).")
        name_the_mistake(lambda value: torch.equal(actions, value), {
            "it picks the lowest Q-value in each row. Hint: argmax, not argmin.": q_values.argmin(dim=1),
            "it compares only the first two actions' Q-values (q[:, 1] > q[:, 0]). Hint: argmax(dim=1) over all "
            "n_actions Q-values.": (q_values[:, 1] > q_values[:, 0]).long(),
            largest.format("truncated"): q_values.max(dim=1).values.long(),
            largest.format("rounded"): q_values.max(dim=1).values.round().long(),
        }, f"greedy_actions returned {actions.tolist()}; expected {expected.tolist()}.",
            returned=f"greedy_actions returned {actions.tolist()}; expected {expected.tolist()}: ")
    _judge_actions_of_one(results.value("batch of one"), obs_dim, int(expected[0]))


def _judge_actions_of_one(actions, obs_dim: int, expected: int) -> None:
    """A (1, obs_dim) batch must give a (1,) tensor: a batch of one keeps its batch dimension."""
    if type(actions) in TENSOR_TYPES and actions.shape == ():
        raise Mistake(f"greedy_actions on a (1, {obs_dim}) batch returned a tensor of shape (): a squeeze() dropped the "
                      "batch dimension of size 1. Hint: argmax(dim=1) already gives shape (B,): drop the squeeze(), "
                      "or squeeze only the dimension keepdim=True added (squeeze(1)).")
    expect_tensor(actions, f"greedy_actions on a (1, {obs_dim}) batch", (1,), torch.int64)
    expect(int(actions[0]) == expected, f"greedy_actions on a (1, {obs_dim}) batch returned {actions.tolist()}; "
           f"expected [{expected}].", "take the argmax over the actions, dim 1, whatever the batch size.")


def _expect_called_without_grad(calls, name: str) -> None:
    """The q_net passed in must have been called, and only with autograd off ([calls, calls with grad])."""
    expect(calls[0] > 0, f"{name} never called the q_net it was given.",
           "use the q_net argument, not a network from the notebook's globals.")
    expect(calls[1] == 0, f"{name} called q_net with gradient tracking on.",
           "wrap the forward pass in `with torch.no_grad():`: selecting an action needs no gradient, and "
           "recording one wastes memory and time.")


check_greedy = Check("3.2", "greedy_action / greedy_actions", greedy_inputs, probe_greedy, judge_greedy,
                     references=("utils.policies.greedy_action", "utils.policies.greedy_actions"))
