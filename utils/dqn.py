"""DQN: TD targets, loss, target-network updates, the config and the training loop.

`train(DQNConfig())` is the course's recommended recipe; it reads top to bottom in one
loop. Same seed on the same machine → the same episode returns and the same weights.
Three options go beyond that recipe (notebook 7): `dueling` networks, `n_step` returns
and `prioritized` experience replay; any combination works, and with all three off
`train` runs exactly the recipe. `env_id` runs it on another classic-control task
(notebook 8, utils.tasks), where `count_bonus` adds a count-based exploration bonus.
"""
import contextlib
import copy
import dataclasses
import time
from typing import Callable, NamedTuple, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.evaluation import greedy_returns
from utils.networks import q_network_for
from utils.nstep import NStepBuilder
from utils.policies import epsilon_greedy_action, epsilon_schedule
from utils.prioritized import PrioritizedReplayMemory, annealed_beta
from utils.replay import Batch, DiscountedReplayMemory, ReplayMemory
from utils.seeding import ENV_ID, env_dimensions, make_env, seed_everything

MAX_TRAIN_SEED = 1_000_000
"""Training seeds are below this; greedy-check env i uses seed + (i + 1)·MAX_TRAIN_SEED."""

MAX_CHECK_EPISODES = 1_999
"""Keeps greedy-check seeds below utils.evaluation.EVAL_SEED: check env i < 1,999 has a seed below
(i + 2)·MAX_TRAIN_SEED ≤ 2·10⁹."""

LOSSES = {"huber": F.smooth_l1_loss, "mse": F.mse_loss}


# --- Building blocks -------------------------------------------------------------------

def td_targets(rewards, next_states, terminated, target_net: nn.Module,
               gamma: Union[float, torch.Tensor]) -> torch.Tensor:
    """r + γ·(1 − terminated)·max_a' Q_target(s', a'), shape (B,), without gradient.

    Only `terminated` stops bootstrapping: a truncated episode (time limit) still has a
    future, so its last state is bootstrapped like any other. `gamma` may be a (B,)
    tensor of per-transition discounts γ^m (n-step returns, utils.nstep).
    """
    with torch.no_grad():
        next_values = target_net(next_states).max(dim=1).values
        return rewards + gamma * (1.0 - terminated) * next_values


def double_dqn_targets(rewards, next_states, terminated, q_net: nn.Module, target_net: nn.Module,
                       gamma: Union[float, torch.Tensor]) -> torch.Tensor:
    """Double DQN: `q_net` picks argmax_a' in s', `target_net` scores it; (B,), no gradient.

    Decoupling the choice of the action from its evaluation reduces the upward bias that
    max over noisy estimates gives (van Hasselt et al., 2016); the target network is a
    lagged copy of q_net, not independent of it, so some bias remains. `gamma` may be a
    (B,) tensor, as in `td_targets`.
    """
    with torch.no_grad():
        best_actions = q_net(next_states).argmax(dim=1, keepdim=True)
        next_values = target_net(next_states).gather(1, best_actions).squeeze(1)
        return rewards + gamma * (1.0 - terminated) * next_values


def q_values_taken(q_net: nn.Module, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Q(s, a) for the action taken in each row: shape (B,), differentiable."""
    return q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1)


def dqn_loss(predicted: torch.Tensor, targets: torch.Tensor, kind: str = "huber",
             weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Mean Huber (smooth L1) or squared TD error between two (B,) tensors: a scalar.

    With (B,) `weights` (prioritized replay's importance-sampling weights), the mean of
    each transition's loss times its weight instead.
    """
    if kind not in LOSSES:
        raise ValueError(f"kind must be one of {sorted(LOSSES)}, got {kind!r}")
    tensors = {"predicted": predicted, "targets": targets, **({} if weights is None else {"weights": weights})}
    if len({t.shape for t in tensors.values()}) > 1:
        # (B, 1) against (B,) would silently broadcast to a (B, B) loss.
        shapes = ", ".join(str(tuple(t.shape)) for t in tensors.values())
        raise ValueError(f"{', '.join(tensors)} have shapes {shapes}; all must be (B,)")
    if weights is None:
        return LOSSES[kind](predicted, targets)
    return (weights * LOSSES[kind](predicted, targets, reduction="none")).mean()


def soft_update(target_net: nn.Module, q_net: nn.Module, tau: float) -> None:
    """Polyak averaging θ⁻ ← τ·θ + (1 − τ)·θ⁻, in place."""
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau!r}")
    with torch.no_grad():
        for target_param, param in zip(target_net.parameters(), q_net.parameters()):
            target_param.lerp_(param, tau)


