"""Checks for notebook 3: the Q-network and greedy action selection."""
import copy

import numpy as np
import torch
from torch import nn

from utils.checks.core import (TENSOR_TYPES, Mistake, exercise, expect, expect_plain_parameters, is_plain,
                               name_the_mistake, plain_number, plain_tensor)
from utils.checks.tensors import describe, expect_tensor, shape_hint

DEFAULT_SIZES = {"obs_dim": 4, "n_actions": 2, "hidden": 128}
SMALL_SIZES = {"obs_dim": 6, "n_actions": 3, "hidden": 32}  # each differs from every default


@exercise("3.1", "QNetwork")
def check_q_network(network_class) -> None:
    """Build the network with default and other sizes; check its layers, output, activations and function."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = _construct(network_class)
        _check_layers(network_class, net, {})
        _check_output(net, obs_dim=4, n_actions=2)
        _check_linear_output(net)
        _check_relu_between(net)
        _check_function(net)
        small = _construct(network_class, **SMALL_SIZES)
        _check_layers(network_class, small, SMALL_SIZES)
        _check_output(small, obs_dim=6, n_actions=3)


def _call(sizes: dict) -> str:
    """The call the check made: `QNetwork()` or `QNetwork(obs_dim=6, n_actions=3, hidden=32)`."""
    return f"QNetwork({', '.join(f'{k}={v}' for k, v in sizes.items())})"


def _construct(network_class, **sizes) -> nn.Module:
    """`network_class(**sizes)`, turning the usual construction errors into named mistakes."""
    call = _call(sizes)
    try:
        net = network_class(**sizes)
    except TypeError as error:
        raise Mistake(f"{call} raised TypeError: {error}. "
                      "Hint: keep the signature QNetwork(obs_dim=4, n_actions=2, hidden=128).") from None
    except AttributeError as error:
        if "Module.__init__" in str(error):
            raise Mistake(f"{call} raised AttributeError: {error}. Hint: call super().__init__() first "
                          "in __init__, before creating any layer.") from None
        raise
    expect(isinstance(net, nn.Module), f"{call} built {describe(net)}; expected a torch.nn.Module.",
           "subclass nn.Module: class QNetwork(nn.Module).")
    return net


def _linears(net: nn.Module) -> list:
    """The network's nn.Linear layers, in registration order."""
    return [m for m in net.modules() if type(m) is nn.Linear]  # a subclass could rig its forward


def _q(net: nn.Module, states: torch.Tensor) -> torch.Tensor:
    """`net(states)` if it is a torch tensor (no subclass, which could rig torch.allclose), else a Mistake."""
    return plain_tensor(net(states), f"for a batch of shape {tuple(states.shape)} the network returned",
                        "a tensor of Q-values", "return the last nn.Linear's output.")


def _chain_text(linears: list) -> str:
    """'4→128→128→2': the sizes of the linear layers in registration order."""
    return "→".join([str(linears[0].in_features)] + [str(m.out_features) for m in linears]) if linears else "none"


def _shapes(linears: list) -> list:
    """The sorted (in_features, out_features) of the linear layers: the order they were registered in is free."""
    return sorted((m.in_features, m.out_features) for m in linears)


def _wanted_shapes(obs_dim: int, n_actions: int, hidden: int) -> list:
    """The sorted layer shapes of obs_dim → hidden → hidden → n_actions."""
    return sorted([(obs_dim, hidden), (hidden, hidden), (hidden, n_actions)])


