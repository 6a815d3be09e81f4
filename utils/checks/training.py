"""Checks for notebook 5: TD targets, one optimisation step, the target update, the training loop."""
import contextlib
import copy
import dataclasses
import inspect
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from utils import dqn
from utils.checks.core import (NUMBERS, Mistake, exercise, expect, expect_plain_parameters, name_the_mistake,
                               plain_number, plain_tensor, plain_values)
from utils.checks.tensors import describe, expect_tensor, shape_hint
from utils.networks import QNetwork
from utils.replay import Batch, ReplayMemory

GAMMA = 0.9
REWARDS = torch.tensor([1.0, 0.5, -1.0, 2.0, 1.0])
TERMINATED = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0])


def target_network(obs_dim: int = 4, n_actions: int = 3) -> nn.Module:
    """A small seeded linear 'target network': 3 actions, so B = 5 ≠ n_actions exposes wrong dims."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12)
        return nn.Linear(obs_dim, n_actions)


def next_states() -> torch.Tensor:
    """Five next states whose max, min, mean and first Q-values all differ."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(6)
        return 2 * torch.randn(5, 4)


# --- 5.1 the TD target ----------------------------------------------------------------

@exercise("5.1", "td_targets")
def check_td_targets(td_targets) -> None:
    """Compare the targets on a 5-transition batch (two terminal) with r + γ(1 − terminated) max Q⁻."""
    net, states = target_network(), next_states()
    inputs = (REWARDS.clone(), states.clone(), TERMINATED.clone())
    got = _call_td_targets(td_targets, *inputs, net, GAMMA)
    for given, original, name in zip(inputs, (REWARDS, states, TERMINATED), ("rewards", "next_states", "terminated")):
        expect(torch.equal(given, original), f"td_targets changed its `{name}` argument in place.",
               "build a new tensor (rewards + ...) instead of writing into the arguments: the batch is reused.")
    _expect_target_shape(got)
    expect(not got.requires_grad, "the targets require grad: gradients would flow into the target network.",
           "compute the targets under `with torch.no_grad():` (or .detach() them): the target is a fixed label, "
           "only Q(s, a) of the online network is trained.")
    expect_tensor(got, "td_targets(...)", (5,), torch.float32)
    with torch.no_grad():
        q_next = net(states)
    expected = dqn.td_targets(REWARDS, states, TERMINATED, net, GAMMA)
    if not torch.allclose(got, expected, atol=1e-5):
        _name_target_mistake(got, expected, q_next)
    all_terminal = _call_td_targets(td_targets, REWARDS.clone(), states.clone(), torch.ones(5), net, 0.5)
    expect(torch.allclose(all_terminal, REWARDS), f"with every transition terminated the targets were "
           f"{_round(all_terminal)}; expected the rewards {_round(REWARDS)}.",
           "a terminal next state has no future: its target is r alone.")
    other_gamma = _call_td_targets(td_targets, REWARDS.clone(), states.clone(), TERMINATED.clone(), net, 0.5)
    expect(torch.allclose(other_gamma, dqn.td_targets(REWARDS, states, TERMINATED, net, 0.5), atol=1e-5),
           f"with gamma=0.5 the targets were {_round(other_gamma)}; expected "
           f"{_round(dqn.td_targets(REWARDS, states, TERMINATED, net, 0.5))}.",
           "use the gamma argument, not a constant or a notebook global.")


def _call_td_targets(td_targets, rewards, states, terminated, net, gamma):
    """Call the student's function, naming the crashes that wrong dims and .max's tuple cause."""
    try:
        targets = td_targets(rewards, states, terminated, net, gamma)
    except RuntimeError as error:
        if "must match the size" in str(error):
            raise Mistake(f"td_targets raised RuntimeError: {error}. That is what max over dim 0 (the batch) gives: "
                          "one value per action, not per transition. Hint: take max over the actions, dim=1.") from None
        raise
    except TypeError as error:
        if any(words in str(error) for words in ("return_types", "tuple", "converted to an index")):
            raise Mistake(f"td_targets raised TypeError: {error}. Hint: tensor.max(dim=1) returns (values, indices); "
                          "use .max(dim=1).values.") from None
        raise
    return plain_tensor(targets, "td_targets returned", "a tensor of shape (5,)",
                        "a Python or NumPy value where a tensor is expected: keep everything in torch and return one "
                        "(B,) tensor (no .item(), .tolist() or .numpy()).")


def _expect_target_shape(got: torch.Tensor) -> None:
    """(5,) expected; name (5, 1), (5, 5) broadcasting and max over the wrong dimension."""
    shape = tuple(got.shape)
    if shape == (5, 5):
        raise Mistake("td_targets returned shape (5, 5): a (B,) tensor was combined with a (B, 1) one and broadcast "
                      "silently to (B, B). Hint: keep every term (B,): max(dim=1).values, no keepdim or unsqueeze.")
    if shape == (3,):
        raise Mistake("td_targets returned shape (3,), one value per action: the max was taken over the batch "
                      "(dim=0). Hint: max over the actions, dim=1.")
    expect(shape == (5,), f"td_targets returned shape {shape}; expected (5,), one target per transition.",
           shape_hint(shape, (5,)))