def hard_update(target_net: nn.Module, q_net: nn.Module) -> None:
    """Copy the Q-network's weights into the target network (θ⁻ ← θ)."""
    target_net.load_state_dict(q_net.state_dict())


# --- Configuration and result ----------------------------------------------------------

@dataclasses.dataclass
class DQNConfig:
    """Everything a training run depends on; the defaults are the course's recommended recipe."""

    seed: int = 0
    """Seeds the network, the replay sampling, ε-greedy and the environment (0 ≤ seed < 1e6)."""
    max_env_steps: int = 100_000
    """Budget of environment steps; training stops here if the greedy check never succeeds."""
    buffer_capacity: int = 50_000
    """Transitions kept in the replay memory (the oldest are overwritten)."""
    batch_size: int = 64
    """Transitions per gradient update."""
    learning_starts: int = 1_000
    """Environment steps of pure collection before the first update."""
    train_every: int = 2
    """Environment steps between gradient updates (updates dominate the cost)."""
    gamma: float = 0.99
    """Discount factor γ."""
    lr: float = 2e-3
    """Adam learning rate (with fewer updates per step, a larger step learns as fast)."""
    loss: str = "huber"
    """TD loss: "huber" (smooth L1) or "mse"."""
    double_dqn: bool = True
    """Use double-DQN targets (q_net picks the next action, target_net scores it)."""
    target_update_every: int = 125
    """Environment steps between target-network updates."""
    tau: float = 1.0
    """Fraction of the Q-network mixed into the target at each update (1.0 = hard copy)."""
    eps_start: float = 1.0
    """ε at the first step."""
    eps_end: float = 0.05
    """ε after the decay, kept until the end."""
    eps_decay_steps: int = 2_500
    """Environment steps over which ε falls linearly from eps_start to eps_end."""
    hidden: int = 128
    """Units in each of the Q-network's two hidden layers."""
    max_grad_norm: Optional[float] = None
    """Clip the gradient's global norm to this before each step (None = no clipping)."""
    check_every: int = 1_000
    """Greedy check: environment steps between checks (run at the end of an episode)."""
    check_episodes: int = 20
    """Greedy check: episodes per check, each on its own environment (seeds apart from evaluation's)."""
    confirm_episodes: int = 1_979
    """Greedy check: extra episodes once a check reaches stop_return; they must reach it too. 1,999 in all, the most
    MAX_CHECK_EPISODES allows: a policy failing 1 episode in 300 passes 100 more 72% of the time, 1,979 more 0.1%."""
    stop_return: Optional[float] = 500.0
    """Greedy check: stop training once a check's mean return reaches this (None = never)."""
    num_threads: int = 1
    """torch.set_num_threads during training: for a net this small, threads cost more than they save."""
    dueling: bool = False
    """Use a dueling network, Q = V + A − mean A (Wang et al., 2016): utils.networks.DuelingQNetwork."""
    n_step: int = 1
    """Steps per transition: target R + γ^n·max Q(s_{t+n}), R the discounted sum of n rewards (utils.nstep)."""
    prioritized: bool = False
    """Sample transitions in proportion to (|TD error| + per_eps)^per_alpha (Schaul et al., 2016): utils.prioritized."""
    per_alpha: float = 0.6
    """Prioritized replay: how much priorities count (0 = uniform sampling, 1 = fully proportional)."""
    per_beta_start: float = 0.4
    """Prioritized replay: importance-sampling exponent β at step 0, annealed linearly to 1 at max_env_steps."""
    per_eps: float = 1e-6
    """Prioritized replay: added to |TD error| so no transition's priority is ever 0 (never sampled again)."""
    env_id: str = ENV_ID
    """The gymnasium task: any registered env with a 1-D Box observation and Discrete actions (e.g. "Acrobot-v1")."""
    count_bonus: float = 0.0
    """Exploration bonus β/√N(s') added to the rewards learned from, N = visits to the grid cell of s' (0 = off)."""
    count_bins: int = 20
    """Exploration bonus: grid cells per observation coordinate, between the env's (finite) bounds: `CountBonus`."""

    def __post_init__(self):
        """Reject values that cannot work, saying which field and what is expected."""
        if not 0 <= self.seed < MAX_TRAIN_SEED:
            raise ValueError(f"seed must be in [0, {MAX_TRAIN_SEED}), got {self.seed!r}")
        for name in ("max_env_steps", "buffer_capacity", "batch_size", "train_every",
                     "target_update_every", "eps_decay_steps", "hidden", "check_every",
                     "check_episodes", "num_threads", "n_step", "count_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.learning_starts < self.batch_size + self.n_step - 1:
            # An n-step transition is stored n − 1 steps after its start.
            raise ValueError(f"learning_starts ({self.learning_starts}) must be at least batch_size + n_step - 1 "
                             f"({self.batch_size + self.n_step - 1}) so the first sample can be drawn")
        if self.confirm_episodes < 0 or self.check_episodes + self.confirm_episodes > MAX_CHECK_EPISODES:
            raise ValueError(f"check_episodes + confirm_episodes must be at most {MAX_CHECK_EPISODES} "
                             f"(confirm_episodes ≥ 0), got {self.check_episodes} + {self.confirm_episodes}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {self.loss!r}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau!r}")
        if not self.per_alpha >= 0.0:
            raise ValueError(f"per_alpha must be ≥ 0 (0 = uniform sampling), got {self.per_alpha!r}")
        if not 0.0 < self.per_beta_start <= 1.0:
            raise ValueError(f"per_beta_start must be in (0, 1], got {self.per_beta_start!r}")
        if not self.per_eps > 0.0:
            raise ValueError(f"per_eps must be > 0, got {self.per_eps!r}")
        if not self.count_bonus >= 0.0:
            raise ValueError(f"count_bonus must be ≥ 0 (0 = no exploration bonus), got {self.count_bonus!r}")
        env_dimensions(self.env_id)  # raises a ValueError saying why DQN cannot run on it


@dataclasses.dataclass
class TrainResult:
    """What `train` returns: the learning curve, the cost, and the trained network."""

    episode_returns: list
    """Return of each training episode (ε-greedy, so below what the greedy policy gets)."""
    episode_lengths: list
    """Steps of each training episode."""
    episode_epsilons: list
    """ε at the last step of each training episode."""
    episode_end_steps: list
    """Global environment step at which each training episode ended."""
    check_steps: list
    """Global environment step of each greedy check."""
    check_returns: list
    """Mean greedy return of each check."""
    check_values: list
    """max_a Q(s, a) at each check for s = 0 (CartPole: pole upright, cart at rest): how the values grow."""
    env_steps: int
    """Environment steps taken."""
    updates: int
    """Gradient updates made."""
    wall_s: float
    """Wall-clock seconds of training, greedy checks included."""
    stopped_early: bool
    """True when a greedy check reached `config.stop_return` before the step budget ran out."""
    q_net: nn.Module
    """The trained Q-network: the weights of the best greedy check (see `GreedyChecks`)."""
    config: DQNConfig
    """The configuration that produced this result."""

    @property
    def verdict(self) -> str:
        """One line: what the greedy checks concluded, which is what decides the weights kept."""
        if not self.check_returns:
            return f"no greedy check ran in {self.env_steps:,} steps; the final weights are kept"
        if self.stopped_early:
            episodes = self.config.check_episodes + self.config.confirm_episodes
            return (f"greedy check passed at step {self.env_steps:,}: {episodes:,} greedy episodes all reached "
                    f"{self.config.stop_return:.0f}, so training stopped early with those weights")
        best = int(np.argmax(self.check_returns))
        return (f"no greedy check reached {self.config.stop_return} in {self.env_steps:,} steps; kept the weights of "
                f"the best check (mean {self.check_returns[best]:.1f} at step {self.check_steps[best]:,})")


# --- The training loop -----------------------------------------------------------------

def train(config: Optional[DQNConfig] = None,
          on_episode: Optional[Callable[[int, float, float, int], None]] = None,
          on_step: Optional[Callable] = None) -> TrainResult:
    """Train a DQN agent on `config.env_id` with `config` (default: the recommended recipe on CartPole-v1).

    `on_episode(episode_index, episode_return, epsilon, env_steps)`, if given, is called
    after every training episode (e.g. to update a progress bar).
    `on_step(state, action, reward, next_state, terminated, truncated)`, if given, sees
    every environment step (e.g. to record where exploration went); it must not touch
    any random generator, or the run would no longer match its seed.
    """
    config = DQNConfig() if config is None else config
    with torch_threads(config.num_threads):
        env, rng, q_net, target_net, optimizer, memory = run_parts(config)
        remember = transition_writer(memory, config)
        bonus = CountBonus.for_env(env, config) if config.count_bonus > 0 else None
        monitor = TrainingMonitor(config, on_episode)
        updates, episode_return = 0, 0.0
        start = time.perf_counter()

        state, _ = env.reset()
        for step in range(1, config.max_env_steps + 1):
            # Act on the global step clock, store the transition, move on.
            epsilon = epsilon_schedule(step - 1, config.eps_start, config.eps_end, config.eps_decay_steps)
            action = epsilon_greedy_action(q_net, state, epsilon, rng)
            next_state, reward, terminated, truncated, _ = env.step(action)
            # The bonus only changes what the agent learns from; returns stay the env's.
            learned_reward = reward + bonus(next_state) if bonus is not None else reward
            remember(state, action, learned_reward, next_state, terminated, truncated)
            if on_step is not None:
                on_step(state, action, reward, next_state, terminated, truncated)
            state = next_state
            episode_return += reward

            # Learn from a minibatch of past transitions (uniform, or by priority).
            if step >= config.learning_starts and step % config.train_every == 0:
                learn_from_memory(q_net, target_net, optimizer, memory, config, step)
                updates += 1
            if step % config.target_update_every == 0:
                update_target(target_net, q_net, config.tau)

            if terminated or truncated:
                # Record the episode; the monitor's greedy checks say when to stop.
                stop = monitor.on_episode_end(step, episode_return, epsilon, q_net)
                state, _ = env.reset()
                episode_return = 0.0
                if stop:
                    break

        env.close()
        return monitor.result(q_net, env_steps=step, updates=updates, wall_s=time.perf_counter() - start)


class RunParts(NamedTuple):
    """What a training run starts from (`run_parts`)."""

    env: object
    rng: np.random.Generator
    q_net: nn.Module
    target_net: nn.Module
    optimizer: torch.optim.Optimizer
    memory: ReplayMemory


def run_parts(config: DQNConfig) -> RunParts:
    """Seed everything, then build the env, ε-greedy rng, networks, optimizer and memory of a run.

    Always in this order, so that a seed fixes the run: `train` and a student's own loop
    (utils.student_agent) start from the same parts and give the same weights.
    """
    seed_everything(config.seed)
    env = make_env(config.seed, env_id=config.env_id)
    rng = np.random.default_rng(config.seed)
    obs_dim, n_actions = env_dimensions(config.env_id)
    q_net = q_network_for(config, obs_dim, n_actions)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.lr, fused=True)
    return RunParts(env, rng, q_net, target_net, optimizer, replay_memory_for(config, obs_dim))


