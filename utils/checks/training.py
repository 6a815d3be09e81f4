"""Checks for notebook 5: TD targets, one optimisation step, the target update (probe and judge, see protocol).

The check of the training loop (5.4) lives in utils.checks.loop and is listed here too.
"""
import inspect
import re
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils import dqn
from utils.checks.core import (TENSOR_TYPES, Mistake, describe, expect, name_the_mistake, plain_number, plain_tensor,
                               separated)
from utils.checks.protocol import Check, CheckError
from utils.checks.tensors import expect_tensor, shape_hint
from utils.networks import QNetwork
from utils.replay import Batch

GAMMA = 0.9
OTHER_GAMMA = 0.5
REWARDS = torch.tensor([1.0, 0.5, -1.0, 2.0, 1.0])
TERMINATED = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0])
FRESH_GAMMAS = (0.8, 0.85, 0.95)  # grading runs leave out the notebook's 0.9 and the usual slip 0.99
FRESH_OTHER_GAMMAS = (0.3, 0.4, 0.6)


def seeded(seed: int, build):
    """What `build()` returns when torch's generator starts from `seed` (the global generator is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def network_weights(net: nn.Module) -> dict:
    """A network's parameters as plain data: {name: tensor}."""
    return {name: param.detach().clone() for name, param in net.named_parameters()}


def q_network(sizes, weights: dict) -> QNetwork:
    """A QNetwork of `sizes` (obs_dim, n_actions, hidden) holding `weights`."""
    net = QNetwork(*[int(n) for n in sizes])
    net.load_state_dict(weights)
    return net


# --- 5.1 the TD target ----------------------------------------------------------------

class WatchedLinear(nn.Linear):
    """The target network 5.1 passes: a linear layer that counts its forward passes."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        """A layer holding `weight` and `bias`, not yet called."""
        super().__init__(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.weight.copy_(weight)
            self.bias.copy_(bias)
        self.calls = 0

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Count the call, then compute."""
        self.calls += 1
        return super().forward(states)


def targets_inputs(rng) -> dict:
    """The notebook's 5-transition batch (two terminal, 3 actions), or a fresh one on which every slip differs."""
    if rng is None:
        net = seeded(12, lambda: nn.Linear(4, 3))
        return {"rewards": REWARDS.clone(), "next_states": seeded(6, lambda: 2 * torch.randn(5, 4)),
                "terminated": TERMINATED.clone(), "weight": net.weight.detach().clone(),
                "bias": net.bias.detach().clone(), "gamma": GAMMA, "other_gamma": OTHER_GAMMA}
    for _ in range(1000):  # a few draws at most
        batch, obs_dim, n_actions = int(rng.integers(6, 10)), int(rng.integers(3, 7)), int(rng.integers(2, 5))
        terminated = np.zeros(batch, dtype=np.float32)
        terminated[rng.choice(batch, size=int(rng.integers(2, batch - 1)), replace=False)] = 1.0
        rewards = rng.choice([-1.0, -0.5, 0.5, 1.0, 1.5, 2.0], size=batch)  # never 0: a masked reward shows
        inputs = {"rewards": torch.tensor(rewards, dtype=torch.float32),
                  "next_states": torch.tensor(2 * rng.normal(size=(batch, obs_dim)), dtype=torch.float32),
                  "terminated": torch.from_numpy(terminated),
                  "weight": torch.tensor(0.7 * rng.normal(size=(n_actions, obs_dim)), dtype=torch.float32),
                  "bias": torch.tensor(0.3 * rng.normal(size=n_actions), dtype=torch.float32),
                  "gamma": float(rng.choice(FRESH_GAMMAS)), "other_gamma": float(rng.choice(FRESH_OTHER_GAMMAS))}
        expected = dqn.td_targets(inputs["rewards"], inputs["next_states"], inputs["terminated"], linear(inputs),
                                  inputs["gamma"])
        if separated([expected, *target_slips(inputs, inputs["gamma"]).values()]):
            break
    return inputs


def linear(inputs: dict) -> nn.Linear:
    """The target network of `inputs`, as a plain linear layer."""
    net = nn.Linear(inputs["weight"].shape[1], inputs["weight"].shape[0])
    with torch.no_grad():
        net.weight.copy_(inputs["weight"])
        net.bias.copy_(inputs["bias"])
    return net


def probe_targets(rec, inputs: dict, td_targets) -> None:
    """Call td_targets on copies of the batch (recording them and the target network's calls after), then variants."""
    net = WatchedLinear(inputs["weight"], inputs["bias"])
    given = [inputs[name].clone() for name in ("rewards", "next_states", "terminated")]
    targets = rec.call("targets", td_targets, *given, net, inputs["gamma"], expect_error=True)
    rec.note("inference tensor", type(targets) is torch.Tensor and targets.is_inference())
    rec.note("arguments after", given)
    rec.note("target_net calls", net.calls)
    rewards, states, terminated = (inputs[name].clone() for name in ("rewards", "next_states", "terminated"))
    rec.call("all terminal", td_targets, rewards, states, torch.ones_like(terminated), net, inputs["other_gamma"])
    rec.call("other gamma", td_targets, *(inputs[name].clone() for name in ("rewards", "next_states", "terminated")),
             net, inputs["other_gamma"])