def _check_layers(network_class, net: nn.Module, sizes: dict) -> None:
    """The linear layers of `network_class(**sizes)` must chain obs_dim → hidden → hidden → n_actions."""
    full = {**DEFAULT_SIZES, **sizes}
    obs_dim, n_actions, hidden = full["obs_dim"], full["n_actions"], full["hidden"]
    call, count = _call(sizes), sum(p.numel() for p in net.parameters() if p.requires_grad)
    expect_plain_parameters(net, call)
    expect(count > 0, f"{call} has no trainable parameters.",
           "layers kept in a plain Python list or dict are invisible to PyTorch: assign each to self.<name>, "
           "or use nn.Sequential / nn.ModuleList.")
    linears = _linears(net)
    wanted = f"{obs_dim}→{hidden}→{hidden}→{n_actions}"
    expected = (obs_dim + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * n_actions
    if _shapes(linears) != _wanted_shapes(obs_dim, n_actions, hidden):
        raise Mistake(f"{call} has linear layers {_chain_text(linears)} ({count:,} parameters); expected {wanted} "
                      f"({expected:,} parameters). Hint: {_layer_sizes_hint(network_class, sizes)}")
    expect(all(m.bias is not None for m in linears), f"{call} has linear layers without bias "
           f"({count:,} parameters; expected {expected:,}).", "keep nn.Linear's default bias=True.")
    expect(count == expected, f"{call} has {count:,} trainable parameters; expected {expected:,}.",
           "the network should hold only its three linear layers.")


def _layer_sizes_hint(network_class, sizes: dict) -> str:
    """Why the layers of `network_class(**sizes)` have the wrong sizes: ignored arguments, wrong defaults, or else."""
    full = {**DEFAULT_SIZES, **sizes}
    try:  # for QNetwork() the sizes must be passed explicitly to tell wrong defaults from ignored arguments
        linears = _linears(network_class(**full))
    except Exception:  # only a diagnosis: if that call fails too, the general hint is all there is to say
        linears = []
    ins, outs = {m.in_features for m in linears}, {m.out_features for m in linears}
    ignored = [name for name, used in (("obs_dim", full["obs_dim"] in ins), ("n_actions", full["n_actions"] in outs),
                                       ("hidden", full["hidden"] in outs)) if not used]
    if linears and ignored:
        names = " and ".join(", ".join(f"`{name}`" for name in ignored).rsplit(", ", 1))
        evidence = "" if sizes else f" ({_call(full)} builds {_chain_text(linears)} too)"
        return (f"the {names} argument{'s are' if len(ignored) > 1 else ' is'} ignored{evidence}: size the layers "
                "with the arguments, not fixed numbers.")
    if linears and not sizes and _shapes(linears) == _wanted_shapes(**DEFAULT_SIZES):
        return (f"the defaults are wrong ({_call(full)} is right): write the signature as "
                "QNetwork(obs_dim=4, n_actions=2, hidden=128).")
    return ("three nn.Linear layers: (obs_dim, hidden), (hidden, hidden), (hidden, n_actions); use the arguments, "
            "not hard-coded sizes.")


def _check_output(net: nn.Module, obs_dim: int, n_actions: int) -> None:
    """A (5, obs_dim) float32 batch gives (5, n_actions) float32 Q-values that carry gradients."""
    q_values = net(torch.randn(5, obs_dim))
    expect_tensor(q_values, f"the output for a batch of shape (5, {obs_dim})", (5, n_actions), torch.float32)
    expect(q_values.requires_grad,
           "the output does not require grad: forward ran under torch.no_grad() or detached its result.",
           "forward must stay differentiable so the network can be trained; use no_grad only when selecting actions.")


def _check_linear_output(net: nn.Module) -> None:
    """Shifting the last layer's bias by -1000 must shift every Q-value by -1000: no output activation."""
    states = 3 * torch.randn(64, 4)
    shifted = copy.deepcopy(net)
    with torch.no_grad():
        before = _q(net, states)
        _output_layer(shifted).bias -= 1000.0
        after = _q(shifted, states)
    if torch.allclose(after, before - 1000.0, atol=1e-2):
        return
    hint = " Hint: return the last nn.Linear's output as it is; Q-values are unbounded real numbers (and can be negative)."
    if any(torch.allclose(q.sum(dim=d), torch.ones(q.shape[1 - d])) for q in (before, after) for d in (0, 1)):
        raise Mistake("the Q-values sum to 1: there is a softmax on the output (that makes action "
                      "probabilities, a policy, not action values)." + hint)
    if torch.all(after == 0) and torch.any(before == 0):
        raise Mistake("the Q-values are clipped at 0: there is a ReLU after the last layer." + hint)
    if torch.all(before.abs() <= 1) and torch.all(after.abs() <= 1):
        raise Mistake("the Q-values stay within [-1, 1]: there is a squashing activation (sigmoid, tanh) on the output."
                      + hint)
    raise Mistake("the Q-values are not a linear function of the last layer's output." + hint)


def _output_layer(net: nn.Module) -> nn.Linear:
    """The linear layer that produces the 2 Q-values (layers may be registered in any order)."""
    return next(m for m in net.modules() if isinstance(m, nn.Linear) and m.out_features == 2)


def _check_relu_between(net: nn.Module) -> None:
    """The network must not be affine (activation missing) and, without biases, be positively homogeneous (ReLU)."""
    x, y = torch.randn(32, 4), torch.randn(32, 4)
    with torch.no_grad():
        zero = _q(net, torch.zeros(1, 4))
        gap = (_q(net, x + y) - _q(net, x) - _q(net, y) + zero).abs().max()
        expect(gap > 1e-4, "the network is affine: f(x + y) = f(x) + f(y) - f(0), so there is no activation "
               "between the layers.", "a stack of linear layers is one linear layer: apply ReLU after each hidden layer.")
        unbiased = copy.deepcopy(net)
        for layer in (m for m in unbiased.modules() if isinstance(m, nn.Linear)):
            layer.bias.zero_()
        homogeneous = torch.allclose(_q(unbiased, 2.5 * x), 2.5 * _q(unbiased, x), rtol=1e-4, atol=1e-5)
    expect(homogeneous, "the activation between the layers is not ReLU (with the biases set to 0, doubling the "
           "input does not double the output, as it would with ReLU).", "use torch.relu / nn.ReLU between the layers.")


def _check_function(net: nn.Module) -> None:
    """The output must be Linear, ReLU, Linear, ReLU, Linear of the network's own layers: no ReLU left out."""
    linears = _linears(net)
    first, last = next(m for m in linears if m.in_features == 4), _output_layer(net)
    middle = next(m for m in linears if m is not first and m is not last)
    states = 3 * torch.randn(64, 4)
    with torch.no_grad():
        got, expected = _q(net, states), last(torch.relu(middle(torch.relu(first(states)))))
        if torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
            return
        hint = " Hint: apply ReLU after each of the two hidden layers: Linear, ReLU, Linear, ReLU, Linear."
        name_the_mistake(lambda value: torch.allclose(got, value, rtol=1e-4, atol=1e-5), {
            "there is no ReLU between the first linear layer (4→128) and the second (128→128)." + hint:
                last(torch.relu(middle(first(states)))),
            "there is no ReLU between the second linear layer (128→128) and the last (128→2)." + hint:
                last(middle(torch.relu(first(states)))),
        }, f"the output differs by up to {(got - expected).abs().max():.3g} from Linear, ReLU, Linear, ReLU, Linear "
           "of the network's own layers. Hint: apply the three layers once each, in order, with ReLU after the two "
           "hidden ones and nothing else.",
            returned="QNetwork()'s output is not Linear, ReLU, Linear, ReLU, Linear of its layers: ")


class ScriptedQNet(nn.Module):
    """A stand-in Q-network with known Q-values (the first n_actions state entries) that records its calls."""

    def __init__(self, obs_dim: int = 4, n_actions: int = 3):
        """Q(s, a) = s[a]: a linear layer whose weights pick the first n_actions entries of the state."""
        super().__init__()
        self.linear = nn.Linear(obs_dim, n_actions, bias=False)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(n_actions, obs_dim))
        self.n_actions = n_actions
        self.calls = 0
        self.calls_with_grad = 0

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Q-values of `states`, counting calls and calls made while autograd was recording."""
        self.calls += 1
        self.calls_with_grad += int(torch.is_grad_enabled())
        return self.linear(states)


# Q-values = first three entries; rows chosen so that argmin and the argmax over the whole
# state differ from the right answer, and B = 5 differs from the 3 actions.
BATCH = torch.tensor([[0.1, 0.9, -0.3, 7.0],
                      [2.0, -1.0, 0.5, -7.0],
                      [-0.2, -0.4, -0.1, 3.0],
                      [0.3, 0.2, 0.1, 0.0],
                      [-5.0, 4.0, 4.5, 1.0]])


@exercise("3.2", "greedy_action / greedy_actions")
def check_greedy(greedy_action, greedy_actions) -> None:
    """Run both functions on a scripted Q-network whose greedy actions are known."""
    _check_one_state(greedy_action)
    _check_batch(greedy_actions, BATCH)


def _check_one_state(greedy_action) -> None:
    """One float64 NumPy state (as the env gives) → a Python int, under no_grad, from the q_net given."""
    for row in BATCH:
        net = ScriptedQNet()
        state = row.double().numpy()
        try:
            action = greedy_action(net, state)
        except (RuntimeError, TypeError) as error:
            if "dtype" in str(error) or "ndarray" in str(error) or "must be Tensor" in str(error):
                raise Mistake(f"greedy_action(q_net, state) with a NumPy float64 state raised {type(error).__name__}: "
                              f"{error}. Hint: convert first: torch.as_tensor(state, dtype=torch.float32).") from None
            raise
        except IndexError as error:
            raise Mistake(f"greedy_action(q_net, state) with a state of shape (4,) raised IndexError: {error}. "
                          "Hint: one state gives Q-values of shape (n_actions,): take argmax over the last dimension "
                          "(or unsqueeze(0) the state and index the result).") from None
        _expect_called_without_grad(net, "greedy_action")
        expected, shown = int(row[:3].argmax()), [round(q, 2) for q in row[:3].tolist()]
        value = _floating_number(action)
        if value is not None and np.isclose(value, float(row[:3].max())):
            raise Mistake(f"greedy_action returned {value:.4g} for Q-values {shown}: the largest Q-value itself; "
                          f"expected its index, the action {expected}. Hint: take the index of the maximum: "
                          "int(q_values.argmax()), or .max(0).indices instead of .max(0)[0].")
        action = plain_number(action, "greedy_action returned", "a Python int",
                              "env.step and ε-greedy code expect a plain int: use int(...) or .item().", types=(int,))
        if action != expected:
            name_the_mistake(lambda value: action == value, {
                "it picks the action with the lowest Q-value. Hint: argmax, not argmin.": int(row[:3].argmin()),
                "it looks at the whole state instead of the Q-values. Hint: take argmax of q_net(state).":
                    int(row.argmax()),
            }, f"greedy_action returned {action} for Q-values {shown}; expected {expected}.",
                returned=f"greedy_action returned {action} for Q-values {shown}; expected {expected}: ")


def _floating_number(value):
    """`value` as a float if it is one floating-point number (Python, NumPy or a one-element tensor), else None."""
    if type(value) in TENSOR_TYPES and value.numel() == 1 and value.is_floating_point():
        return float(value)
    return float(value) if is_plain(value, (float, np.floating)) else None  # type(): a subclass may rig __float__


def _check_batch(greedy_actions, states: torch.Tensor) -> None:
    """A (B, 4) float32 batch → a (B,) int64 tensor of per-row argmaxes, under no_grad."""
    net = ScriptedQNet()
    actions = greedy_actions(net, states.clone())
    _expect_called_without_grad(net, "greedy_actions")
    is_tensor = type(actions) in TENSOR_TYPES  # not isinstance: a subclass could rig shape, allclose and equal
    q_values = states[:, :3]
    batch = len(states)
    if is_tensor and actions.shape != (batch,):
        name_the_mistake(lambda value: tuple(actions.shape) == value, {
            "argmax over dim 0 picks a row per action. Hint: the actions are along dim 1: argmax(dim=1).": (3,),
            "argmax without dim returns one index into the flattened (B, n_actions) tensor. Hint: argmax(dim=1).": (),
        }, f"greedy_actions on a ({batch}, 4) batch returned shape {tuple(actions.shape)}; expected ({batch},). "
           f"Hint: {shape_hint(tuple(actions.shape), (batch,))}",
            returned=f"greedy_actions on a ({batch}, 4) batch returned shape {tuple(actions.shape)}; expected ({batch},): ")
    if is_tensor and actions.is_floating_point() and torch.allclose(
            actions.float(), q_values.max(dim=1).values):
        raise Mistake("greedy_actions returned the largest Q-values, not the actions. "
                      "Hint: .max(dim=1) gives (values, indices): take the indices, or use argmax(dim=1).")
    expect_tensor(actions, f"greedy_actions on a ({batch}, 4) batch", (batch,), torch.int64)
    expected = q_values.argmax(dim=1)
    if not torch.equal(actions, expected):
        name_the_mistake(lambda value: torch.equal(actions, value), {
            "it picks the lowest Q-value in each row. Hint: argmax, not argmin.": q_values.argmin(dim=1),
        }, f"greedy_actions returned {actions.tolist()}; expected {expected.tolist()}.",
            returned=f"greedy_actions returned {actions.tolist()}; expected {expected.tolist()}: ")


def _expect_called_without_grad(net: ScriptedQNet, name: str) -> None:
    """The q_net passed in must have been called, and only with autograd off."""
    expect(net.calls > 0, f"{name} never called the q_net it was given.",
           "use the q_net argument, not a network from the notebook's globals.")
    expect(net.calls_with_grad == 0, f"{name} called q_net with gradient tracking on.",
           "wrap the forward pass in `with torch.no_grad():`: selecting an action needs no gradient, and "
           "recording one wastes memory and time.")