def replay_memory_for(config: DQNConfig, obs_dim: int = 4) -> ReplayMemory:
    """The replay memory `config` asks for: prioritized, else with discounts if n_step > 1, else the plain one."""
    if config.prioritized:
        # Seeded with (seed, 1), not seed: its draws must not repeat those of the ε-greedy rng.
        return PrioritizedReplayMemory(config.buffer_capacity, obs_dim, config.per_alpha, config.per_eps,
                                       seed=(config.seed, 1))
    if config.n_step > 1:
        return DiscountedReplayMemory(config.buffer_capacity, obs_dim)
    return ReplayMemory(config.buffer_capacity, obs_dim)


def transition_writer(memory: ReplayMemory, config: DQNConfig) -> Callable:
    """A function `(state, action, reward, next_state, terminated, truncated)` storing one env step in `memory`.

    A memory with discounts gets `config.n_step`-step transitions from an `NStepBuilder`
    (which needs `truncated` to end its windows); the plain memory gets the step as it is.
    """
    if not isinstance(memory, DiscountedReplayMemory):
        def push(state, action, reward, next_state, terminated, truncated):
            memory.push(state, action, reward, next_state, terminated)
        return push

    builder = NStepBuilder(config.n_step, config.gamma)

    def push_n_step(state, action, reward, next_state, terminated, truncated):
        for transition in builder.add(state, action, reward, next_state, terminated, truncated):
            memory.push(*transition)
    return push_n_step


