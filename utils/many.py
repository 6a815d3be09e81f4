"""Many DQN agents trained at once in one process, one per config: `train_many`.

`train_many(configs)` trains one agent per `DQNConfig` of `configs`, all of one recipe
(only the fields of PER_AGENT_FIELDS may differ: the seed and, for sweeps, the learning
rate, γ and the ε schedule), and returns one `TrainResult` per agent, as `utils.dqn.train`
returns one. It is `train`'s loop, run for all agents in step:

- their networks are stacked (weights of shape (N, out, in)): one batched matrix product
  per layer (`torch.baddbmm`; a layer too small for it, such as the output layer on one
  state, agent by agent) chooses every agent's action, and one forward and backward pass
  and one Adam step train them all. Adam is elementwise, so each agent's slice of
  the stacked parameters gets exactly the step its own optimizer would give it, at its
  own learning rate; gradient clipping, too, is per agent.
- their environments step together, resetting an episode in the step that ends it, as
  `train` resets its env at once: plain CartPoles as arrays of states through gymnasium's
  own update (`utils.cartpole_physics.cartpole_steps`, the same numbers), any other env in a
  `gymnasium.vector.SyncVectorEnv` (autoreset mode SAME_STEP).
- each agent has its own ε-greedy generator, replay memory (drawn from its own torch
  random stream, the one `train` would use; uniform memories share stacked storage, so
  one gather serves all agents, and a prioritized one keeps its own sum-tree,
  vectorised over its minibatch as in `train`), n-step builder, exploration bonus and
  `TrainingMonitor`: the same greedy checks, best weights and stop as `train`. An agent
  that stops leaves the batch, so it costs nothing more.

With one torch thread, each agent's run is `train`'s for its config, bit for bit (same
weights, returns and checks, tests/test_many.py) whatever the other agents are: matrix
products are grouped so that each agent's sums are rounded as nn.Linear rounds them alone.
That holds for PyTorch 2.13 with MKL on x86, where it is tested (hidden sizes 32 to 256,
batch sizes 32 to 64); elsewhere, a BLAS that rounds batched and single products
differently would make runs differ in the last bits, and then, as any change does in RL,
in their course. Each agent's `wall_s` is the time
from the start of the batch until that agent stopped: shared with the others, it is not
a single run's time.
"""
import copy
import dataclasses
import functools
import time
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from torch import nn
from torch.optim.adam import adam

from utils.cartpole_physics import cartpole_steps, one_physics, time_limit
from utils.dqn import (LOSSES, CountBonus, DQNConfig, TrainingMonitor, TrainResult, compute_targets, q_values_taken,
                       run_parts, sample_batch, torch_threads, transition_writer, update_target)
from utils.policies import epsilon_schedule
from utils.replay import DiscountedBatch

PER_AGENT_FIELDS = ("seed", "lr", "gamma", "eps_start", "eps_end", "eps_decay_steps")
"""DQNConfig fields that may differ between the agents of one `train_many` call; every other field is shared."""

SMALL_PRODUCT = 400
"""torch multiplies batched matrices of fewer multiply-adds (rows · in · out) in a plain loop whose
sums round differently from nn.Linear's; such layers (a single state through the output layer)
therefore run agent by agent."""

ADAM_BLOCK = 64
"""torch's fused Adam rounds the SIMD-aligned part and the tail of a tensor differently: a stacked
parameter whose per-agent size is a multiple of this steps all agents at once, the others agent by agent."""


# --- Stacked networks ------------------------------------------------------------------