def judge_targets(results, inputs: dict) -> None:
    """Compare the targets on a batch (some terminal) with r + γ(1 − terminated) max Q⁻, naming the usual slips."""
    rewards, states, terminated, gamma = (inputs[k] for k in ("rewards", "next_states", "terminated", "gamma"))
    size = (len(rewards),)
    _name_target_crash(results.raised("targets"), results.value("target_net calls"), len(rewards))
    got = _targets_tensor(results.value("targets"), size)
    after = results.value("arguments after")
    if type(after) is not list or len(after) != 3:
        raise CheckError("the check's probe recorded no readable arguments")
    for given, original, name in zip(after, (rewards, states, terminated), ("rewards", "next_states", "terminated")):
        expect(type(given) is torch.Tensor and given.shape == original.shape and torch.equal(given, original),
               f"td_targets changed its `{name}` argument in place.",
               "build a new tensor (rewards + ...) instead of writing into the arguments: the batch is reused.")
    _expect_target_shape(got, size, inputs["weight"].shape[0])
    expect(results.value("inference tensor") is not True, "the targets were made under torch.inference_mode(): "
           "such a tensor cannot be used by a loss that is trained (PyTorch: \"Inference tensors cannot be saved for "
           "backward\"), so training would fail at loss.backward().", "compute them under `with torch.no_grad():`, "
           "which the loss can use.")
    expect(not got.requires_grad, "the targets require grad: gradients would flow into the target network.",
           "compute the targets under `with torch.no_grad():` (or .detach() them): the target is a fixed label, "
           "only Q(s, a) of the online network is trained.")
    expect_tensor(got, "td_targets(...)", size, torch.float32)
    net = linear(inputs)
    expected = dqn.td_targets(rewards, states, terminated, net, gamma)
    if not torch.allclose(got, expected, atol=1e-5):
        _name_target_mistake(got, expected, inputs, results.value("target_net calls"))
    other = inputs["other_gamma"]
    all_terminal = _targets_tensor(results.value("all terminal"), size)
    expect(_same(all_terminal, rewards), f"with every transition terminated the targets were "
           f"{_round(all_terminal)}; expected the rewards {_round(rewards)}.",
           "a terminal next state has no future: its target is r alone.")
    other_gamma = _targets_tensor(results.value("other gamma"), size)
    wanted = dqn.td_targets(rewards, states, terminated, net, other)
    expect(_same(other_gamma, wanted), f"with gamma={other} the targets were {_round(other_gamma)}; expected "
           f"{_round(wanted)}.", "use the gamma argument, not a constant or a notebook global.")


def _targets_tensor(value, size: tuple) -> torch.Tensor:
    """What td_targets returned, if it is a plain tensor; else a Mistake saying what it is."""
    return plain_tensor(value, "td_targets returned", f"a tensor of shape {size}",
                        "a Python or NumPy value where a tensor is expected: keep everything in torch and return one "
                        "(B,) tensor (no .item(), .tolist() or .numpy()).")


def _same(got: torch.Tensor, wanted: torch.Tensor) -> bool:
    """Same shape and values up to float rounding."""
    return got.shape == wanted.shape and got.dtype.is_floating_point and torch.allclose(got, wanted, atol=1e-5)


def _name_target_crash(crash, target_calls, batch: int) -> None:
    """Name the crashes that max over the batch, .max's (values, indices) pair, a mask and other networks cause."""
    if not crash or crash.get("not_done") or crash.get("mistake"):
        return
    kind, message, where = crash.get("type"), str(crash.get("message", "")), str(crash.get("where", ""))
    if kind == "RuntimeError" and "mat1 and mat2" in message and target_calls == 0:
        raise Mistake(f"td_targets raised RuntimeError: {message}{where}, and target_net was never called: the "
                      "targets come from another network (q_net, or another network of the notebook?). Hint: "
                      "target_net(next_states), the argument.")
    sizes = [int(size) for size in re.findall(r"size of tensor [ab] \((\d+)\)", message)]
    masked = re.search(r"\[[^\]]*(terminated|done|mask|~)", where)  # the student's line indexes with the flags
    if kind == "RuntimeError" and "must match the size" in message and batch in sizes and min(sizes) < batch \
            and masked:
        raise Mistake(f"td_targets raised RuntimeError: {message}{where}: a masked selection of rows (the rows "
                      f"where terminated == 0, {min(sizes)} of {batch}) met a tensor of all {batch} rows. Hint: mask "
                      "with arithmetic on every row at once: r + gamma * (1 - terminated) * max_a' Q_target(s', a').")
    if kind == "RuntimeError" and "must match the size" in message:
        raise Mistake(f"td_targets raised RuntimeError: {message}. That is what max over dim 0 (the batch) gives: "
                      "one value per action, not per transition. Hint: take max over the actions, dim=1.")
    if kind == "IndexError" and "tensors used as indices must be" in message:
        raise Mistake(f"td_targets raised IndexError: {message}{where}: terminated is a float32 tensor of 1.0/0.0 "
                      "flags, and a float tensor cannot index. Hint: index with terminated.bool(), or mask with "
                      "arithmetic: r + gamma * (1 - terminated) * max_a' Q_target(s', a').")
    if kind == "TypeError" and any(words in message for words in ("return_types", "tuple", "converted to an index")):
        raise Mistake(f"td_targets raised TypeError: {message}. Hint: tensor.max(dim=1) returns (values, indices); "
                      "use .max(dim=1).values.")
    if kind == "RuntimeError" and "Boolean value of Tensor" in message:
        raise Mistake(f"td_targets raised RuntimeError: {message}{where}: `not terminated` or `if terminated:` asks "
                      "one truth value of a whole batch. Hint: mask with arithmetic on every row at once: "
                      "r + gamma * (1 - terminated) * max_a' Q_target(s', a').")
    if kind == "RuntimeError" and "where expected condition to be a boolean tensor" in message:
        raise Mistake(f"td_targets raised RuntimeError: {message}{where}: terminated is float32 (1.0 or 0.0). Hint: "
                      "torch.where(terminated.bool(), ...), or r + gamma * (1 - terminated) * max_a' Q_target(s', a').")
    if kind == "NameError" and "net" in message:
        raise Mistake(f"td_targets raised NameError: {message}{where}: it uses a network that is not one of its "
                      "arguments. Hint: the targets come from the target_net argument: target_net(next_states).")


def _expect_target_shape(got: torch.Tensor, size: tuple, n_actions: int) -> None:
    """(B,) expected; name (B, B) broadcasting and max over the wrong dimension."""
    shape, batch = tuple(got.shape), size[0]
    if shape == (batch, batch):
        raise Mistake(f"td_targets returned shape {shape}: a (B,) tensor was combined with a (B, 1) one and "
                      "broadcast silently to (B, B). Hint: keep every term (B,): max(dim=1).values, no keepdim or "
                      "unsqueeze.")
    if shape == (n_actions,):
        raise Mistake(f"td_targets returned shape {shape}, one value per action: the max was taken over the batch "
                      "(dim=0). Hint: max over the actions, dim=1.")
    expect(shape == size, f"td_targets returned shape {shape}; expected {size}, one target per transition.",
           shape_hint(shape, size))