def _name_target_mistake(got: torch.Tensor, expected: torch.Tensor, q_next: torch.Tensor) -> None:
    """Raise a Mistake naming which wrong formula gives `got`."""
    best, alive = q_next.max(dim=1).values, 1.0 - TERMINATED
    name_the_mistake(lambda value: torch.allclose(got, value, atol=1e-5), {
        "terminal states are not masked: the target bootstraps past the end of the episode. "
        "Hint: multiply the future term by (1 - terminated).": REWARDS + GAMMA * best,
        "the mask is inverted: only terminal states bootstrap. Hint: multiply by (1 - terminated), not terminated.":
            REWARDS + GAMMA * TERMINATED * best,
        "it takes the smallest next Q-value. Hint: the Bellman optimality target uses max over a'.":
            REWARDS + GAMMA * alive * q_next.min(dim=1).values,
        "it averages over next actions (that is expected SARSA for a uniform policy). Hint: use max over a'.":
            REWARDS + GAMMA * alive * q_next.mean(dim=1),
        "it adds the index of the best action (argmax), not its value. Hint: use .max(dim=1).values.":
            REWARDS + GAMMA * alive * q_next.argmax(dim=1).float(),
        "it uses the Q-value of action 0 instead of the best one. Hint: take max over the actions, dim=1.":
            REWARDS + GAMMA * alive * q_next[:, 0],
        "gamma is missing. Hint: y = r + gamma * (1 - terminated) * max_a' Q_target(s', a').": REWARDS + alive * best,
        "gamma multiplies the reward too. Hint: only the future term is discounted: r + gamma * (...).":
            GAMMA * (REWARDS + alive * best),
        "the reward is missing. Hint: y = r + gamma * (1 - terminated) * max_a' Q_target(s', a').": GAMMA * alive * best,
        "it uses gamma = 0.99 instead of the gamma argument. Hint: use the argument.": REWARDS + 0.99 * alive * best,
    }, f"td_targets returned {_round(got)}; expected {_round(expected)}. "
       "Hint: y = r + gamma * (1 - terminated) * max_a' Q_target(s', a'), computed with the target_net argument.",
        returned=f"td_targets returned {_round(got)}, expected {_round(expected)}: ")


# --- 5.2 the loss and one optimisation step ----------------------------------------------

LR = 0.1
STALE_GRAD = 0.3
ACTIONS = torch.tensor([0, 2, 1, 0, 1, 2])
OFFSETS = torch.tensor([3.0, -0.2, 0.5, -2.5, 0.1, 4.0])  # |error| > 1 on half the rows: Huber ≠ MSE/2


def step_setup(n_actions: int = 3):
    """A seeded small Q-network, an SGD optimiser whose .grad holds stale values, a batch and targets."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        net = QNetwork(obs_dim=4, n_actions=n_actions, hidden=8)
        states = torch.randn(6, 4)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR)
    for param in net.parameters():
        param.grad = torch.full_like(param, STALE_GRAD)  # left over from a "previous step"
    with torch.no_grad():
        targets = net(states).gather(1, ACTIONS.unsqueeze(1)).squeeze(1) + OFFSETS
    batch = Batch(states, ACTIONS.clone(), torch.zeros(6), torch.zeros(6, 4), torch.zeros(6))
    return net, optimizer, batch, targets


@exercise("5.2", "optimize_step")
def check_optimize_step(optimize_step) -> None:
    """Run one step with SGD from known weights; compare the loss returned and the weights after."""
    for kind in ("huber", "mse"):
        net, optimizer, batch, targets = step_setup()
        before = copy.deepcopy(net)
        loss = _call_step(optimize_step, net, optimizer, batch, targets, kind, None)
        try:
            _check_loss_value(loss, before, batch, targets, kind)
        except UnnamedLoss as unnamed:
            _check_update(net, before, batch, targets, kind, None)  # a wrong order of steps explains the loss
            raise Mistake(str(unnamed)) from None
        _check_update(net, before, batch, targets, kind, None)
    net, optimizer, batch, targets = step_setup()
    before = copy.deepcopy(net)
    _call_step(optimize_step, net, optimizer, batch, targets, "huber", 0.05)
    _check_update(net, before, batch, targets, "huber", 0.05)


def _call_step(optimize_step, net, optimizer, batch, targets, kind, max_grad_norm):
    """Call the student's step (warnings about broadcasting silenced: the check names them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return optimize_step(net, optimizer, batch, targets, loss_kind=kind, max_grad_norm=max_grad_norm)
        except RuntimeError as error:
            if "does not require grad" in str(error):
                raise Mistake("loss.backward() found no gradient: the predicted Q-values were computed under "
                              "torch.no_grad() or detached. Hint: only the targets are computed without gradient; "
                              "Q(s, a) of q_net must stay differentiable.") from None
            if "gather" in str(error) or "index" in str(error).lower():
                raise Mistake(f"optimize_step raised RuntimeError: {error}. Hint: pick the taken actions with "
                              "q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1).") from None
            raise
        except TypeError as error:
            if max_grad_norm is None and "NoneType" in str(error):
                raise Mistake(f"with max_grad_norm=None optimize_step raised TypeError: {error}. Hint: None means "
                              "no clipping: clip only `if max_grad_norm is not None`.") from None
            raise