class StackedLinearFunction(torch.autograd.Function):
    """x·Wᵀ + b for each agent's rows (N, R, in) and weights (N, out, in), with nn.Linear's gradient products."""

    @staticmethod
    def forward(ctx, rows, weight, bias):
        """(N, R, out): agent k's rows times its own weight, plus its own bias."""
        ctx.save_for_backward(rows, weight)
        return stacked_linear(rows, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        """Gradients of rows, weight and bias, each product in the orientation nn.Linear computes it in."""
        rows, weight = ctx.saved_tensors
        # bmm's own backward forms the weight's gradient as xᵀ·grad and transposes it; nn.Linear
        # forms gradᵀ·x, which MKL sums in another order: this keeps each agent's gradient its own.
        grad_rows = torch.bmm(grad, weight) if ctx.needs_input_grad[0] else None
        return grad_rows, torch.bmm(grad.transpose(1, 2), rows), grad.sum(1, keepdim=True)


def stacked_linear(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(N, R, out): each agent's rows (N, R, in) times its own weight (N, out, in), plus its own bias (N, 1, out)."""
    if weight.shape[1] == 1:
        # One output (a value head): nn.Linear's product is then rounded as W·xᵀ, not as x·Wᵀ.
        return torch.baddbmm(bias.transpose(1, 2), weight, rows.transpose(1, 2)).transpose(1, 2)
    return torch.baddbmm(bias, rows, weight.transpose(1, 2))


class StackedLinear(nn.Module):
    """N linear layers of one shape, agent k's rows through layer k: weight (N, out, in), bias (N, 1, out)."""

    def __init__(self, layers: Sequence[nn.Linear]):
        """Stack the weights and biases of `layers` (copies: the layers stay as they are)."""
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach() for layer in layers]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in layers]).unsqueeze(1))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """(N·R, in) rows, agent k's R rows in the k-th block → (N·R, out)."""
        agents, out_features, in_features = self.weight.shape
        grouped = rows.reshape(agents, -1, in_features)
        if grouped.shape[1] * in_features * out_features < SMALL_PRODUCT:
            return self._agent_by_agent(grouped).reshape(-1, out_features)
        if torch.is_grad_enabled():
            return StackedLinearFunction.apply(grouped, self.weight, self.bias).reshape(-1, out_features)
        return stacked_linear(grouped, self.weight, self.bias).reshape(-1, out_features)

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the agents at `index`, in that order."""
        self.weight = nn.Parameter(self.weight.detach()[index])
        self.bias = nn.Parameter(self.bias.detach()[index])

    def _agent_by_agent(self, grouped: torch.Tensor) -> torch.Tensor:
        """Each agent's rows (N, R, in) through its own layer as nn.Linear computes them → (N, R, out).

        nn.Linear multiplies one state, a vector, as a one-row matrix: addmm gives its numbers.
        """
        return torch.stack([torch.addmm(b, x, w.t()) for x, w, b in zip(grouped, self.weight, self.bias)])


def stack_networks(networks: Sequence[nn.Module]) -> nn.Module:
    """One network computing all of `networks` (one architecture) at once, on (N·R, obs_dim) rows grouped by agent.

    A copy of the first network with each nn.Linear replaced by a StackedLinear of the
    N networks' layers: its forward is the networks' own (utils.networks), agent k's R
    rows in the k-th block of the input and of the output.
    """
    stacked = copy.deepcopy(networks[0])
    for name, module in networks[0].named_modules():
        if isinstance(module, nn.Linear):
            parent, _, child = name.rpartition(".")
            setattr(stacked.get_submodule(parent), child, StackedLinear([net.get_submodule(name) for net in networks]))
    others = [type(m).__name__ for m in stacked.modules()
              if not isinstance(m, StackedLinear) and list(m.parameters(recurse=False))]
    if others:
        raise TypeError(f"stack_networks stacks nn.Linear layers only; these layers have parameters too: {others}")
    return stacked


def stacked_layers(stacked: nn.Module) -> list:
    """(name, StackedLinear) of each stacked layer of `stacked`, in order."""
    return [(name, m) for name, m in stacked.named_modules() if isinstance(m, StackedLinear)]


def copy_agent_weights(stacked: nn.Module, k: int, network: nn.Module) -> None:
    """Copy agent k's weights from `stacked` into `network`, one of the networks it was stacked from."""
    with torch.no_grad():
        for name, layer in stacked_layers(stacked):
            own = network.get_submodule(name)
            own.weight.copy_(layer.weight[k])
            own.bias.copy_(layer.bias[k, 0])


# --- Optimizer, loss and gradient step -------------------------------------------------