def target_slips(inputs: dict, gamma: float) -> dict:
    """What each typical slip gives on the batch of `inputs`, keyed by its message."""
    rewards, terminated = inputs["rewards"], inputs["terminated"]
    with torch.no_grad():
        q_next = linear(inputs)(inputs["next_states"])
    best, alive = q_next.max(dim=1).values, 1.0 - terminated
    zeroed_by_index = best.clone()
    zeroed_by_index[terminated.long()] = 0.0
    return {
        "terminal states are not masked: the target bootstraps past the end of the episode. "
        "Hint: multiply the future term by (1 - terminated).": rewards + gamma * best,
        "the mask is inverted: only terminal states bootstrap. Hint: multiply by (1 - terminated), not terminated.":
            rewards + gamma * terminated * best,
        "the terminal mask multiplies the reward too, (1 - terminated) * (r + gamma * max ...): a terminal "
        "transition's target became 0 instead of its reward. Hint: mask only the future term: "
        "r + gamma * (1 - terminated) * max_a' Q_target(s', a').": alive * (rewards + gamma * best),
        "the mask multiplies the reward instead of the future term: terminal transitions lose their reward and "
        "still bootstrap. Hint: r + gamma * (1 - terminated) * max_a' Q_target(s', a').":
            alive * rewards + gamma * best,
        "it takes the smallest next Q-value. Hint: the Bellman optimality target uses max over a'.":
            rewards + gamma * alive * q_next.min(dim=1).values,
        "it averages over next actions (that is expected SARSA for a uniform policy). Hint: use max over a'.":
            rewards + gamma * alive * q_next.mean(dim=1),
        "it adds the index of the best action (argmax), not its value. Hint: use .max(dim=1).values.":
            rewards + gamma * alive * q_next.argmax(dim=1).float(),
        "it uses the Q-value of action 0 instead of the best one. Hint: take max over the actions, dim=1.":
            rewards + gamma * alive * q_next[:, 0],
        "it takes one max over the whole batch (no dim), so every row bootstraps from the same value. Hint: "
        "max over the actions of each row: .max(dim=1).values.": rewards + gamma * alive * q_next.max(),
        "the max is over dim 0, the batch (each action's best value over all transitions), then averaged into one "
        "number that every row shares. Hint: max over the actions of each row: .max(dim=1).values.":
            rewards + gamma * alive * q_next.max(dim=0).values.mean(),
        "the float terminated flags were used as indices: best[terminated.long()] = 0 zeroes rows 0 and 1, not the "
        "terminal rows, and terminal rows past 1 still bootstrap. Hint: mask by multiplying: r + gamma * (1 - terminated) "
        "* max_a' Q_target(s', a') (or index with terminated.bool()).": rewards + gamma * zeroed_by_index,
        "gamma is missing. Hint: y = r + gamma * (1 - terminated) * max_a' Q_target(s', a').": rewards + alive * best,
        "gamma multiplies the reward too. Hint: only the future term is discounted: r + gamma * (...).":
            gamma * (rewards + alive * best),
        "the reward is missing. Hint: y = r + gamma * (1 - terminated) * max_a' Q_target(s', a').":
            gamma * alive * best,
        "it uses gamma = 0.99 instead of the gamma argument. Hint: use the argument.": rewards + 0.99 * alive * best,
        "the future term is discounted by gamma ** 2, not gamma: one step ahead is one factor of gamma. Hint: "
        "y = r + gamma * (1 - terminated) * max_a' Q_target(s', a').": rewards + gamma ** 2 * alive * best,
    }


def _name_target_mistake(got: torch.Tensor, expected: torch.Tensor, inputs: dict, target_calls) -> None:
    """Raise a Mistake naming which wrong formula gives `got`."""
    returned = f"td_targets returned {_round(got)}, expected {_round(expected)}: "
    expect(target_calls != 0, returned + "target_net was never called, so the targets do not come from the target "
           "network (q_net, or another network of the notebook?).",
           "y = r + gamma * (1 - terminated) * max_a' Q_target(s', a') with target_net(next_states), the argument.")
    discount = _discount_used(got, inputs)
    fallback = (returned + f"the future term is discounted by {discount:.4g}, not by gamma = {inputs['gamma']}. Hint: "
                "multiply max_a' Q_target(s', a') by gamma itself, once: y = r + gamma * (1 - terminated) * max_a' "
                "Q_target(s', a')." if discount is not None else
                f"td_targets returned {_round(got)}; expected {_round(expected)}. "
                "Hint: y = r + gamma * (1 - terminated) * max_a' Q_target(s', a'), computed with the target_net "
                "argument.")
    name_the_mistake(lambda value: torch.allclose(got, value, atol=1e-5), target_slips(inputs, inputs["gamma"]),
                     fallback, returned=returned)


def _discount_used(got: torch.Tensor, inputs: dict) -> float | None:
    """The one factor c with got = r + c * (1 - terminated) * max Q⁻ on every row, if there is one; else None."""
    with torch.no_grad():
        best = linear(inputs)(inputs["next_states"]).max(dim=1).values.double()
    future, alive = got.double() - inputs["rewards"].double(), (1.0 - inputs["terminated"]).double()
    if alive.sum() == 0 or not torch.allclose(future * (1 - alive), torch.zeros_like(future), atol=1e-5):
        return None
    basis = alive * best
    factor = float((future @ basis) / (basis @ basis))
    return factor if torch.allclose(future, factor * basis, atol=1e-4) else None


check_td_targets = Check("5.1", "td_targets", targets_inputs, probe_targets, judge_targets,
                         references=("utils.dqn.td_targets", "utils.dqn.double_dqn_targets",
                                     "utils.dqn.compute_targets"))


# --- 5.2 the loss and one optimisation step ----------------------------------------------

LR = 0.1
STALE_GRAD = 0.3
MAX_GRAD_NORM = 0.05
ACTIONS = torch.tensor([0, 1, 1, 0, 0, 1])  # of 3 actions: a batch need not hold the last one (F.one_hot's default)
OFFSETS = torch.tensor([3.0, -0.2, 0.5, -2.5, 0.1, 4.0])  # |error| > 1 on half the rows: Huber ≠ MSE/2
STEP_RUNS = (("huber", "huber", False), ("mse", "mse", False), ("clipped", "huber", True))
"""(name, loss_kind, clipped) of the three steps the check takes, each from the same weights."""
UNCLIPPED_RUN = ("far", "mse", False)
"""A fourth step, max_grad_norm=None, with the targets far away: a gradient whose norm a default clip would cut."""
FAR = 1000.0