def _loss(predicted, targets, kind, reduction="mean"):
    """Huber or MSE between `predicted` and `targets`, broadcasting as the student's code would."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        function = F.smooth_l1_loss if kind == "huber" else F.mse_loss
        return function(*torch.broadcast_tensors(predicted, targets), reduction=reduction)


def _check_loss_value(loss, net, batch, targets, kind) -> None:
    """The returned loss must be a Python float equal to the mean loss over the taken actions."""
    expect(not isinstance(loss, torch.Tensor),
           f"optimize_step returned {describe(loss)}; expected a Python float.",
           "a tensor where a number is expected: return loss.item(). Keeping the tensor also keeps its whole "
           "computation graph alive, step after step.")
    loss = plain_number(loss, "optimize_step returned", "a Python float (the loss before the step)",
                        "return loss.item().")
    with torch.no_grad():
        q_all = net(batch.states)
    taken = q_all.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
    expected = float(_loss(taken, targets, kind))
    if np.isclose(loss, expected, rtol=1e-4):
        return
    other = "mse" if kind == "huber" else "huber"
    wrong = {
        f"it computes the {other} loss although loss_kind={kind!r}. Hint: pick F.smooth_l1_loss for 'huber' "
        "and F.mse_loss for 'mse'.": _loss(taken, targets, other),
        "the loss covers the Q-values of all actions, not only the ones taken. Hint: select Q(s, a) with "
        "q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1).": _loss(q_all, targets.unsqueeze(1), kind),
        "the predictions have shape (B, 1) and the targets (B,): the loss broadcast them silently to (B, B). "
        "Hint: .squeeze(1) after gather, so both are (B,).": _loss(taken.unsqueeze(1), targets, kind),
        "it uses max_a Q(s, a) instead of the action taken. Hint: the TD error is about the action in the "
        "batch: gather(1, actions.unsqueeze(1)).": _loss(q_all.max(dim=1).values, targets, kind),
        "the loss is summed over the batch instead of averaged. Hint: use the mean (the default reduction), "
        "so the step size does not grow with the batch size.": _loss(taken, targets, kind, reduction="sum"),
    }
    named = next((words for words, value in wrong.items() if np.isclose(loss, float(value), rtol=1e-4)), None)
    expect(named is None, f"optimize_step returned loss {loss:.5f}, expected {expected:.5f}: {named}")
    raise UnnamedLoss(f"optimize_step returned loss {loss:.5f}; expected {expected:.5f} ({kind} between Q(s, a) of "
                      "the taken actions and the targets, averaged over the batch, before the step).")


class UnnamedLoss(Exception):
    """The loss is wrong in a way no typical mistake explains (yet)."""


def _reference_update(net, batch, targets, kind, max_grad_norm, clip="norm", stale=0.0):
    """Parameters after one SGD step from `net`: clipped by norm or value, with `stale` added to the gradient."""
    fresh = copy.deepcopy(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss = _loss(fresh(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1), targets, kind)
    loss.backward()
    if max_grad_norm is not None and clip == "norm":
        nn.utils.clip_grad_norm_(fresh.parameters(), max_grad_norm)
    if max_grad_norm is not None and clip == "value":
        nn.utils.clip_grad_value_(fresh.parameters(), max_grad_norm)
    with torch.no_grad():
        return [p - LR * (p.grad + stale) for p in fresh.parameters()]


def _check_update(net, before, batch, targets, kind, max_grad_norm) -> None:
    """Compare the weights after the student's step with one SGD step on fresh (clipped) gradients."""
    got = [p.detach() for p in net.parameters()]

    def matches(expected) -> bool:
        return all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected))

    if matches(_reference_update(before, batch, targets, kind, max_grad_norm)):
        return
    start = [p.detach() for p in before.parameters()]
    wrong = {
        "optimizer.zero_grad() is missing: the gradient left over from the previous step was added to the new one "
        "(PyTorch accumulates .grad). Hint: call optimizer.zero_grad() before loss.backward().":
            _reference_update(before, batch, targets, kind, max_grad_norm, stale=STALE_GRAD),
        "the weights did not change: optimizer.step() is missing, or zero_grad() runs between backward() and "
        "step(). Hint: zero_grad(), backward(), (clip), step(), in that order.": start,
        "optimizer.step() ran before loss.backward(), so it used the stale gradient. Hint: zero_grad(), "
        "backward(), (clip), step(), in that order.": [p - LR * STALE_GRAD for p in start],
    }
    if max_grad_norm is not None:
        wrong = {
            f"max_grad_norm={max_grad_norm} had no effect: the gradient was not clipped (or was clipped before "
            "backward() / after step()). Hint: torch.nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm) "
            "between backward() and step().": _reference_update(before, batch, targets, kind, None),
            "each gradient entry was clipped to ±max_grad_norm (clip_grad_value_, as the seed did) instead of "
            "rescaling the whole gradient. Hint: use clip_grad_norm_, which keeps the gradient's direction.":
                _reference_update(before, batch, targets, kind, max_grad_norm, clip="value"),
            **wrong,
        }
    name_the_mistake(matches, wrong,
                     f"after one SGD step (lr={LR}) the weights differ from those of one step on the {kind} loss"
                     + (f" with the gradient norm clipped to {max_grad_norm}" if max_grad_norm else "") + ". "
                     "Hint: optimizer.zero_grad(); loss.backward(); (clip); optimizer.step().")


# --- 5.3 the target-network update -------------------------------------------------------

TAU = 0.25