class AgentsAdam:
    """Adam on the parameters of a stacked network: each agent's slice steps as `torch.optim.Adam(fused=True)`
    steps its own network, at the agent's own learning rate."""

    def __init__(self, network: nn.Module, lrs: Sequence[float], defaults: dict):
        """Zero moments for `network`'s parameters; `defaults` are a torch Adam's (betas, eps...), `lrs` per agent."""
        self.network, self.lrs, self.updates = network, list(lrs), 0
        self.options = {"beta1": defaults["betas"][0], "beta2": defaults["betas"][1], "eps": defaults["eps"],
                        "weight_decay": defaults["weight_decay"], "amsgrad": defaults["amsgrad"],
                        "maximize": defaults["maximize"]}
        self.exp_avgs = [torch.zeros_like(p) for p in network.parameters()]
        self.exp_avg_sqs = [torch.zeros_like(p) for p in network.parameters()]
        self._plan()

    def zero_grad(self) -> None:
        """Drop the gradients (as `Optimizer.zero_grad(set_to_none=True)`)."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """One Adam step for every agent: one call per run of consecutive agents that share a learning rate."""
        for lr, first, stop, (params, exp_avgs, exp_avg_sqs), steps in self.runs:
            grads = [block for param in self.params for block in agent_blocks(param.grad, first, stop)]
            adam(params, grads, exp_avgs, exp_avg_sqs, [], steps, fused=True, lr=lr, **self.options)
        self.updates += 1

    def keep(self, index: torch.Tensor) -> None:
        """Keep only the agents at `index` (after the network kept them)."""
        self.exp_avgs = [t[index] for t in self.exp_avgs]
        self.exp_avg_sqs = [t[index] for t in self.exp_avg_sqs]
        self.lrs = [self.lrs[k] for k in index.tolist()]
        self._plan()

    def _plan(self) -> None:
        """For each run of agents sharing a learning rate: its blocks of parameters and moments, and step counts."""
        self.params = list(self.network.parameters())
        self.runs = []
        for lr, first, stop in runs_of_equal(self.lrs):
            blocks = [[block for t in column for block in agent_blocks(t.detach(), first, stop)]
                      for column in (self.params, self.exp_avgs, self.exp_avg_sqs)]
            # Adam's step count, kept as torch's Adam keeps it: a float32 per tensor, counted up by each step.
            steps = [torch.tensor(float(self.updates)) for _ in blocks[0]]
            self.runs.append((lr, first, stop, blocks, steps))


def runs_of_equal(values: list) -> list:
    """(value, first, stop) for each run of consecutive equal values."""
    runs, first = [], 0
    for k in range(1, len(values) + 1):
        if k == len(values) or values[k] != values[first]:
            runs.append((values[first], first, k))
            first = k
    return runs


def agent_blocks(stacked: torch.Tensor, first: int, stop: int) -> list:
    """Agents first..stop-1 of a stacked tensor: one slice if each agent fills whole ADAM_BLOCKs, else one each."""
    if stacked[0].numel() % ADAM_BLOCK == 0:
        return [stacked[first:stop]]
    return list(stacked[first:stop])


def agents_loss(predicted: torch.Tensor, targets: torch.Tensor, kind: str, weights: Optional[torch.Tensor],
                agents: int) -> torch.Tensor:
    """Σ over agents of `dqn_loss` on each agent's own rows: the sum leaves each agent's gradient its own.

    One elementwise loss for all rows, then each agent's mean: each row's gradient is the
    one `dqn_loss` gives it alone, bit for bit (tests/test_many.py), at one autograd node
    instead of one per agent.
    """
    per_row = LOSSES[kind](predicted, targets, reduction="none")
    if weights is not None:
        per_row = weights * per_row
    return per_row.view(agents, -1).mean(1).sum()


def clip_per_agent(network: nn.Module, max_norm: float) -> None:
    """Clip each agent's gradient to global norm `max_norm`, as `nn.utils.clip_grad_norm_` clips one network's."""
    grads = [p.grad for p in network.parameters()]
    for k in range(grads[0].shape[0]):
        own = [g[k] for g in grads]
        total = nn.utils.get_total_norm(own, foreach=True)
        scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)  # clip_grad_norm_'s own formula
        for grad in own:
            grad.mul_(scale)


# --- The agents ------------------------------------------------------------------------

class Agent:
    """One agent of a batch: what `train` builds for one run, and that run's running episode."""

    def __init__(self, index: int, config: DQNConfig, on_episode: Optional[Callable], on_step: Optional[Callable]):
        """Agent `index` of the batch: its run's parts (`run_parts`, as `train`), memory writer, bonus and monitor."""
        parts = run_parts(config)
        self.index, self.config, self.env, self.rng, self.q_net, self.memory = (
            index, config, parts.env, parts.rng, parts.q_net, parts.memory)
        self.adam_defaults = parts.optimizer.defaults
        # `train` samples its memory from torch's global generator, continuing from here.
        self.torch_rng = torch.get_rng_state()
        self.remember = transition_writer(parts.memory, config)
        self.bonus = CountBonus.for_env(parts.env, config) if config.count_bonus > 0 else None
        self.monitor = TrainingMonitor(config, on_episode)
        self.on_step = on_step
        self.episode_return, self.epsilon = 0.0, None

    def explores(self, step: int) -> bool:
        """Set ε for global `step` (`train`'s clock) and draw whether to explore: epsilon_greedy_action's 1st draw."""
        config = self.config
        self.epsilon = epsilon_schedule(step - 1, config.eps_start, config.eps_end, config.eps_decay_steps)
        return self.rng.random() < self.epsilon

    def action(self, explore: bool, greedy_action: Optional[int]) -> int:
        """A uniformly random action if `explore` (epsilon_greedy_action's second draw), else `greedy_action`."""
        return int(self.rng.integers(self.q_net.n_actions)) if explore else greedy_action

    def observe(self, state, action: int, reward: float, next_state, terminated: bool, truncated: bool) -> None:
        """Store one env step (with the bonus, if any, in the reward learned from) and add its reward to the return."""
        learned_reward = reward + self.bonus(next_state) if self.bonus is not None else reward
        self.remember(state, action, learned_reward, next_state, terminated, truncated)
        if self.on_step is not None:
            self.on_step(state, action, reward, next_state, terminated, truncated)
        self.episode_return += reward

    def sample(self, step: int):
        """A minibatch as `train` draws it at `step`, from this agent's own torch random stream."""
        torch.set_rng_state(self.torch_rng)
        batch = sample_batch(self.memory, self.config, step)
        self.torch_rng = torch.get_rng_state()
        return batch