def step_inputs(rng) -> dict:
    """The notebook's seeded network and batch, or fresh ones on which every slip gives another loss or step."""
    if rng is None:
        net, states = seeded(7, lambda: (QNetwork(obs_dim=4, n_actions=3, hidden=8), torch.randn(6, 4)))
        return _step_inputs(net, states, ACTIONS.clone(), OFFSETS.clone(), LR, STALE_GRAD, MAX_GRAD_NORM)
    for _ in range(1000):  # a few draws at most
        obs_dim, n_actions = int(rng.integers(3, 7)), int(rng.integers(3, 5))
        hidden, batch = int(rng.integers(6, 11)), int(rng.integers(6, 10))
        net = seeded(int(rng.integers(2**31)), lambda: QNetwork(obs_dim, n_actions, hidden))
        states = torch.tensor(rng.normal(size=(batch, obs_dim)), dtype=torch.float32)
        # Never the last action, as in the notebook: F.one_hot(actions) without num_classes then has too few columns.
        actions = torch.as_tensor(rng.integers(n_actions - 1, size=batch))
        offsets = rng.uniform(1.5, 4.0, size=batch) * rng.choice([-1.0, 1.0], size=batch)
        offsets[rng.choice(batch, size=batch // 2, replace=False)] *= 0.1  # |error| < 1 on about half the rows
        inputs = _step_inputs(net, states, actions, torch.tensor(offsets, dtype=torch.float32),
                              float(rng.choice([0.05, 0.1, 0.2])), float(rng.choice([0.2, 0.3, 0.5])), 1.0)
        inputs["max_grad_norm"] = round(float(rng.uniform(0.2, 0.6)) * _gradient_norm(inputs), 4)
        if _step_separates(inputs):
            break
    return inputs


def _step_inputs(net, states, actions, offsets, lr, stale, max_grad_norm) -> dict:
    """The step check's inputs: the network's weights, a batch, targets Q(s, a) + offsets, the optimiser's settings."""
    with torch.no_grad():
        targets = net(states).gather(1, actions.unsqueeze(1)).squeeze(1) + offsets
    return {"sizes": [net.obs_dim, net.n_actions, net.hidden], "weights": network_weights(net), "states": states,
            "actions": actions, "targets": targets, "lr": lr, "stale": stale, "max_grad_norm": max_grad_norm}


def _gradient_norm(inputs: dict) -> float:
    """The norm of the Huber loss's gradient at the initial weights."""
    net = q_network(inputs["sizes"], inputs["weights"])
    _loss(_taken(net, inputs), inputs["targets"], "huber").backward()
    return float(torch.sqrt(sum((p.grad ** 2).sum() for p in net.parameters())))


def _step_separates(inputs: dict) -> bool:
    """Every slip gives another loss, and another step, than the right answer and the other slips."""
    for kind in ("huber", "mse"):
        losses = [_loss(_taken(q_network(inputs["sizes"], inputs["weights"]), inputs), inputs["targets"], kind),
                  *loss_slips(inputs, kind).values()]
        if not separated([v.detach().reshape(1) for v in losses], 1e-3):
            return False
    for kind, clipped in (("huber", False), ("huber", True), ("mse", False)):
        norm = inputs["max_grad_norm"] if clipped else None
        steps = [_reference_update(inputs, kind, norm), *update_slips(inputs, kind, norm).values()]
        if not separated([torch.cat([p.flatten() for p in step]) for step in steps], 1e-5):
            return False
    return True


def step_parts(inputs: dict):
    """A network with the inputs' weights, an SGD optimiser whose .grad holds stale values, the batch and targets."""
    net = q_network(inputs["sizes"], inputs["weights"])
    optimizer = torch.optim.SGD(net.parameters(), lr=inputs["lr"])
    for param in net.parameters():
        param.grad = torch.full_like(param, inputs["stale"])  # left over from a "previous step"
    states, actions = inputs["states"].clone(), inputs["actions"].clone()
    batch = Batch(states, actions, torch.zeros(len(actions)), torch.zeros_like(states), torch.zeros(len(actions)))
    return net, optimizer, batch, inputs["targets"].clone()


def probe_step(rec, inputs: dict, optimize_step) -> None:
    """Steps from the same weights (Huber, MSE, Huber clipped, MSE on far targets): the loss returned and the weights."""
    for name, kind, clipped in STEP_RUNS + (UNCLIPPED_RUN,):
        net, optimizer, batch, targets = step_parts(_far(inputs) if name == UNCLIPPED_RUN[0] else inputs)
        with warnings.catch_warnings():  # broadcasting warnings: the judge names the mistake
            warnings.simplefilter("ignore")
            rec.call(f"{name} loss", optimize_step, net, optimizer, batch, targets, loss_kind=kind,
                     max_grad_norm=inputs["max_grad_norm"] if clipped else None, expect_error=True)
        rec.note(f"{name} weights", list(net.parameters()))


def judge_step(results, inputs: dict) -> None:
    """One step with SGD from known weights: compare the loss returned and the weights after with the reference."""
    unnamed = {}  # a loss that a typical slip explains is named before any weight is compared
    for name, kind, clipped in STEP_RUNS:
        if not clipped and not results.raised(f"{name} loss"):
            try:
                _check_loss_value(results.value(f"{name} loss"), inputs, kind)
            except UnnamedLoss as error:
                unnamed[name] = error
    for name, kind, clipped in STEP_RUNS:
        norm = inputs["max_grad_norm"] if clipped else None
        _name_step_crash(results.raised(f"{name} loss"), norm)
        results.value(f"{name} loss")
        # a wrong order of steps explains a loss; a wrong loss, unless the order explains it, explains the weights
        _check_update(results.value(f"{name} weights"), inputs, kind, norm, unexplained=unnamed.get(name))
        if name in unnamed:
            raise Mistake(str(unnamed[name])) from None
    _judge_unclipped(results, inputs)


def _far(inputs: dict) -> dict:
    """The inputs with the targets moved FAR times further from the Q-values: an MSE gradient with a large norm."""
    return inputs | {"targets": FAR * inputs["targets"]}


def _judge_unclipped(results, inputs: dict) -> None:
    """With max_grad_norm=None and a large gradient, the step must be the full, unclipped one."""
    name, kind, _ = UNCLIPPED_RUN
    _name_step_crash(results.raised(f"{name} loss"), None)
    results.value(f"{name} loss")
    _check_update(results.value(f"{name} weights"), _far(inputs), kind, None, atol=1e-3)


def _clipped_although_none(got: list, inputs: dict, kind: str, atol: float) -> None:
    """A step along the full gradient but shorter, with max_grad_norm=None: clipped at some default norm."""
    start = [p.detach() for p in inputs["weights"].values()]
    full = _reference_update(inputs, kind, None)
    norm = lambda after: float(torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(after, start)))) / inputs["lr"]  # noqa: E731
    moved, wanted = norm(got), norm(full)
    if 0 < moved < 0.999 * wanted and all(torch.allclose(g - s, (f - s) * moved / wanted, rtol=1e-3, atol=atol)
                                          for g, f, s in zip(got, full, start)):
        raise Mistake(f"with max_grad_norm=None the step used a gradient of norm {moved:.4g} instead of {wanted:.4g}, "
                      "in the same direction: the gradient was clipped although max_grad_norm is None. Hint: None "
                      "means no clipping: call clip_grad_norm_ only `if max_grad_norm is not None` (no default such "
                      "as `max_grad_norm or 10`).")