def two_networks():
    """A target and an online network with different seeded weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(8)
        return QNetwork(hidden=8), QNetwork(hidden=8)


@exercise("5.3", "update_target")
def check_update_target(update_target) -> None:
    """Polyak update with τ = 0.25, then a hard copy with τ = 1 that must not share memory."""
    target, online = two_networks()
    old_target, old_online = copy.deepcopy(target), copy.deepcopy(online)
    returned = _call_update(update_target, target, online, TAU)
    expect(_same(online, old_online), "update_target changed q_net: the update runs the wrong way.",
           "only target_net moves, towards q_net: θ⁻ ← τ·θ + (1 − τ)·θ⁻; q_net is only read.")
    expected = [TAU * q + (1 - TAU) * t for q, t in zip(_params(old_online), _params(old_target))]
    got = _params(target)
    if not _close(got, expected):
        if _close(got, _params(old_target)) and isinstance(returned, nn.Module):
            raise Mistake("target_net is unchanged: update_target returned a new network instead of updating "
                          "target_net in place. Hint: write into target_net's parameters (param.lerp_ or "
                          "param.copy_ under torch.no_grad()), or load_state_dict.")
        names = [name for name, _ in target.named_parameters()]
        stale = [n for n, g, t in zip(names, got, _params(old_target)) if torch.equal(g, t)]
        if stale and len(stale) < len(names):
            raise Mistake(f"these parameters were not updated: {', '.join(stale)}. Hint: loop over all of "
                          "target_net.parameters() (weights and biases) together with q_net.parameters().")
        name_the_mistake(lambda value: _close(got, value), {
            "target_net is unchanged. Hint: update it in place; assigning `target_net = ...` inside the function "
            "only rebinds a local name.": _params(old_target),
            "τ and 1 − τ are swapped: the target moved 75% of the way instead of 25%. "
            "Hint: θ⁻ ← τ·θ + (1 − τ)·θ⁻ with a small τ.":
                [(1 - TAU) * q + TAU * t for q, t in zip(_params(old_online), _params(old_target))],
            f"with tau={TAU} the target was copied from q_net (a hard update). Hint: mix: τ·θ + (1 − τ)·θ⁻; "
            "only τ = 1 is a copy.": _params(old_online),
        }, f"with tau={TAU} the target is not τ·θ + (1 − τ)·θ⁻. Hint: θ⁻ ← τ·θ + (1 − τ)·θ⁻, parameter by parameter.")
    target, online = two_networks()
    _call_update(update_target, target, online, 1.0)
    expect(_close(_params(target), _params(online)), "with tau=1 the target is not a copy of q_net.",
           "τ = 1 gives θ⁻ ← θ, the hard update of Mnih et al. (2015).")
    with torch.no_grad():
        for param in online.parameters():
            param.add_(1.0)
    expect(not _close(_params(target), _params(online)),
           "after the update target_net shares its tensors with q_net: training q_net moves the target too, so "
           "there is no target network any more.",
           "copy the values (param.copy_ / lerp_ / load_state_dict), don't assign tensors (target.data = param.data).")


def _call_update(update_target, target, online, tau):
    """Call the student's update, naming the in-place-on-leaf crash; both networks must keep plain parameters."""
    try:
        returned = update_target(target, online, tau)
    except RuntimeError as error:
        if "leaf Variable" in str(error) or "in-place" in str(error):
            raise Mistake(f"update_target raised RuntimeError: {error}. Hint: write into the parameters under "
                          "`with torch.no_grad():` (the update is not part of any gradient).") from None
        raise
    for name, net in (("target_net", target), ("q_net", online)):  # compared next: a subclass could rig allclose
        expect_plain_parameters(net, f"after update_target, {name}", "write into the existing parameters "
                                "(param.copy_ / lerp_ under torch.no_grad()); don't replace them.")
    return returned


def _params(net: nn.Module) -> list:
    """Detached copies of a network's parameters."""
    return [p.detach().clone() for p in net.parameters()]


def _close(a: list, b: list) -> bool:
    """Two parameter lists equal up to float rounding."""
    return len(a) == len(b) and all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a, b))


def _same(net: nn.Module, other: nn.Module) -> bool:
    """Two networks with identical parameters."""
    return _close(_params(net), _params(other))


# --- 5.4 the training loop ---------------------------------------------------------------

TIME_LIMIT = 9
EPISODE_LENGTHS = (5, 9, 3, 7, 9, 4)  # 9 = TIME_LIMIT: those episodes are truncated, the rest terminate
LOOP_CONFIG = dqn.DQNConfig(max_env_steps=120, learning_starts=20, batch_size=8, train_every=2, gamma=0.9,
                            loss="mse", double_dqn=False, target_update_every=10, tau=1.0, eps_start=1.0,
                            eps_end=0.1, eps_decay_steps=50, hidden=8, max_grad_norm=5.0)
SPIED = ("epsilon_greedy_action", "optimize_step", "update_target")


class ScriptedEnv:
    """A stand-in CartPole with scripted episode lengths; states encode (episode, step); it records everything."""

    def __init__(self, lengths=EPISODE_LENGTHS):
        """No episode has started yet."""
        self.lengths, self.episode, self.t, self.done = lengths, -1, 0, True
        self.steps, self.actions, self.flags, self.observations, self.ends = 0, [], [], [], []
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)

    def state(self) -> np.ndarray:
        """The observation: (episode, step in episode, small values) so every state is unique."""
        return np.array([self.episode % 7, self.t / 10, 0.01 * self.t, -0.02 * self.t], dtype=np.float32)

    def reset(self, seed=None, options=None):
        """Start the next scripted episode."""
        self.episode, self.t, self.done = self.episode + 1, 0, False
        return self.state(), {}

    def step(self, action):
        """One step: reward 1; ends by termination, or by truncation at TIME_LIMIT."""
        if self.done:
            ended = "truncated" if self.flags[-1][1] else "terminated"
            raise Mistake(f"your loop stepped an episode that had already ended ({ended}). Hint: after "
                          "`terminated or truncated`, record the episode and call env.reset().")
        action = _loop_action(action, "your loop passed env.step")
        self.steps += 1
        self.t += 1
        length = self.lengths[self.episode % len(self.lengths)]
        terminated = self.t == length and length < TIME_LIMIT
        truncated = self.t == TIME_LIMIT
        self.done = terminated or truncated
        self.actions.append(action)
        self.flags.append((terminated, truncated))
        self.observations.append(self.state())
        if self.done:
            self.ends.append(self.steps)
        return self.state(), 1.0, terminated, truncated, {}


def _loop_action(action, passed: str) -> int:
    """An action the loop passed on, as a Python int; a Mistake unless it is a Python or NumPy int."""
    return plain_number(action, passed, "a Python int", "epsilon_greedy_action returns an int: pass it as it is.",
                        types=(int, np.integer))