class AgentBatch:
    """The agents still training: their stacked networks, optimizer, vector env and current states."""

    def __init__(self, agents: list):
        """Stack the agents' networks (the target a copy), build the optimizer and the vector env, reset every env."""
        self.agents = agents
        self.q_net = stack_networks([agent.q_net for agent in agents])
        self.target_net = copy.deepcopy(self.q_net)
        self.optimizer = AgentsAdam(self.q_net, [agent.config.lr for agent in agents], agents[0].adam_defaults)
        envs = [agent.env for agent in agents]
        self.envs = CartPoleArrays(envs) if one_physics(envs) else VectorEnv(envs)
        self.states = self.envs.reset()
        # Prioritized memories keep a sum-tree each; uniform ones (plain or n-step) share their storage.
        self.memories = None if agents[0].config.prioritized else SharedMemories(agents)
        self.gammas = row_gammas(agents)

    def act(self, step: int) -> np.ndarray:
        """Every agent's ε-greedy action at `step`; one forward pass over all agents' states, unless all explore."""
        explore = [agent.explores(step) for agent in self.agents]
        greedy = [None] * len(self.agents)
        if not all(explore):
            with torch.no_grad():
                greedy = self.q_net(torch.from_numpy(self.states)).argmax(dim=1).tolist()
        return np.array([agent.action(*choice) for agent, choice in zip(self.agents, zip(explore, greedy))])

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Step every env, give each agent its transition; returns which episodes ended."""
        next_states, rewards, terminated, truncated, last_states = self.envs.step(actions)
        for k, agent in enumerate(self.agents):
            agent.observe(self.states[k], int(actions[k]), float(rewards[k]), last_states[k],
                          bool(terminated[k]), bool(truncated[k]))
        self.states = next_states
        return terminated | truncated

    def learn(self, step: int) -> None:
        """One gradient step for every agent on a minibatch of its own memory (and new priorities, if prioritized)."""
        if self.memories is not None:
            batch, weights = self.memories.sample(self.agents, self.gammas), None
        else:
            batches = [agent.sample(step) for agent in self.agents]
            batch, weights = stack_prioritized(batches)
        config = self.agents[0].config
        targets = compute_targets(batch, self.q_net, self.target_net, config)
        predicted = q_values_taken(self.q_net, batch.states, batch.actions)
        loss = agents_loss(predicted, targets, config.loss, weights, len(self.agents))
        self.optimizer.zero_grad()
        loss.backward()
        if config.max_grad_norm is not None:
            clip_per_agent(self.q_net, config.max_grad_norm)
        self.optimizer.step()
        if weights is not None:
            td_errors = (targets - predicted.detach()).view(len(self.agents), -1)
            for agent, own_batch, own_errors in zip(self.agents, batches, td_errors):
                agent.memory.update_priorities(own_batch.indices, own_errors)

    def update_target(self) -> None:
        """`train`'s target update (hard copy or Polyak), for every agent at once."""
        update_target(self.target_net, self.q_net, self.agents[0].config.tau)

    def sync(self, k: int) -> nn.Module:
        """Agent k's own network, with its current weights copied out of the stack."""
        copy_agent_weights(self.q_net, k, self.agents[k].q_net)
        return self.agents[k].q_net

    def finish(self, k: int, step: int, wall_s: float) -> tuple:
        """(agent k's index in the configs, its TrainResult): it stopped at `step`, `wall_s` after the batch started."""
        agent = self.agents[k]
        result = agent.monitor.result(self.sync(k), env_steps=step, updates=self.optimizer.updates, wall_s=wall_s)
        agent.env.close()
        return agent.index, result

    def keep(self, kept: list) -> None:
        """Keep only the agents at positions `kept`: the others leave the networks, the optimizer and the vector env."""
        index = torch.tensor(kept, dtype=torch.int64)
        for network in (self.q_net, self.target_net):
            for _, layer in stacked_layers(network):
                layer.keep(index)
        self.optimizer.keep(index)
        self.agents = [self.agents[k] for k in kept]
        self.states = self.states[kept]
        self.envs.keep(kept)
        self.gammas = row_gammas(self.agents)