def _name_step_crash(crash, max_grad_norm) -> None:
    """Name the crashes that a detached prediction, a wrong gather and clipping with None cause."""
    if not crash or crash.get("not_done") or crash.get("mistake"):
        return
    kind, message = crash.get("type"), str(crash.get("message", ""))
    if kind == "RuntimeError" and "does not require grad" in message:
        raise Mistake("loss.backward() found no gradient: the predicted Q-values were computed under "
                      "torch.no_grad() or detached. Hint: only the targets are computed without gradient; "
                      "Q(s, a) of q_net must stay differentiable.")
    if kind == "RuntimeError" and ("gather" in message or "index" in message.lower()):
        raise Mistake(f"optimize_step raised RuntimeError: {message}. Hint: pick the taken actions with "
                      "q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1).")
    if kind == "TypeError" and max_grad_norm is None and "NoneType" in message:
        raise Mistake(f"with max_grad_norm=None optimize_step raised TypeError: {message}. Hint: None means "
                      "no clipping: clip only `if max_grad_norm is not None`.")


def _taken(net: nn.Module, inputs: dict) -> torch.Tensor:
    """Q(s, a) of `net` for the batch's actions, (B,)."""
    return net(inputs["states"]).gather(1, inputs["actions"].unsqueeze(1)).squeeze(1)