class RecordingMemory(ReplayMemory):
    """A replay memory that remembers every push and the size of every sample."""

    def __init__(self, capacity: int, obs_dim: int = 4):
        """An empty memory with empty records."""
        super().__init__(capacity, obs_dim)
        self.pushed, self.sampled = [], []

    def push(self, state, action, reward, next_state, terminated):
        """Record the transition (its numbers checked to be plain ones: they are compared later), then store it."""
        action = _loop_action(action, "your loop pushed as the action")
        reward = plain_number(reward, "your loop pushed as the reward", "a number", "push the reward env.step returned.")
        terminated = plain_number(terminated, "your loop pushed as terminated", "a bool",
                                  "push the terminated flag env.step returned.", types=(bool, np.bool_, *NUMBERS))
        self.pushed.append((np.array(state, dtype=np.float32), action, reward,
                            np.array(next_state, dtype=np.float32), terminated))
        super().push(state, action, reward, next_state, terminated)

    def sample(self, batch_size):
        """Record the batch size, then sample."""
        self.sampled.append(batch_size)
        expect(batch_size <= len(self), f"the loop asked memory.sample for {batch_size} transitions when it had "
               f"pushed {len(self.pushed)} transitions.", "push every transition, and learn only after "
               "config.learning_starts steps (it is at least batch_size).")
        return super().sample(batch_size)


class LoopSpy:
    """Wraps the building blocks the loop calls and records, for each call, the env step it came at."""

    def __init__(self, env: ScriptedEnv, target_net: nn.Module, q_net: nn.Module, config: dqn.DQNConfig):
        """No call recorded yet."""
        self.env, self.target_net, self.q_net, self.config = env, target_net, q_net, config
        self.epsilons, self.act_states, self.act_rngs, self.returned_actions = [], [], [], []
        self.updates, self.target_updates, self.target_errors = [], [], []

    def epsilon_greedy_action(self, original):
        """Record ε and the state of each action choice."""
        def spy(q_net, state, epsilon, rng):
            self.epsilons.append((self.env.steps, plain_number(epsilon, "your loop passed epsilon_greedy_action "
                                                               "an epsilon that is", "a number (a float)")))
            self.act_states.append(np.array(state, dtype=np.float32))
            self.act_rngs.append(rng)
            action = original(q_net, state, epsilon, rng)
            self.returned_actions.append(_loop_action(action, "epsilon_greedy_action returned"))
            return action
        return spy

    def optimize_step(self, original):
        """Record when each update happens, and whether its targets come from the target network."""
        def spy(*args, **kwargs):
            bound = inspect.signature(original).bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            self.updates.append((self.env.steps, arguments))
            self.target_errors.append(self._targets_source(arguments))
            return original(*args, **kwargs)
        return spy

    def update_target(self, original):
        """Record when the target is updated, with which networks and τ."""
        def spy(target_net, q_net, tau):
            self.target_updates.append((self.env.steps, target_net, q_net,
                                        plain_number(tau, "your loop passed update_target a tau that is", "a float",
                                                     "pass config.tau.")))
            return original(target_net, q_net, tau)
        return spy

    def _targets_source(self, arguments: dict) -> str:
        """'' if the targets are TD targets from the target network; else what they are."""
        batch, targets = arguments.get("batch"), arguments.get("targets")
        if not isinstance(batch, Batch) or not isinstance(targets, torch.Tensor):
            return "optimize_step did not get a Batch from memory.sample and a targets tensor"
        given = [(name, getattr(batch, name)) for name in Batch._fields] + [("targets", targets)]
        odd = next((f"optimize_step got {name} that are {describe(value)}, not a plain tensor" for name, value in given
                    if type(value) is not torch.Tensor), "")  # a subclass could rig torch.allclose below
        if odd:
            return odd
        for name, net in (("target_net", self.target_net), ("q_net", self.q_net)):  # they give the reference targets
            expect_plain_parameters(net, f"during the loop {name}", "update the networks' parameters in place "
                                    "(optimizer.step, update_target); don't replace them.")
        if targets.requires_grad:
            return "the targets passed to optimize_step require grad (gradients would flow into the target network)"
        args, gamma = (batch.rewards, batch.next_states, batch.terminated), self.config.gamma
        plain = dqn.td_targets(*args, self.target_net, gamma)
        double = dqn.double_dqn_targets(*args, self.q_net, self.target_net, gamma)
        if torch.allclose(targets, double if self.config.double_dqn else plain, atol=1e-5):
            return ""
        if self.config.double_dqn and torch.allclose(targets, plain, atol=1e-5):
            return "with config.double_dqn = True the targets were plain TD targets"
        if not self.config.double_dqn and torch.allclose(targets, double, atol=1e-5):
            return "with config.double_dqn = False the targets were double-DQN targets"
        if torch.allclose(targets, dqn.td_targets(*args, self.q_net, gamma), atol=1e-5):
            return "the targets were computed with q_net instead of target_net"
        return f"the targets passed to optimize_step are not the {'double-DQN' if self.config.double_dqn else 'TD'} " \
               "targets of the batch (with target_net and config.gamma)"


@contextlib.contextmanager
def spying(function, spy: LoopSpy):
    """Replace the building blocks in the notebook namespace of `function` by recording wrappers."""
    namespace = getattr(function, "__globals__", {})
    missing = [name for name in SPIED if not callable(namespace.get(name))]
    expect(not missing, f"the check cannot find {', '.join(missing)} in your notebook.",
           "run the cells of exercises 5.2 and 5.3 and the import cell first; the loop calls the building blocks "
           "by these names.")
    saved = {name: namespace[name] for name in SPIED}
    for name in SPIED:
        namespace[name] = getattr(spy, name)(saved[name])
    try:
        yield
    finally:
        namespace.update(saved)