def row_gammas(agents: list) -> torch.Tensor:
    """Each agent's γ, once per row of its minibatches: the discount of a one-step transition."""
    gammas = torch.tensor([agent.config.gamma for agent in agents], dtype=torch.float32)
    return gammas.repeat_interleave(agents[0].config.batch_size)


class VectorEnv:
    """The agents' own seeded envs stepped together by a SyncVectorEnv that resets an episode in the step ending it."""

    def __init__(self, envs: list):
        """A SyncVectorEnv over `envs` (not reset yet)."""
        self.envs = list(envs)
        self.vector = SyncVectorEnv([functools.partial(lambda env: env, env) for env in self.envs],
                                    autoreset_mode=AutoresetMode.SAME_STEP)
        self.num_envs = len(self.envs)

    def reset(self) -> np.ndarray:
        """Reset every env; their first observations (N, obs_dim)."""
        return self.vector.reset()[0]

    def step(self, actions: np.ndarray) -> tuple:
        """Step every env: (observations to act on, rewards, terminated, truncated, each step's own observation)."""
        observations, rewards, terminated, truncated, info = self.vector.step(actions)
        ended = terminated | truncated
        last = observations.copy()
        if ended.any():
            # The env has already started its next episode: the step's own observation is the final one.
            last[ended] = np.stack(info["final_obs"][ended])
        return observations, rewards, terminated, truncated, last

    def keep(self, kept: list) -> None:
        """Keep only the envs at positions `kept` (each mid-episode, as it was)."""
        self.__init__([self.envs[k] for k in kept])