def _loss(predicted, targets, kind, reduction="mean"):
    """Huber or MSE between `predicted` and `targets`, broadcasting as the student's code would."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        function = {"huber": F.smooth_l1_loss, "mse": F.mse_loss, "l1": F.l1_loss}[kind]
        return function(*torch.broadcast_tensors(predicted, targets), reduction=reduction)


def loss_slips(inputs: dict, kind: str) -> dict:
    """The loss each typical slip returns, keyed by its message."""
    net, targets = q_network(inputs["sizes"], inputs["weights"]), inputs["targets"]
    after = q_network(inputs["sizes"], dict(zip(inputs["weights"], _reference_update(inputs, kind, None))))
    with torch.no_grad():
        q_all, taken_after = net(inputs["states"]), _taken(after, inputs)
    taken, other = _taken(net, inputs).detach(), "mse" if kind == "huber" else "huber"
    slips = {
        f"it computes the {other} loss although loss_kind={kind!r}. Hint: pick F.smooth_l1_loss for 'huber' "
        "and F.mse_loss for 'mse'.": _loss(taken, targets, other),
        "the loss covers the Q-values of all actions, not only the ones taken. Hint: select Q(s, a) with "
        "q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1).": _loss(q_all, targets.unsqueeze(1), kind),
        "the predictions have shape (B, 1) and the targets (B,): the loss broadcast them silently to (B, B). "
        "Hint: .squeeze(1) after gather, so both are (B,).": _loss(taken.unsqueeze(1), targets, kind),
        "q_net(states)[:, actions] picks a (B, B) block (every state with every row's action), not one Q-value per "
        "row. Hint: q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1).":
            _loss(q_all[:, inputs["actions"]], targets, kind),
        "it uses max_a Q(s, a) instead of the action taken. Hint: the TD error is about the action in the "
        "batch: gather(1, actions.unsqueeze(1)).": _loss(q_all.max(dim=1).values, targets, kind),
        "gather picks along dim 0, the batch: row i gets Q(s_(actions[i]), 0), the first action's value of the "
        "state whose index is the action. Hint: gather along the actions, dim 1: "
        "q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1).":
            _loss(q_all.gather(0, inputs["actions"].unsqueeze(1)).squeeze(1), targets, kind),
        f"it computes F.l1_loss, the mean |δ|, although loss_kind={kind!r}"
        + (": Huber is F.smooth_l1_loss, quadratic for |δ| < 1 and linear beyond. Hint: F.smooth_l1_loss for "
           "'huber'." if kind == "huber" else ". Hint: F.mse_loss for 'mse'."): _loss(taken, targets, "l1"),
        "the loss is summed over the batch instead of averaged. Hint: use the mean (the default reduction), "
        "so the step size does not grow with the batch size.": _loss(taken, targets, kind, reduction="sum"),
        "it returns the loss after the step (computed again with the new weights). Hint: keep the loss computed "
        "before optimizer.step() and return loss.item().": _loss(taken_after, targets, kind),
    }
    slips["the mean loss is divided by the batch size again (a mean of a mean, or .sum() / B / B). Hint: "
          "F.smooth_l1_loss and F.mse_loss already average over the batch: use their value as it is."] = \
        _loss(taken, targets, kind) / len(targets)
    if kind == "mse":
        slips["the squared error is halved (0.5 * mean of δ²). Hint: F.mse_loss is the plain mean of δ²."] = \
            _loss(taken, targets, kind) / 2
        slips["it takes the square root of the mean squared error (an RMSE). Hint: the 'mse' loss is F.mse_loss, "
              "the mean of δ², with no root."] = _loss(taken, targets, kind).sqrt()
    else:
        delta = (taken - targets).abs()
        for beta in (0.5, 2.0):
            slips[f"F.smooth_l1_loss with beta={beta:g} is not the Huber loss the course uses, whose quadratic part "
                  "ends at |δ| = 1. Hint: F.smooth_l1_loss(predicted, targets) with its default beta=1."] = \
                F.smooth_l1_loss(taken, targets, beta=beta)
        slips["a hand-written Huber loss without its ½ (δ² for |δ| ≤ 1, |δ| beyond). Hint: Huber is ½δ² for "
              "|δ| ≤ 1 and |δ| − ½ beyond: F.smooth_l1_loss (beta=1) computes it."] = \
            torch.where(delta <= 1, delta**2, delta).mean()
    return slips


def _check_loss_value(loss, inputs: dict, kind: str) -> None:
    """The returned loss must be a Python float equal to the mean loss over the taken actions."""
    expect(type(loss) not in TENSOR_TYPES, f"optimize_step returned {describe(loss)}; expected a Python float.",
           "a tensor where a number is expected: return loss.item(). Keeping the tensor also keeps its whole "
           "computation graph alive, step after step.")
    loss = plain_number(loss, "optimize_step returned", "a Python float (the loss before the step)",
                        "return loss.item().")
    with torch.no_grad():
        expected = float(_loss(_taken(q_network(inputs["sizes"], inputs["weights"]), inputs), inputs["targets"], kind))
    if np.isclose(loss, expected, rtol=1e-4):
        return
    named = next((words for words, value in loss_slips(inputs, kind).items()
                  if np.isclose(loss, float(value), rtol=1e-4)), None)
    expect(named is None, f"optimize_step returned loss {loss:.5f}, expected {expected:.5f}: {named}")
    function = "F.smooth_l1_loss" if kind == "huber" else "F.mse_loss"
    raise UnnamedLoss(f"optimize_step returned loss {loss:.5f}; expected {expected:.5f} ({kind} between Q(s, a) of "
                      "the taken actions and the targets, averaged over the batch, before the step). Hint: predicted = "
                      "q_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1), then "
                      f"{function}(predicted, targets).")


class UnnamedLoss(Exception):
    """The loss is wrong in a way no typical mistake explains (yet)."""


def _reference_update(inputs: dict, kind: str, max_grad_norm, clip="norm", stale=0.0, optimizer="sgd") -> list:
    """Parameters after one step from the inputs' weights: clipped by norm or value, `stale` added to the gradient."""
    net = q_network(inputs["sizes"], inputs["weights"])
    _loss(_taken(net, inputs), inputs["targets"], kind).backward()
    if max_grad_norm is not None and clip == "norm":
        nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
    if max_grad_norm is not None and clip == "value":
        nn.utils.clip_grad_value_(net.parameters(), max_grad_norm)
    if optimizer == "adam":
        torch.optim.Adam(net.parameters()).step()
        return [p.detach() for p in net.parameters()]
    with torch.no_grad():
        return [p - inputs["lr"] * (p.grad + stale) for p in net.parameters()]


def update_slips(inputs: dict, kind: str, max_grad_norm) -> dict:
    """The weights after each typical slip's step, keyed by its message."""
    start = [p.detach() for p in inputs["weights"].values()]
    lr, stale = inputs["lr"], inputs["stale"]
    wrong = {
        "optimizer.zero_grad() is missing: the gradient left over from the previous step was added to the new one "
        "(PyTorch accumulates .grad). Hint: call optimizer.zero_grad() before loss.backward().":
            _reference_update(inputs, kind, max_grad_norm, stale=stale),
        "the weights did not change: no gradient reached them. Either the predicted Q-values were cut from q_net "
        "(.detach() or .data on them), or optimizer.step() is missing, runs before loss.backward() (just after "
        "zero_grad() there is no gradient to step on), or zero_grad() runs between backward() and step(). Hint: "
        "compute Q(s, a) from q_net(states) with gradient tracking on, then zero_grad(), backward(), (clip), step(), "
        "in that order.": start,
        "optimizer.step() ran before loss.backward(), so it used the stale gradient. Hint: zero_grad(), "
        "backward(), (clip), step(), in that order.": [p - lr * stale for p in start],
        "the weights moved as one step of a new Adam optimiser would move them: optimize_step creates its own "
        "optimiser instead of stepping the one it was given. Hint: use the optimizer argument (its learning rate "
        "and state belong to the training run).": _reference_update(inputs, kind, max_grad_norm, optimizer="adam"),
        "the weights moved twice as far as one step: optimizer.step() runs twice, or loss.backward() runs twice "
        "before the step (the gradients add up). Hint: one backward() and one step() per update.":
            [s + 2 * (r - s) for s, r in zip(start, _reference_update(inputs, kind, max_grad_norm))],
    }
    if max_grad_norm is None:
        return wrong
    return {
        f"max_grad_norm={max_grad_norm} had no effect: the gradient was not clipped (or was clipped before "
        "backward() / after step()). Hint: torch.nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm) "
        "between backward() and step().": _reference_update(inputs, kind, None),
        "each gradient entry was clipped to ±max_grad_norm (clip_grad_value_, as the seed did) instead of "
        "rescaling the whole gradient. Hint: use clip_grad_norm_, which keeps the gradient's direction.":
            _reference_update(inputs, kind, max_grad_norm, clip="value"),
        **wrong,
    }