def loop_parts(config: dqn.DQNConfig = LOOP_CONFIG):
    """Fresh networks, optimiser, recording memory, scripted env and rng for one check run."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(9)
        q_net = QNetwork(hidden=config.hidden)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.lr)
    memory = RecordingMemory(config.buffer_capacity)
    return ScriptedEnv(), q_net, target_net, optimizer, memory, np.random.default_rng(0)


@exercise("5.4", "train_dqn")
def check_train_dqn(train_dqn) -> None:
    """Run the loop for 120 steps of scripted episodes; check steps, ε, what was stored, updates, targets."""
    env, q_net, target_net, optimizer, memory, rng = loop_parts()
    spy = LoopSpy(env, target_net, q_net, LOOP_CONFIG)
    with spying(train_dqn, spy), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        returns = train_dqn(env, LOOP_CONFIG, q_net, target_net, optimizer, memory, rng)
    n = LOOP_CONFIG.max_env_steps
    expect(env.steps == n, f"the loop took {env.steps} environment steps; expected config.max_env_steps = {n}.",
           "count every env.step across episodes and stop when the count reaches config.max_env_steps.")
    _check_actions(env, spy, rng)
    _check_epsilons(env, spy)
    _check_stored(env, memory)
    _check_updates(env, spy, memory, q_net, optimizer)
    _check_target_updates(env, spy, target_net, q_net)
    expect(all(p.grad is None or not p.grad.any() for p in target_net.parameters()),
           "target_net's parameters received gradients.", "compute the targets without gradient (td_targets).")
    _check_returns(env, returns)
    _check_double_and_soft(train_dqn)
    _check_episode_end_hook(train_dqn)


def _check_double_and_soft(train_dqn) -> None:
    """A second short run with double DQN and soft updates: the loop must follow those config fields too."""
    config = dataclasses.replace(LOOP_CONFIG, max_env_steps=60, double_dqn=True, tau=0.5, lr=0.05)
    env, q_net, target_net, optimizer, memory, rng = loop_parts(config)
    spy = LoopSpy(env, target_net, q_net, config)
    with spying(train_dqn, spy), torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        train_dqn(env, config, q_net, target_net, optimizer, memory, rng)
    problem = next((e for e in spy.target_errors if e), "")
    expect(not problem, problem + ".", "targets = double_dqn_targets(batch.rewards, batch.next_states, "
           "batch.terminated, q_net, target_net, config.gamma) when config.double_dqn is True.")
    taus = {tau for *_, tau in spy.target_updates}
    expect(taus == {0.5}, f"with config.tau = 0.5 update_target got tau = {sorted(taus)}.", "pass config.tau.")


class EpisodeEndSpy:
    """A stand-in for the course's greedy checks: records each call, asks to stop at call `stop_at`."""

    def __init__(self, env: ScriptedEnv, stop_at: int):
        """No call recorded yet."""
        self.env, self.stop_at, self.calls = env, stop_at, []

    def __call__(self, *args, **kwargs):
        """Record (env steps so far, arguments); True on the `stop_at`-th call."""
        self.calls.append((self.env.steps, args, kwargs))
        return len(self.calls) == self.stop_at


def _check_episode_end_hook(train_dqn) -> None:
    """on_episode_end(n, episode_return, epsilon, q_net) after every episode; stop when it returns True."""
    env, q_net, target_net, optimizer, memory, rng = loop_parts()
    hook = EpisodeEndSpy(env, stop_at=3)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            returns = train_dqn(env, LOOP_CONFIG, q_net, target_net, optimizer, memory, rng, on_episode_end=hook)
    except TypeError as error:
        if "on_episode_end" not in str(error):
            raise
        raise Mistake("train_dqn has no on_episode_end parameter, so the course's greedy checks cannot run "
                      "inside your loop. Hint: def train_dqn(env, config, q_net, target_net, optimizer, memory, "
                      "rng, on_episode_end=None).") from None
    expect(hook.calls, "on_episode_end was never called.", "when an episode ends, after recording its return: "
           "if on_episode_end is not None and on_episode_end(n, episode_return, epsilon, q_net): return the returns.")
    called_at = [steps for steps, _, _ in hook.calls]
    expect(called_at == env.ends[:len(called_at)], f"on_episode_end was called after steps {called_at[:5]}; the "
           f"episodes ended after steps {env.ends[:5]}.", "call it once per episode, when terminated or truncated.")
    ends = env.ends[:3]
    _, args, kwargs = hook.calls[0]
    expect(not kwargs and len(args) == 4, f"on_episode_end got {len(args)} positional and {len(kwargs)} keyword "
           "arguments; expected on_episode_end(n, episode_return, epsilon, q_net).", "pass the four, in that order.")
    n, episode_return, epsilon, net = args
    passed = "the first call passed on_episode_end"
    n = plain_number(n, passed + " an n that is", "an int, the global step count", types=(int, np.integer))
    episode_return = plain_number(episode_return, passed + " a return that is", "a number")
    epsilon = plain_number(epsilon, passed + " an epsilon that is", "a number (a float)")
    first_length = env.ends[0]
    expect(n == first_length and episode_return == float(first_length) and net is q_net,
           f"the first call was on_episode_end({n!r}, {episode_return!r}, {epsilon!r}, {describe(net)}); "
           f"expected on_episode_end({first_length}, {float(first_length)}, ε, q_net).",
           "n is the global step count, the return is the episode's sum of rewards, then ε and q_net.")
    expect(np.isclose(float(epsilon), _linear(first_length - 1)),
           f"on_episode_end got epsilon={float(epsilon):.3f}; expected the ε of the episode's last step, "
           f"{_linear(first_length - 1):.3f}.", "pass the epsilon you just acted with.")
    expect(env.steps == ends[2], f"on_episode_end returned True after step {ends[2]} but the loop went on to step "
           f"{env.steps}.", "if on_episode_end(...) returns True, stop and return the returns so far.")
    count = f"{len(returns)} returns" if type(returns) in (list, tuple, np.ndarray) else describe(returns)
    expect(count == "3 returns", f"after stopping at the 3rd episode train_dqn returned {count}; expected the 3 "
           "returns.",
           "append the episode's return before calling on_episode_end, then return the list when it says stop.")