class CartPoleArrays:
    """`VectorEnv` for plain CartPoles of one physics (`one_physics`): every state stepped as arrays by
    `cartpole_steps`, gymnasium's own update, and each ended episode reset by its own env, so the numbers are
    VectorEnv's. The envs' own step is never called: a SyncVectorEnv's bookkeeping cost more than the physics."""

    def __init__(self, envs: list):
        """The CartPoles `envs`, not reset yet."""
        self.envs = list(envs)
        self.physics, self.limit = self.envs[0].unwrapped, time_limit(self.envs[0])
        self.num_envs = len(self.envs)

    def reset(self) -> np.ndarray:
        """Reset every env; their first observations (N, 4)."""
        observations = np.stack([env.reset()[0] for env in self.envs])
        self.states = np.array([env.unwrapped.state for env in self.envs], dtype=np.float64)
        self.elapsed = np.zeros(len(self.envs), dtype=np.int64)
        return observations

    def step(self, actions: np.ndarray) -> tuple:
        """`VectorEnv.step`: CartPole pays 1 a step, the last one included; TimeLimit truncates at its limit."""
        self.states, terminated = cartpole_steps(self.states, actions == 1, self.physics)
        self.elapsed += 1
        truncated = self.elapsed >= self.limit
        last = self.states.astype(np.float32)  # CartPoleEnv's observation: its float64 state as float32
        observations = last.copy()
        for k in np.flatnonzero(terminated | truncated):
            observations[k] = self.envs[k].reset()[0]
            self.states[k], self.elapsed[k] = self.envs[k].unwrapped.state, 0
        return observations, np.ones(len(self.envs)), terminated, truncated, last

    def keep(self, kept: list) -> None:
        """Keep only the envs at positions `kept` (each mid-episode, as it was)."""
        self.envs = [self.envs[k] for k in kept]
        self.states, self.elapsed, self.num_envs = self.states[kept], self.elapsed[kept], len(kept)


class SharedMemories:
    """The agents' uniform replay memories kept in one stacked tensor per field, a slice per agent, so that one
    gather per field gives all agents their minibatches."""

    def __init__(self, agents: list):
        """Move each agent's memory into its own slice of the stacked tensors."""
        layout = agents[0].memory.storage()
        stacked = {name: torch.zeros((len(agents), *t.shape), dtype=t.dtype) for name, t in layout.items()}
        for slot, agent in enumerate(agents):
            agent.memory.use_storage({name: tensor[slot] for name, tensor in stacked.items()})
        # An agent keeps its slot when others leave the batch: its rows start at `first_row[agent.index]`.
        self.first_row = {agent.index: slot * agents[0].memory.capacity for slot, agent in enumerate(agents)}
        self.flat = {name: tensor.flatten(0, 1) for name, tensor in stacked.items()}

    def sample(self, agents: list, gammas: torch.Tensor) -> DiscountedBatch:
        """Each agent's minibatch as `train` draws it (its own slots, from its own torch random stream), stacked."""
        slots = []
        for agent in agents:
            torch.set_rng_state(agent.torch_rng)
            slots.append(agent.memory.sample_slots(agent.config.batch_size) + self.first_row[agent.index])
            agent.torch_rng = torch.get_rng_state()
        rows = torch.cat(slots)
        fields = {name: tensor.index_select(0, rows) for name, tensor in self.flat.items()}
        fields.setdefault("discounts", gammas)  # one-step rows bootstrap with each agent's γ, as `train`'s do
        return DiscountedBatch(**fields)


def stack_prioritized(batches: list):
    """(one DiscountedBatch of all agents' prioritized rows, agent k's in the k-th block; their IS weights)."""
    fields = {name: torch.cat([getattr(b, name) for b in batches]) for name in DiscountedBatch._fields}
    return DiscountedBatch(**fields), torch.cat([b.weights for b in batches])


# --- The training loop -----------------------------------------------------------------