def _check_update(weights, inputs: dict, kind: str, max_grad_norm, atol: float = 1e-6, unexplained=None) -> None:
    """Compare the weights after the student's step with one SGD step on fresh (clipped) gradients.

    `unexplained`, the message of a wrong loss no slip explains, is the message when no slip of the update does.
    """
    shapes = [p.shape for p in inputs["weights"].values()]
    expect(type(weights) is list and all(type(w) in TENSOR_TYPES for w in weights),
           "after optimize_step, q_net holds a parameter that is not an nn.Parameter.",
           "let the optimiser update the parameters in place; don't replace them.")
    got = [w.detach() for w in weights]

    def matches(expected) -> bool:
        return [g.shape for g in got] == shapes and all(torch.allclose(g, e, atol=atol) for g, e in zip(got, expected))

    if matches(_reference_update(inputs, kind, max_grad_norm)):
        return
    if max_grad_norm is None and [g.shape for g in got] == shapes:
        _clipped_although_none(got, inputs, kind, atol)
    name_the_mistake(matches, update_slips(inputs, kind, max_grad_norm), str(unexplained) if unexplained else
                     f"after one SGD step (lr={inputs['lr']}) the weights differ from those of one step on the {kind} "
                     "loss" + (f" with the gradient norm clipped to {max_grad_norm}" if max_grad_norm else "") + ". "
                     "Hint: optimizer.zero_grad(); loss.backward(); (clip); optimizer.step().")


check_optimize_step = Check("5.2", "optimize_step", step_inputs, probe_step, judge_step,
                            references=("utils.dqn.gradient_step", "utils.dqn.dqn_loss"))


# --- 5.3 the target-network update -------------------------------------------------------

TAU = 0.25
FRESH_TAUS = (0.1, 0.2, 0.3, 0.4, 0.6)  # never the notebook's 0.25, never 0.5 (where swapping τ changes nothing)


def update_inputs(rng) -> dict:
    """Two networks with different weights and τ: the notebook's seeded ones, or fresh ones."""
    if rng is None:
        target, online = seeded(8, lambda: (QNetwork(hidden=8), QNetwork(hidden=8)))
        return {"sizes": [4, 2, 8], "target": network_weights(target), "online": network_weights(online), "tau": TAU}
    sizes = [int(rng.integers(3, 6)), int(rng.integers(2, 4)), int(rng.integers(6, 11))]
    target, online = seeded(int(rng.integers(2**31)), lambda: (QNetwork(*sizes), QNetwork(*sizes)))
    return {"sizes": sizes, "target": network_weights(target), "online": network_weights(online),
            "tau": float(rng.choice(FRESH_TAUS))}


class LocalAtReturn:
    """While active, notes what the student's function's first parameter name is bound to when the function returns.

    `target_net = copy.deepcopy(q_net)` inside the function rebinds that local name only; the
    caller's network is untouched. A profile hook (call and return events, no line tracing)
    sees the name's final binding in the function's own frame.
    """

    def __init__(self, function):
        """Watch `function` (a Python function, or one wrapped by a decorator; anything else is not watched)."""
        try:
            function = inspect.unwrap(function)
        except ValueError:  # a cycle of __wrapped__: watch what was given
            pass
        code = getattr(function, "__code__", None)
        self.code = code if code is not None and code.co_argcount else None
        self.bound, self.returned = None, False

    def __enter__(self):
        """Start watching, keeping any profile hook already set."""
        self.previous = sys.getprofile()
        if self.code is not None:
            sys.setprofile(self.profile)
        return self

    def profile(self, frame, event, arg):
        """On the function's return: what its first parameter's name is bound to (the outermost call returns last)."""
        if event == "return" and frame.f_code is self.code:
            self.bound, self.returned = frame.f_locals.get(self.code.co_varnames[0]), True

    def __exit__(self, *exception):
        """Stop watching."""
        sys.setprofile(self.previous)
        return False

    def rebound(self, original) -> bool:
        """Did the function end with its first parameter's name bound to another object than `original`?"""
        return self.returned and self.bound is not original


def probe_update(rec, inputs: dict, update_target) -> None:
    """A soft update with the inputs' τ, then a hard one (τ = 1) and a move of q_net after it."""
    target, online = (q_network(inputs["sizes"], inputs[name]) for name in ("target", "online"))
    versions = _versions(online)
    with LocalAtReturn(update_target) as local:
        returned = rec.call("soft", update_target, target, online, inputs["tau"], expect_error=True)
    rec.note("soft online written", _versions(online) != versions)
    rec.note("soft rebound", local.rebound(target))
    rec.note("soft returned a network", isinstance(returned, nn.Module))
    rec.note("soft target", list(target.parameters()))
    rec.note("soft online", list(online.parameters()))
    target, online = (q_network(inputs["sizes"], inputs[name]) for name in ("target", "online"))
    with LocalAtReturn(update_target) as local:
        rec.call("hard", update_target, target, online, 1.0)
    rec.note("hard rebound", local.rebound(target))
    rec.note("hard target", list(target.parameters()))
    with torch.no_grad():
        for param in online.parameters():
            param.add_(1.0)  # training q_net after the copy must not move the target
    rec.note("target after q_net moved", list(target.parameters()))


def _versions(net: nn.Module) -> list:
    """How many in-place writes each parameter of `net` has had (PyTorch's version counters)."""
    return [int(getattr(param, "_version", 0)) for param in net.parameters()]


def judge_update(results, inputs: dict) -> None:
    """Polyak update with the inputs' τ, then a hard copy with τ = 1 that must not share memory."""
    tau, names = inputs["tau"], list(inputs["target"])
    old_target, old_online = list(inputs["target"].values()), list(inputs["online"].values())
    _name_update_crash(results.raised("soft"))
    results.value("soft")
    got = _parameters(results.value("soft target"), "target_net", old_target)
    expect(_close(_parameters(results.value("soft online"), "q_net", old_online), old_online),
           "update_target changed q_net: the update runs the wrong way.",
           "only target_net moves, towards q_net: θ⁻ ← τ·θ + (1 − τ)·θ⁻; q_net is only read.")
    expected = [tau * q + (1 - tau) * t for q, t in zip(old_online, old_target)]
    if not _close(got, expected):
        _name_update_mistake(results, got, old_target, old_online, names, tau)
    _name_update_crash(results.raised("hard"))
    results.value("hard")
    hard = _parameters(results.value("hard target"), "target_net", old_target)
    if not _close(hard, old_online):
        expect(not (_close(hard, old_target) and results.value("hard rebound")), REBOUND)
        raise Mistake("with tau=1 the target is not a copy of q_net. Hint: τ = 1 gives θ⁻ ← θ, the hard update "
                      "of Mnih et al. (2015).")
    expect(_close(_parameters(results.value("target after q_net moved"), "target_net", old_target), hard),
           "after the update target_net shares its tensors with q_net: training q_net moves the target too, so "
           "there is no target network any more.",
           "copy the values (param.copy_ / lerp_ / load_state_dict), don't assign tensors (target.data = param.data).")