def _check_actions(env: ScriptedEnv, spy: LoopSpy, rng) -> None:
    """One ε-greedy call per step, on the current state, with the rng given, its action sent to the env."""
    expect(len(spy.epsilons) == env.steps, f"epsilon_greedy_action was called {len(spy.epsilons)} times in "
           f"{env.steps} steps; expected once per step.",
           "choose every action with epsilon_greedy_action(q_net, state, epsilon, rng).")
    expect(all(r is rng for r in spy.act_rngs), "epsilon_greedy_action got another generator than the rng argument.",
           "pass the loop's rng argument: then one seed reproduces the run.")
    expect(env.actions == [int(a) for a in spy.returned_actions],
           "the actions sent to env.step are not the ones epsilon_greedy_action chose.",
           "action = epsilon_greedy_action(...); then env.step(action).")
    expected_states = _states_before_each_step(env)
    stale = next((k for k, (s, e) in enumerate(zip(spy.act_states, expected_states)) if not np.allclose(s, e)), None)
    expect(stale is None, f"at step {stale} the action was chosen for a state that is not the current one.",
           "after each step set state = next_state, and state = env.reset()[0] when an episode ends.")


def _states_before_each_step(env: ScriptedEnv) -> list:
    """The observation the agent saw before each step: the reset state or the previous step's."""
    first = np.array([0, 0, 0, 0], dtype=np.float32)
    states, episode = [first], 0
    for k, (terminated, truncated) in enumerate(env.flags[:-1]):
        if terminated or truncated:
            episode += 1
            states.append(np.array([episode % 7, 0, 0, 0], dtype=np.float32))
        else:
            states.append(env.observations[k])
    return states


def _check_epsilons(env: ScriptedEnv, spy: LoopSpy) -> None:
    """ε of step k must be epsilon_schedule(k) on the global step clock (k = steps taken before)."""
    c = LOOP_CONFIG
    got = [float(e) for _, e in spy.epsilons]
    expected = [_linear(k) for k in range(env.steps)]
    if np.allclose(got, expected, atol=1e-6):
        return
    starts = [0] + [end for end in env.ends if end < env.steps]
    start_of = [max(s for s in starts if s <= k) for k in range(env.steps)]
    episode_of = [sum(1 for s in starts[1:] if s <= k) for k in range(env.steps)]
    name_the_mistake(lambda value: np.allclose(got, value, atol=1e-6), {
        "ε never decays. Hint: epsilon = epsilon_schedule(step, config.eps_start, config.eps_end, "
        "config.eps_decay_steps) with the global step.": [c.eps_start] * env.steps,
        "ε stays at eps_end from the start: no exploration at all. Hint: start at config.eps_start and decay "
        "with the global step.": [c.eps_end] * env.steps,
        "ε restarts with every episode: it runs on the step within the episode. Hint: keep one global step "
        "counter across episodes.": [_linear(k - start_of[k]) for k in range(env.steps)],
        "ε runs on the seed's fake clock i_episode * 500 + t, which jumps 500 steps per episode (see the pitfall box). "
        "Hint: count the environment steps actually taken.":
            [_linear(500 * episode_of[k] + k - start_of[k]) for k in range(env.steps)],
        "ε is computed once per episode. Hint: compute it before every action.": [_linear(start_of[k]) for k in
                                                                                  range(env.steps)],
        "ε runs on the episode index, so it decays once per episode instead of once per step. Hint: "
        "epsilon_schedule(n - 1, ...) with n the global count of environment steps.":
            [_linear(episode_of[k]) for k in range(env.steps)],
        "ε runs one step ahead: the first action used epsilon_schedule(1). Hint: the step passed is the number of "
        "steps taken before this one, 0 for the first.": [_linear(k + 1) for k in range(env.steps)],
    }, f"the ε values used were {_round(got[:8])}...; expected epsilon_schedule(step, ...) at steps 0, 1, 2, ...: "
       f"{_round(expected[:8])}...",
        returned=f"the ε values used were {_round(got[:6])}..., expected {_round(expected[:6])}...: ")


def _linear(step: int) -> float:
    """The loop config's ε at a global step."""
    c = LOOP_CONFIG
    return c.eps_start + min(step / c.eps_decay_steps, 1.0) * (c.eps_end - c.eps_start)


def _check_stored(env: ScriptedEnv, memory: RecordingMemory) -> None:
    """One push per step, holding (state, action, reward, next_state, terminated) as the env gave them."""
    expect(len(memory.pushed) == env.steps, f"the loop pushed {len(memory.pushed)} transitions in {env.steps} "
           "steps; expected one per step.", "memory.push(state, action, reward, next_state, terminated) after "
           "every env.step.")
    states = _states_before_each_step(env)
    for k, (state, action, reward, next_state, terminated) in enumerate(memory.pushed):
        flag, cut = env.flags[k]
        if bool(terminated) != flag:
            expect(not cut, f"step {k + 1} was truncated at the time limit and the loop stored terminated=True: "
                   "truncation treated as termination, so the target would not bootstrap from a state that still "
                   "has a future.", "store `terminated`, not `terminated or truncated`; end the episode on either.")
            raise Mistake(f"step {k + 1} terminated but the loop stored terminated={terminated!r}. Hint: store the "
                          "`terminated` flag env.step returned.")
        expect(action == env.actions[k], f"transition {k + 1} stored action {action!r}; the env got {env.actions[k]}.",
               "store the action you passed to env.step.")
        expect(reward == 1.0, f"transition {k + 1} stored reward {reward!r}; the env gave 1.0.",
               "store the reward env.step returned.")
        expect(np.allclose(next_state, env.observations[k]), f"transition {k + 1} stored a next_state that is not "
               "the observation env.step returned" + (" (the reset state of the next episode?)" if flag or cut
                                                       else "") + ".",
               "push next_state = what env.step returned, before resetting.")
        expect(np.allclose(state, states[k]), f"transition {k + 1} stored a state that is not the one the action "
               "was taken in.", "push the state before env.step, then move on: state = next_state.")