def learn_from_memory(q_net: nn.Module, target_net: nn.Module, optimizer: torch.optim.Optimizer,
                      memory: ReplayMemory, config: DQNConfig, step: int) -> None:
    """One gradient step on a minibatch of `memory`; a prioritized memory also gets the new TD errors back.

    A prioritized memory samples with β annealed from `config.per_beta_start` at step 0
    to 1 at `config.max_env_steps`.
    """
    batch = sample_batch(memory, config, step)
    td_errors = gradient_step(q_net, target_net, optimizer, batch, config)
    if isinstance(memory, PrioritizedReplayMemory):
        memory.update_priorities(batch.indices, td_errors)


def sample_batch(memory: ReplayMemory, config: DQNConfig, step: int) -> Batch:
    """A minibatch of `config.batch_size` from `memory`: uniform, or by priority with β annealed to `step`."""
    if not isinstance(memory, PrioritizedReplayMemory):
        return memory.sample(config.batch_size)
    return memory.sample(config.batch_size, annealed_beta(step, config.per_beta_start, config.max_env_steps))


def gradient_step(q_net: nn.Module, target_net: nn.Module, optimizer: torch.optim.Optimizer,
                  batch: Batch, config: DQNConfig) -> torch.Tensor:
    """One Adam step on the TD loss of `batch`; returns its TD errors y − Q(s, a), (B,), from before the step.

    A batch with `weights` (a `PrioritizedBatch`) weights each transition's loss by them.
    """
    targets = compute_targets(batch, q_net, target_net, config)
    predicted = q_values_taken(q_net, batch.states, batch.actions)
    loss = dqn_loss(predicted, targets, config.loss, getattr(batch, "weights", None))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), config.max_grad_norm, foreach=True)
    optimizer.step()
    return targets - predicted.detach()