REBOUND = ("target_net is unchanged: `target_net = ...` inside update_target (a copy.deepcopy(q_net), say) only "
           "rebinds the function's local name to a new network; the caller's target_net, which the loop uses, is "
           "not touched. Hint: copy the weights into it: target_net.load_state_dict(q_net.state_dict()), or "
           "target_param.copy_(...) / lerp_(...) under torch.no_grad().")


def _name_update_crash(crash) -> None:
    """Name the crash of an in-place write into a parameter that requires grad."""
    message = str(crash.get("message", "")) if crash and not crash.get("not_done") and not crash.get("mistake") else ""
    if crash and crash.get("type") == "RuntimeError" and ("leaf Variable" in message or "in-place" in message):
        raise Mistake(f"update_target raised RuntimeError: {message}. Hint: write into the parameters under "
                      "`with torch.no_grad():` (the update is not part of any gradient).")


def _parameters(values, name: str, like: list) -> list:
    """A network's recorded parameters, checked to be plain tensors shaped like `like` (a Mistake if not)."""
    expect(type(values) is list and all(type(v) in TENSOR_TYPES for v in values),
           f"after update_target, {name} holds a parameter that is not an nn.Parameter.",
           "write into the existing parameters (param.copy_ / lerp_ under torch.no_grad()); don't replace them.")
    expect([v.shape for v in values] == [p.shape for p in like], f"after update_target, {name}'s parameters have "
           f"shapes {[tuple(v.shape) for v in values]}; expected {[tuple(p.shape) for p in like]}.",
           "write into the existing parameters; don't replace them.")
    return [v.detach() for v in values]


def _name_update_mistake(results, got: list, old_target: list, old_online: list, names: list, tau: float) -> None:
    """Raise a Mistake naming why the soft update's target is not τ·θ + (1 − τ)·θ⁻."""
    if _close(got, old_target):
        expect(not results.value("soft rebound"), REBOUND)
        hard = results.value("hard target") if results.has("hard target") and not results.raised("hard") else None
        expect(hard is None or not _close(_parameters(hard, "target_net", old_target), old_online),
               f"with tau={tau} target_net is unchanged, while tau=1 copies q_net: only the hard update (τ = 1) is "
               "handled, the soft update is missing.", "for every τ mix the weights: θ⁻ ← τ·θ + (1 − τ)·θ⁻ "
               "(t.lerp_(q, tau) or t.copy_(tau * q + (1 - tau) * t) under torch.no_grad()); τ = 1 then gives the copy.")
        expect(not results.value("soft online written"), "target_net is unchanged, but q_net's parameters were "
               "written in place (with values equal to their own): the update writes into q_net instead of "
               "target_net, as zip(q_net.parameters(), q_net.parameters()) does.",
               "pair each target parameter with its q_net parameter and write into the target one: for t, q in "
               "zip(target_net.parameters(), q_net.parameters()): t.copy_(tau * q + (1 - tau) * t).")
        expect(not results.value("soft returned a network"), "target_net is unchanged: update_target returned a new "
               "network instead of updating target_net in place.", "write into target_net's parameters "
               "(param.lerp_ or param.copy_ under torch.no_grad()), or load_state_dict.")
    stale = [n for n, g, t in zip(names, got, old_target) if torch.equal(g, t)]
    if stale and len(stale) < len(names):
        raise Mistake(f"these parameters were not updated: {', '.join(stale)}. Hint: loop over all of "
                      "target_net.parameters() (weights and biases) together with q_net.parameters().")
    name_the_mistake(lambda value: _close(got, value), {
        "target_net is unchanged: nothing was written into its parameters (`t = ...` on a loop variable, or "
        "assigning into a state_dict() copy, changes no weight). Hint: write in place under torch.no_grad(): "
        "t.copy_(...) or t.lerp_(q, tau), or target_net.load_state_dict(...).": old_target,
        f"τ and 1 − τ are swapped: the target moved {1 - tau:.0%} of the way instead of {tau:.0%}. "
        "Hint: θ⁻ ← τ·θ + (1 − τ)·θ⁻ with a small τ.":
            [(1 - tau) * q + tau * t for q, t in zip(old_online, old_target)],
        f"the (1 − τ)·θ⁻ term is missing: the target became τ·θ = {tau}·θ, forgetting its own weights. Hint: "
        "θ⁻ ← τ·θ + (1 − τ)·θ⁻.": [tau * q for q in old_online],
        f"the τ·θ term is missing: the target became (1 − τ)·θ⁻, its own weights shrunk by {1 - tau:g}, without "
        "q_net. Hint: θ⁻ ← τ·θ + (1 − τ)·θ⁻.": [(1 - tau) * t for t in old_target],
        f"with tau={tau} the target was copied from q_net (a hard update). Hint: mix: τ·θ + (1 − τ)·θ⁻; "
        "only τ = 1 is a copy.": old_online,
        f"the update was applied twice: the target moved {1 - (1 - tau) ** 2:.0%} of the way instead of {tau:.0%}. "
        "Hint: one pass over the parameters, once per call.":
            [(1 - (1 - tau) ** 2) * q + (1 - tau) ** 2 * t for q, t in zip(old_online, old_target)],
    }, f"with tau={tau} the target is not τ·θ + (1 − τ)·θ⁻. Hint: θ⁻ ← τ·θ + (1 − τ)·θ⁻, parameter by "
       "parameter.")


def _close(a: list, b: list) -> bool:
    """Two parameter lists equal up to float rounding."""
    return len(a) == len(b) and all(x.shape == y.shape and torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b))


check_update_target = Check("5.3", "update_target", update_inputs, probe_update, judge_update,
                            references=("utils.dqn.soft_update", "utils.dqn.hard_update", "utils.dqn.update_target"))


def _round(values) -> list:
    """A tensor or list as a short list of rounded floats."""
    return [round(float(v), 3) for v in values]