def train_many(configs: Sequence[DQNConfig], on_episode: Optional[Callable] = None,
               on_step: Optional[Sequence[Optional[Callable]]] = None,
               on_result: Optional[Callable[[int, TrainResult], None]] = None) -> list:
    """Train one agent per config of `configs`, all at once; return their `TrainResult`s, in the order of `configs`.

    `on_episode(agent, episode_index, episode_return, epsilon, env_steps)`, if given, is
    called after every training episode of every agent (`agent` its index in `configs`);
    `on_step`, if given, holds one `train`-style `on_step` hook (or None) per agent;
    `on_result(agent, result)` is called as soon as an agent stops (e.g. to save its row).
    """
    configs = checked_configs(configs)
    hooks = checked_hooks(on_step, len(configs))
    shared = configs[0]
    with torch_threads(shared.num_threads):
        batch = AgentBatch([Agent(k, config, functools.partial(on_episode, k) if on_episode else None, hooks[k])
                            for k, config in enumerate(configs)])
        results = [None] * len(configs)
        start = time.perf_counter()

        for step in range(1, shared.max_env_steps + 1):
            # Act on the global step clock, store each transition, move on.
            ended = batch.step(batch.act(step))

            # Learn from a minibatch of each agent's past transitions.
            if step >= shared.learning_starts and step % shared.train_every == 0:
                batch.learn(step)
            if step % shared.target_update_every == 0:
                batch.update_target()

            # Each ended episode: record it; the agent's monitor says when that agent stops.
            stopped = [k for k in np.flatnonzero(ended) if end_episode(batch, k, step)]
            if step == shared.max_env_steps:
                stopped = range(len(batch.agents))  # the budget is spent
            for k in stopped:
                index, result = batch.finish(k, step, wall_s=time.perf_counter() - start)
                results[index] = result
                if on_result is not None:
                    on_result(index, result)
            if len(stopped) == len(batch.agents):
                break
            if stopped:
                batch.keep([k for k in range(len(batch.agents)) if k not in stopped])
        return results


def end_episode(batch: AgentBatch, k: int, step: int) -> bool:
    """Agent k's episode ended at `step`: hand it to the agent's monitor; True when the agent stops."""
    agent = batch.agents[k]
    # The monitor reads the network only for a greedy check: copy the weights out of the stack only then.
    q_net = batch.sync(k) if agent.monitor.checks.due(step) else agent.q_net
    stop = agent.monitor.on_episode_end(step, agent.episode_return, agent.epsilon, q_net)
    agent.episode_return = 0.0
    return stop


def checked_configs(configs) -> list:
    """`configs` as a list, after checking they are DQNConfigs of one recipe (only PER_AGENT_FIELDS differ)."""
    configs = [] if isinstance(configs, DQNConfig) else list(configs)
    if not configs or not all(isinstance(c, DQNConfig) for c in configs):
        raise ValueError("train_many needs a non-empty list of DQNConfig, one per agent")
    first = dataclasses.asdict(configs[0])
    for k, config in enumerate(configs[1:], start=1):
        for name, value in dataclasses.asdict(config).items():
            if name not in PER_AGENT_FIELDS and value != first[name]:
                raise ValueError(f"train_many trains agents of one recipe: only {', '.join(PER_AGENT_FIELDS)} may "
                                 f"differ between them, but agent {k} has {name}={value!r} and agent 0 "
                                 f"{name}={first[name]!r}")
    for k, config in enumerate(configs):
        for name in ("eps_start", "eps_end"):
            if not 0.0 <= getattr(config, name) <= 1.0:
                raise ValueError(f"agent {k}: {name} must be a probability in [0, 1], got {getattr(config, name)!r}")
    return configs


def checked_hooks(on_step, agents: int) -> list:
    """`on_step` as a list of one hook (or None) per agent."""
    if on_step is None:
        return [None] * agents
    hooks = list(on_step)
    if len(hooks) != agents or not all(hook is None or callable(hook) for hook in hooks):
        raise ValueError(f"on_step must hold one callable (or None) per agent: {agents}, got {len(hooks)} items")
    return hooks