def compute_targets(batch: Batch, q_net: nn.Module, target_net: nn.Module, config: DQNConfig) -> torch.Tensor:
    """TD targets for `batch`: double-DQN or plain, as `config.double_dqn` says.

    A batch with `discounts` (n-step transitions) bootstraps each row with its own γ^m
    instead of `config.gamma`.
    """
    gamma = getattr(batch, "discounts", config.gamma)
    if config.double_dqn:
        return double_dqn_targets(batch.rewards, batch.next_states, batch.terminated, q_net, target_net, gamma)
    return td_targets(batch.rewards, batch.next_states, batch.terminated, target_net, gamma)


def update_target(target_net: nn.Module, q_net: nn.Module, tau: float) -> None:
    """Hard copy when tau is 1, Polyak averaging otherwise."""
    if tau == 1.0:
        hard_update(target_net, q_net)
    else:
        soft_update(target_net, q_net, tau)


class CountBonus:
    """Count-based exploration bonus β/√N(s) (Strehl & Littman, 2008), N counted on a grid over the observations.

    Each call counts one more visit to the state's grid cell and returns β/√N: large in
    cells seldom seen, fading as they become familiar. Added to the reward, it makes Q
    higher towards unexplored states, so the greedy policy itself goes exploring, where
    ε-greedy's random dithering rarely strays far (MountainCar: the flag is never reached).
    It changes the rewards learned from, so the values learned are of a different task
    while the bonus matters; as the counts grow it fades and the task's own rewards rule.
    """

    def __init__(self, low, high, bins: int, scale: float):
        """A grid of `bins` equal cells per coordinate between the finite bounds `low` and `high`."""
        low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError("count_bonus needs finite observation bounds to lay its grid on; "
                             f"this env's are low={low}, high={high}")
        self.low, self.cell_size, self.bins, self.scale = low, (high - low) / bins, bins, scale
        self.counts = {}

    @classmethod
    def for_env(cls, env, config: DQNConfig) -> "CountBonus":
        """The bonus `config` asks for, on a grid spanning `env`'s observation space."""
        return cls(env.observation_space.low, env.observation_space.high, config.count_bins, config.count_bonus)

    def __call__(self, state) -> float:
        """Count a visit to `state`'s cell and return the bonus β/√N for it."""
        cell = tuple(np.clip(((state - self.low) // self.cell_size).astype(int), 0, self.bins - 1).tolist())
        self.counts[cell] = self.counts.get(cell, 0) + 1
        return self.scale / np.sqrt(self.counts[cell])


class TrainingMonitor:
    """What a training loop calls at the end of every episode: the record, the progress and the greedy checks.

    `train` calls `on_episode_end`, and so does the loop a student writes in notebook 5, so
    both get the same greedy checks and best-weights selection. `on_episode_end` returns
    True when a confirmed greedy check says training may stop; `result` then loads the
    best checked weights into the network and packs everything into a `TrainResult`.
    """

    def __init__(self, config: DQNConfig, on_episode: Optional[Callable[[int, float, float, int], None]] = None):
        """Start with no finished episode; `on_episode(index, return, epsilon, env_steps)` is called after each."""
        self.config, self.on_episode = config, on_episode
        self.checks = GreedyChecks(config)
        self.returns, self.lengths, self.epsilons, self.end_steps = [], [], [], []

    def on_episode_end(self, step: int, episode_return: float, epsilon: float, q_net: nn.Module) -> bool:
        """Record an episode that ended at global `step`; run a greedy check if due; True = stop training."""
        self.lengths.append(step - (self.end_steps[-1] if self.end_steps else 0))
        self.returns.append(float(episode_return))
        self.epsilons.append(float(epsilon))
        self.end_steps.append(step)
        if self.on_episode is not None:
            self.on_episode(len(self.returns) - 1, self.returns[-1], self.epsilons[-1], step)
        return self.checks.due(step) and self.checks.run(q_net, step)

    def result(self, q_net: nn.Module, env_steps: int, updates: int, wall_s: float) -> TrainResult:
        """Load the best checked weights into `q_net` and return the run's `TrainResult`."""
        self.checks.restore_best(q_net)
        return TrainResult(
            episode_returns=self.returns, episode_lengths=self.lengths, episode_epsilons=self.epsilons,
            episode_end_steps=self.end_steps, check_steps=self.checks.steps, check_returns=self.checks.returns,
            check_values=self.checks.values, env_steps=env_steps, updates=updates, wall_s=wall_s,
            stopped_early=self.checks.reached_goal, q_net=q_net, config=self.config,
        )


class GreedyChecks:
    """Best-weights selection with early stopping, driven by periodic greedy checks.

    Every `check_every` steps (at the next episode end) the greedy policy plays
    `check_episodes` episodes, one on each of its environments; when their mean reaches
    `stop_return`, it plays `confirm_episodes` more, and training stops only if those
    reach it too. The weights with the best mean over a check's episodes are kept.
    Without this, a DQN that has learned CartPole often unlearns it a few thousand steps
    later; stopping at a confirmed good check and keeping the best weights makes the
    outcome reliable. All episodes of a check run in step, so a check costs little.
    """

    def __init__(self, config: DQNConfig):
        """Make the check environments (seeds apart from training and evaluation); the confirmation's at first use."""
        self.config = config
        self.quick_envs = self._envs(range(config.check_episodes))
        self.confirm_envs = None  # 1,979 by default: made only once a check first reaches stop_return
        self.steps, self.returns, self.values = [], [], []
        self.best_return = -np.inf
        self.best_weights = None
        self.reached_goal = False

    def due(self, step: int) -> bool:
        """True when `check_every` steps have passed since the last check."""
        last = self.steps[-1] if self.steps else 0
        return step - last >= self.config.check_every

    def run(self, q_net: nn.Module, step: int) -> bool:
        """Play the greedy check, keep the weights if best so far; True when training may stop."""
        returns = greedy_returns(q_net, self.quick_envs)
        if self._good_enough(returns) and self.config.confirm_episodes > 0:
            if self.confirm_envs is None:
                self.confirm_envs = self._envs(range(self.config.check_episodes, self.config.check_episodes +
                                                     self.config.confirm_episodes))
            returns = np.concatenate([returns, greedy_returns(q_net, self.confirm_envs)])
        mean_return = float(returns.mean())
        self.steps.append(step)
        self.returns.append(mean_return)
        self.values.append(zero_state_value(q_net, self.quick_envs[0].observation_space.shape[0]))
        if mean_return > self.best_return:
            self.best_return = mean_return
            self.best_weights = copy.deepcopy(q_net.state_dict())
        self.reached_goal = self._good_enough(returns)
        return self.reached_goal

    def restore_best(self, q_net: nn.Module) -> None:
        """Load the best checked weights into `q_net` (unchanged if no check ran)."""
        if self.best_weights is not None:
            q_net.load_state_dict(self.best_weights)
        for env in self.quick_envs + (self.confirm_envs or []):
            env.close()

    def _envs(self, indices: range) -> list:
        """Check environments number `indices`: env i on seed config.seed + (i + 1)·MAX_TRAIN_SEED."""
        return [make_env(self.config.seed + (i + 1) * MAX_TRAIN_SEED, env_id=self.config.env_id) for i in indices]

    def _good_enough(self, returns: np.ndarray) -> bool:
        """True when the mean of `returns` reaches `stop_return` (never if that is None)."""
        return self.config.stop_return is not None and bool(returns.mean() >= self.config.stop_return)


def zero_state_value(q_net: nn.Module, obs_dim: int) -> float:
    """max_a Q(s, a) at the all-zero observation: for CartPole, pole upright and cart at rest in the middle."""
    with torch.no_grad():
        return float(q_net(torch.zeros(1, obs_dim)).max())


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with `torch.set_num_threads(n)`, restoring the previous setting after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