def _check_updates(env: ScriptedEnv, spy: LoopSpy, memory: RecordingMemory, q_net, optimizer) -> None:
    """Updates after step n where n ≥ learning_starts and n % train_every == 0, each on a fresh batch."""
    c = LOOP_CONFIG
    got = [n for n, _ in spy.updates]
    expected = [n for n in range(1, env.steps + 1) if n >= c.learning_starts and n % c.train_every == 0]
    if got != expected:
        name_the_mistake(lambda value: got == value, {
            "optimize_step was never called. Hint: after learning_starts steps, one optimize_step every "
            "train_every steps.": [],
            "the loop learns once per episode, at its end. Hint: the update belongs inside the step loop.":
                [n for n in env.ends if n >= c.learning_starts],
            "it updates every step, ignoring config.train_every. Hint: update when step % config.train_every == 0.":
                [n for n in range(1, env.steps + 1) if n >= c.learning_starts],
            "it starts learning before config.learning_starts steps. Hint: first collect learning_starts steps.":
                [n for n in range(1, env.steps + 1) if n % c.train_every == 0 and n >= c.batch_size],
        }, f"optimize_step was called after steps {got[:6]}...; expected after steps {expected[:6]}... "
           "(step n counts env steps from 1; update when n >= learning_starts and n % train_every == 0).",
            returned=f"optimize_step was called after steps {got[:6]}..., expected {expected[:6]}...: ")
    expect(memory.sampled == [c.batch_size] * len(expected), f"memory.sample was asked for {memory.sampled[:4]}... "
           f"transitions; expected {c.batch_size} per update (config.batch_size).",
           "batch = memory.sample(config.batch_size), a fresh batch for every update.")
    first = spy.updates[0][1]
    expect(first.get("q_net") is q_net and first.get("optimizer") is optimizer,
           "optimize_step got another network or optimiser than the loop's q_net and optimizer arguments.",
           "optimize_step(q_net, optimizer, batch, targets, ...).")
    kind, norm = first.get("loss_kind"), first.get("max_grad_norm")
    # type() first: a str or float subclass could say == to anything
    expect(type(kind) is str and kind == c.loss and (norm is None if c.max_grad_norm is None else
                                                     type(norm) in (int, float) and norm == c.max_grad_norm),
           f"optimize_step got loss_kind={first.get('loss_kind')!r}, max_grad_norm={first.get('max_grad_norm')!r}; "
           f"the config says {c.loss!r} and {c.max_grad_norm!r}.",
           "pass loss_kind=config.loss and max_grad_norm=config.max_grad_norm.")
    problem = next((e for e in spy.target_errors if e), "")
    expect(not problem, problem + ".", "targets = td_targets(batch.rewards, batch.next_states, batch.terminated, "
           "target_net, config.gamma) when config.double_dqn is False.")


def _check_target_updates(env: ScriptedEnv, spy: LoopSpy, target_net, q_net) -> None:
    """The target is updated after every target_update_every-th env step, with (target_net, q_net, config.tau)."""
    c = LOOP_CONFIG
    got = [n for n, *_ in spy.target_updates]
    expected = list(range(c.target_update_every, env.steps + 1, c.target_update_every))
    if got != expected:
        name_the_mistake(lambda value: got == value, {
            "the target network is never updated. Hint: update_target(target_net, q_net, config.tau) when "
            "step % config.target_update_every == 0.": [],
            "the target network is updated once per episode, as in the seed notebook: with a small τ it "
            "then trails hundreds of episodes behind. Hint: count env steps: update when step % "
            "config.target_update_every == 0.": env.ends,
            "the target is updated every step, ignoring config.target_update_every. Hint: update when step % "
            "config.target_update_every == 0.": list(range(1, env.steps + 1)),
            "the target is updated only on learning steps. Hint: the target clock is the env step, independent "
            "of train_every.": [n for n in expected if n >= c.learning_starts and n % c.train_every == 0],
        }, f"update_target was called after steps {got[:6]}...; expected after steps {expected[:6]}...",
            returned=f"update_target was called after steps {got[:6]}..., expected {expected[:6]}...: ")
    _, target_arg, q_arg, tau = spy.target_updates[0]
    expect(target_arg is target_net and q_arg is q_net,
           "update_target got its networks the wrong way round (or other networks).",
           "update_target(target_net, q_net, config.tau): the target moves towards q_net.")
    expect(tau == c.tau, f"update_target got tau={tau!r}; the config says {c.tau!r}.", "pass config.tau.")


def _check_returns(env: ScriptedEnv, returns) -> None:
    """The list of finished episodes' returns, in order."""
    lengths = np.diff([0] + env.ends).tolist()
    got = plain_values(returns, "train_dqn returned", f"a list of episode returns {lengths}",
                       "append each finished episode's return to a list and return it.").tolist()
    if got != [float(n) for n in lengths]:
        name_the_mistake(lambda value: got == value, {
            "the unfinished last episode is included. Hint: record a return only when its episode ends.":
                lengths + [env.steps - sum(lengths)],
            "the returns are off by one. Hint: add each step's reward, the last one included.":
                [n - 1.0 for n in lengths],
            "the return is not reset between episodes. Hint: start each episode with episode_return = 0.0.":
                np.cumsum(lengths).tolist(),
        }, f"train_dqn returned {got}; the finished episodes had returns {lengths}.",
            returned=f"train_dqn returned {got}, expected {lengths}: ")


def _round(values) -> list:
    """A tensor or list as a short list of rounded floats."""
    return [round(float(v), 3) for v in values]
