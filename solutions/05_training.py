# %% [markdown]
# # 5 · Training a Deep Q-Network
#
# Notebooks 1–4 built the parts: the Q-learning target, a replay memory, a Q-network and
# ε-greedy exploration. This notebook turns them into a learning agent. You will write the
# three pieces that make DQN *learn* (the TD target, one gradient step, the target-network
# update), assemble everything into the training loop, and then train an agent that
# balances the pole for the full 500 steps.
#
# **You will:** compute TD targets that stop at termination but bootstrap through
# truncation; write one optimisation step with the Huber loss and gradient clipping;
# update a target network with hard copies and with Polyak averaging; write the whole
# training loop on a global step clock; meet double DQN and best-weights selection by
# greedy checks; train CartPole-v1 to solved and plot the learning curve.
#
# **Prerequisites:** notebooks 1–4 (their reference versions are imported from `utils`, so
# you can start here). **Time:** about 45–60 minutes, plus under a minute of training.

# %%
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils import dqn
from utils.checks import check_optimize_step, check_td_targets, check_train_dqn, check_update_target
from utils.dqn import DQNConfig, double_dqn_targets, train
from utils.evaluation import REWARD_THRESHOLD, evaluate, is_solved, load_checkpoint, save_checkpoint
from utils.live import LiveTrainingView
from utils.networks import QNetwork
from utils.plotting import learning_curve, line_plot
from utils.policies import epsilon_greedy_action, epsilon_schedule
from utils.replay import ReplayMemory, fill_with_random_agent
from utils.seeding import make_env, seed_everything
from utils.widgets import hyperparameter_playground

SEED = 0
seed_everything(SEED)

# %% [markdown]
# ## 5.1 From Q-learning to a loss: the TD target
#
# Tabular Q-learning (notebook 1) moves $Q(s, a)$ towards the **TD target**
# $y = r + \gamma \max_{a'} Q(s', a')$. DQN (Mnih et al. 2015) does the same with a network
# $Q(s, a; \theta)$: it samples a minibatch of $B$ transitions
# $(s_i, a_i, r_i, s'_i, d_i)$ from the replay memory and takes a gradient step on
#
# $$L(\theta) = \frac{1}{B} \sum_{i=1}^{B} \ell\big(y_i - Q(s_i, a_i; \theta)\big),
# \qquad y_i = r_i + \gamma\,(1 - d_i)\,\max_{a'} Q(s'_i, a'; \theta^-),$$
#
# where $\ell$ is a loss (section 5.2) and $d_i = 1$ when the episode **terminated** at
# $s'_i$. Three details matter:
#
# * **The target is a constant.** $y_i$ depends on parameters too, but we do not
#   differentiate through it: the update is a *semi-gradient* method (Sutton & Barto 2018,
#   sec. 9.3). In PyTorch: compute $y$ under `torch.no_grad()`.
# * **A separate target network** $\theta^-$, a lagging copy of $\theta$, computes $y$.
#   With $\theta$ itself, every step would move the target it is chasing (section 5.3).
# * **Only termination masks.** $d_i$ is the `terminated` flag. A transition cut by the
#   500-step time limit (`truncated`) still has a future, so its target bootstraps.

# %% [markdown]
# > **Common pitfall: truncation treated as termination.** The seed notebook this course
# > grew from called the 500-step limit a *termination*. If the memory stores
# > `terminated or truncated`, every time-limit transition gets the target $y = r = 1$:
# > the agent learns that being upright at step 500 is worth nothing more, exactly the
# > states a good policy reaches. Store `terminated`; end the episode on
# > `terminated or truncated`.

# %% [markdown]
# ### Exercise 5.1: the TD target
#
# Write `td_targets(rewards, next_states, terminated, target_net, gamma) -> torch.Tensor`:
#
# | argument | shape, dtype | meaning |
# |---|---|---|
# | `rewards` | `(B,)` float32 | $r_i$ |
# | `next_states` | `(B, obs_dim)` float32 | $s'_i$ |
# | `terminated` | `(B,)` float32 | 1.0 where the episode terminated at $s'_i$, else 0.0 |
# | `target_net` | `nn.Module` | maps `(B, obs_dim)` to `(B, n_actions)` Q-values |
# | `gamma` | float | discount $\gamma$ |
#
# Return $y$ as a `(B,)` float32 tensor **without gradient**. Don't modify the arguments.
# `tensor.max(dim=1)` returns a pair `(values, indices)`: you want `.values`.

# %% exercise="5.1: td_targets"
def td_targets(rewards, next_states, terminated, target_net, gamma):
    """r + gamma * (1 - terminated) * max_a' target_net(s')[a'], shape (B,), without gradient."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        best_next = target_net(next_states).max(dim=1).values
    return rewards + gamma * (1.0 - terminated) * best_next
    ### END SOLUTION


# %% check="5.1"
# NBVAL_CHECK_OUTPUT
check_td_targets(td_targets)

# %% [markdown]
# On real data: fill a memory with 300 steps of a random agent on CartPole and sample a
# batch; a fresh network will score it.

# %%
demo_memory = fill_with_random_agent(ReplayMemory(1_000), make_env(SEED), n_steps=300)
demo_net, demo_batch = QNetwork(), demo_memory.sample(64)

# %% [markdown]
# Terminated rows get exactly their reward; all others add the discounted value of their
# next state.

# %%
# NBVAL_CHECK_OUTPUT
demo_targets = td_targets(demo_batch.rewards, demo_batch.next_states, demo_batch.terminated, demo_net, 0.99)
ends = demo_batch.terminated == 1.0
print("targets:", tuple(demo_targets.shape), demo_targets.dtype, "requires_grad:", demo_targets.requires_grad)
print("terminated rows have target = reward:", bool(torch.equal(demo_targets[ends], demo_batch.rewards[ends])))

# %% [markdown]
# ## 5.2 The loss and one optimisation step
#
# **Huber instead of squared error.** With $\delta = y - Q(s, a; \theta)$ the squared
# error $\tfrac12\delta^2$ has gradient $\delta$: one transition with a huge TD error (common
# early on, when targets are still wrong) makes a huge step. The Huber loss
#
# $$\ell(\delta) = \begin{cases} \tfrac12 \delta^2 & |\delta| \le 1 \\ |\delta| - \tfrac12 & |\delta| > 1 \end{cases}$$
#
# is the same near 0 but grows linearly, so each transition's gradient is bounded by 1.
# Mnih et al. (2015) clipped the error term to $[-1, 1]$, which is the same thing.
# PyTorch calls it `F.smooth_l1_loss` (with its default `beta=1`).

# %%
errors = np.linspace(-4, 4, 161)
line_plot(errors, {"squared error δ²/2": errors**2 / 2, "Huber": np.where(np.abs(errors) <= 1, errors**2 / 2, np.abs(errors) - 0.5),
                   "Huber gradient": np.clip(errors, -1, 1)},
          xlabel="TD error δ", ylabel="loss / gradient", title="Huber grows linearly; its gradient stays in [-1, 1]")

# %% [markdown]
# **Gradient clipping** bounds the step in another way, after `backward()`:
#
# * *Value clipping*, `clip_grad_value_(params, c)`, clamps each gradient entry to
#   $[-c, c]$ on its own. When some entries are clipped and others are not, the step points
#   in a different direction from the gradient. The seed notebook clipped at $c = 100$ every
#   step; for CartPole's Huber gradients that bound is practically never reached, so it cost
#   time (about 0.6 ms per update on a 2-core machine, where a whole update costs 1–2 ms)
#   and changed nothing.
# * *Norm clipping*, `clip_grad_norm_(params, c)`, rescales the whole gradient $g$ to
#   $g \cdot \min(1, c / \lVert g \rVert)$: the direction stays, only the step length is capped.
#   It is the usual choice when clipping is needed. The course's default
#   (`DQNConfig.max_grad_norm = None`) does not clip: the Huber loss already bounds the
#   gradient per transition.
#
# One step is then: `optimizer.zero_grad()`, `loss.backward()`, clip, `optimizer.step()`.

# %% [markdown]
# > **Common pitfall: a forgotten `zero_grad()`.** `backward()` *adds* to `.grad`. Without
# > `optimizer.zero_grad()` every step uses the sum of all gradients so far, and training
# > drifts off.
#
# > **Common pitfall: `(B, 1)` against `(B,)`.** `q_net(states).gather(1, actions.unsqueeze(1))`
# > has shape `(B, 1)`; the targets have shape `(B,)`. Subtracting them broadcasts to
# > `(B, B)`: every prediction is compared with every target, and the loss is a number of
# > the right kind but the wrong value (PyTorch only warns). `.squeeze(1)` first.

# %% [markdown]
# ### Exercise 5.2: the loss and one optimisation step
#
# Write `optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None) -> float`:
#
# * `batch` is a `utils.replay.Batch` with `states (B, obs_dim) float32` and
#   `actions (B,) int64` (its other fields are not needed here); `targets` is `(B,)` float32
#   without gradient (from `td_targets`).
# * Predict $Q(s_i, a_i; \theta)$ for the **taken** actions only, shape `(B,)`:
#   `q_net(states).gather(1, actions.unsqueeze(1)).squeeze(1)`.
# * Loss: the batch mean of `F.smooth_l1_loss` for `loss_kind="huber"`, `F.mse_loss` for `"mse"`.
# * Zero the gradients, backpropagate, clip the gradient norm to `max_grad_norm` with
#   `nn.utils.clip_grad_norm_` unless it is `None`, and step the optimizer.
# * Return the loss (before the step) as a Python `float`.

# %% exercise="5.2: optimize_step"
def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """One gradient step on the TD loss of `batch`; returns the loss as a float."""
    ### BEGIN SOLUTION
    predicted = q_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1)
    loss_function = F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss
    loss = loss_function(predicted, targets)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()
    ### END SOLUTION


# %% check="5.2"
# NBVAL_CHECK_OUTPUT
check_optimize_step(optimize_step)

# %% [markdown]
# Fit the demo batch's targets for a few hundred steps: the loss must fall. (The targets
# stay fixed here, computed once with the reference `utils.dqn.td_targets`; in real
# training they move, which is why the loss of DQN does not simply go down.)

# %%
# NBVAL_CHECK_OUTPUT
fixed_targets = dqn.td_targets(demo_batch.rewards, demo_batch.next_states, demo_batch.terminated, QNetwork(), 0.99)
demo_optimizer = torch.optim.Adam(demo_net.parameters(), lr=1e-3)
demo_losses = [optimize_step(demo_net, demo_optimizer, demo_batch, fixed_targets) for _ in range(300)]
print(f"the loss fell by more than 90%: {demo_losses[-1] < 0.1 * demo_losses[0]}")

# %% [markdown]
# ## 5.3 The target network
#
# If the target used $\theta$ itself, each gradient step would also move $y$, and the
# network could chase its own tail. A **target network** $\theta^-$ changes more slowly:
#
# * **Hard update** (Mnih et al. 2015): copy $\theta^- \leftarrow \theta$ every $C$ steps
#   and keep it fixed in between. The course uses this: `DQNConfig.tau = 1.0`,
#   `target_update_every = 500` environment steps.
# * **Soft (Polyak) update** (Lillicrap et al. 2015, for DDPG): every step,
#   $\theta^- \leftarrow \tau\,\theta + (1 - \tau)\,\theta^-$ with a small $\tau$ such as
#   0.005. The target is an exponential moving average of the weights over about $1/\tau$
#   steps.
#
# One function covers both: with $\tau = 1$ the soft update *is* a copy.

# %% [markdown]
# > **Common pitfall: the target updated once per episode, and DQN credited with soft
# > updates.** The seed notebook soft-updated with $\tau = 0.005$ at the end of each
# > *episode*: with episodes of ~20 steps, the target then trailed hundreds of episodes
# > behind and learning crawled. A soft update belongs to every *step*. The seed also
# > presented soft updates as DQN's idea; DQN copied the weights every $C$ steps, and
# > Polyak updates come from DDPG. Both work; name them correctly.

# %% [markdown]
# ### Exercise 5.3: the target-network update
#
# Write `update_target(target_net, q_net, tau) -> None`: for each parameter, in place,
# $\theta^- \leftarrow \tau\,\theta + (1 - \tau)\,\theta^-$, with $0 < \tau \le 1$. Only
# `target_net` changes; it must not end up *sharing* tensors with `q_net`. Write into
# parameters under `torch.no_grad()` (e.g. `target_param.lerp_(param, tau)` or
# `target_param.copy_(...)`).

# %% exercise="5.3: update_target"
def update_target(target_net, q_net, tau):
    """Polyak update of target_net towards q_net, in place (tau = 1 copies)."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        for target_param, param in zip(target_net.parameters(), q_net.parameters()):
            target_param.lerp_(param, tau)
    ### END SOLUTION


# %% check="5.3"
# NBVAL_CHECK_OUTPUT
check_update_target(update_target)

# %% [markdown]
# How much of today's $\theta$ is in $\theta^-$ after $n$ soft updates? The weight of
# the initial target decays as $(1 - \tau)^n$:

# %%
# NBVAL_CHECK_OUTPUT
for n in (1, 200, 1_000):
    print(f"tau=0.005, after {n:5d} updates: {(1 - 0.005) ** n:.3f} of the old target remains")

# %% [markdown]
# ## 5.4 Double DQN
#
# The max in the target is biased upwards. If $Q(s', a')$ are noisy estimates of equal
# true values, $\max_{a'}$ picks whichever noise happens to be largest:
# $\mathbb E[\max_a \hat Q_a] \ge \max_a \mathbb E[\hat Q_a]$. Two actions whose true value
# is 0, estimated with standard normal noise:

# %%
# NBVAL_CHECK_OUTPUT
noise = np.random.default_rng(SEED).normal(size=(100_000, 2))
print(f"mean of max over 2 noisy estimates: {noise.max(axis=1).mean():.3f} (true max 0; theory 1/sqrt(pi) = {1 / np.sqrt(np.pi):.3f})")

# %% [markdown]
# The bias is bootstrapped from state to state. **Double DQN** (van Hasselt et al. 2016)
# lets the online network *choose* the next action and the target network *score* it:
#
# $$y = r + \gamma\,(1 - d)\; Q\big(s',\ \arg\max_{a'} Q(s', a'; \theta);\ \theta^-\big).$$
#
# The choice and its evaluation now use different noise, which removes most of the bias.
# It costs one more forward pass. `utils.dqn.double_dqn_targets(rewards, next_states,
# terminated, q_net, target_net, gamma)` implements it and the course's default uses it
# (`DQNConfig.double_dqn = True`). Its targets never exceed the plain ones:

# %%
# NBVAL_CHECK_OUTPUT
demo_target_net = QNetwork()
plain = td_targets(demo_batch.rewards, demo_batch.next_states, demo_batch.terminated, demo_target_net, 0.99)
double = double_dqn_targets(demo_batch.rewards, demo_batch.next_states, demo_batch.terminated, demo_net, demo_target_net, 0.99)
print("double DQN target <= plain target on every row:", bool(torch.all(double <= plain + 1e-6)))

# %% [markdown]
# ## 5.5 The training loop
#
# Everything together, counting **environment steps** $n = 1, 2, \dots, N$ across episodes:
#
# ```text
# state = env.reset()
# for n = 1 .. N:
#     ε = epsilon_schedule(n - 1, ...)                  # the global clock: steps taken so far
#     a = ε-greedy action for state
#     next_state, r, terminated, truncated = env.step(a)
#     push (state, a, r, next_state, terminated)        # terminated, not "terminated or truncated"
#     if n >= learning_starts and n % train_every == 0:
#         sample a batch, compute targets (double DQN or plain), one optimize_step
#     if n % target_update_every == 0:
#         update the target network                     # every C *steps*, not per episode
#     if terminated or truncated:                       # the episode ends on either flag
#         record the episode's return; state = env.reset()
#     else:
#         state ← next_state
# ```
#
# `learning_starts` steps of pure collection come first, so the first batches are not
# drawn from a handful of transitions.

# %% [markdown]
# > **Common pitfall: ε on a fake clock.** The seed notebook computed ε from
# > `i_episode * 500 + t`, a step count that jumps by 500 every episode. Early episodes last
# > about 20 steps, so after a few hundred real steps ε had already reached its minimum and
# > exploration stopped before the agent had learned anything. Drive ε with one counter of
# > the environment steps actually taken.

# %% [markdown]
# ### Exercise 5.4: the training loop
#
# Write `train_dqn(env, config, q_net, target_net, optimizer, memory, rng) -> list`:
#
# * `env`: a gymnasium CartPole env (not yet reset); `config`: a `utils.dqn.DQNConfig`;
#   `q_net`, `target_net`: Q-networks (the target starts as a copy); `optimizer`: for
#   `q_net`; `memory`: an empty `ReplayMemory`; `rng`: a `np.random.Generator` for
#   exploration.
# * Take exactly `config.max_env_steps` environment steps, following the pseudocode above.
#   Use the building blocks by their names: `epsilon_schedule(n - 1, config.eps_start,
#   config.eps_end, config.eps_decay_steps)`, `epsilon_greedy_action(q_net, state, epsilon, rng)`,
#   `memory.push(...)`, `memory.sample(config.batch_size)`, your `td_targets` (or
#   `double_dqn_targets(..., q_net, target_net, config.gamma)` when `config.double_dqn`),
#   `optimize_step(q_net, optimizer, batch, targets, config.loss, config.max_grad_norm)`,
#   `update_target(target_net, q_net, config.tau)`.
# * Return the list of the returns (sum of rewards) of the episodes that *finished*, in
#   order, as floats.
#
# The check runs your loop for 120 steps on a scripted stand-in for CartPole whose
# episodes end by termination or by truncation, and inspects what it did: the ε used at
# every step, what was stored, when it learned and when it updated the target.

# %% exercise="5.4: train_dqn"
def train_dqn(env, config, q_net, target_net, optimizer, memory, rng):
    """Train q_net for config.max_env_steps environment steps; return the finished episodes' returns."""
    ### BEGIN SOLUTION
    episode_returns, running_return = [], 0.0
    state, _ = env.reset()
    for n in range(1, config.max_env_steps + 1):
        epsilon = epsilon_schedule(n - 1, config.eps_start, config.eps_end, config.eps_decay_steps)
        action = epsilon_greedy_action(q_net, state, epsilon, rng)
        next_state, reward, terminated, truncated, _ = env.step(action)
        memory.push(state, action, reward, next_state, terminated)
        running_return += reward
        if n >= config.learning_starts and n % config.train_every == 0:
            batch = memory.sample(config.batch_size)
            fields = (batch.rewards, batch.next_states, batch.terminated)
            if config.double_dqn:
                targets = double_dqn_targets(*fields, q_net, target_net, config.gamma)
            else:
                targets = td_targets(*fields, target_net, config.gamma)
            optimize_step(q_net, optimizer, batch, targets, config.loss, config.max_grad_norm)
        if n % config.target_update_every == 0:
            update_target(target_net, q_net, config.tau)
        if terminated or truncated:
            episode_returns.append(float(running_return))
            state, running_return = env.reset()[0], 0.0
        else:
            state = next_state
    return episode_returns
    ### END SOLUTION


# %% check="5.4"
# NBVAL_CHECK_OUTPUT
check_train_dqn(train_dqn)

# %% [markdown]
# Your loop on the real CartPole, for 4,000 steps with the course's settings otherwise.
# That is too short to solve it, but the episodes should already get longer:

# %%
short = DQNConfig(seed=SEED, max_env_steps=4_000, eps_decay_steps=3_000)
seed_everything(short.seed)
short_q = QNetwork(hidden=short.hidden)
short_target = QNetwork(hidden=short.hidden)
short_target.load_state_dict(short_q.state_dict())
short_returns = train_dqn(make_env(short.seed), short, short_q, short_target,
                          torch.optim.Adam(short_q.parameters(), lr=short.lr), ReplayMemory(short.buffer_capacity),
                          np.random.default_rng(short.seed))
print(f"{len(short_returns)} episodes; first 10: mean return {np.mean(short_returns[:10]):.1f}; "
      f"last 10: {np.mean(short_returns[-10:]):.1f}")

# %% [markdown]
# ## 5.6 Keeping the best weights: greedy checks and early stopping
#
# A DQN that has just learned CartPole often *unlearns* it a few thousand steps later:
# once the memory fills with long, successful episodes, the rare failures that taught it
# what to avoid get overwritten, and the greedy policy can collapse. Watching the training
# returns does not tell you when the policy was good, because they are ε-greedy.
#
# The course's trainer, `utils.dqn.train`, therefore adds a technique from supervised
# learning, **early stopping with best-model selection** (Prechelt 1998): every
# `check_every` steps (at the next episode end) the *greedy* policy plays
# `check_episodes` episodes on environments kept for these checks, like a validation set.
# The weights of the best check so far are kept. When a check reaches `stop_return` (500,
# a perfect score), `confirm_episodes` more greedy episodes must reach it too, so that one
# lucky check cannot end training; then training stops. The final evaluation (notebook 6)
# uses yet other environment seeds, like a test set, so the selection cannot flatter it.
#
# We train with `utils.dqn.train` rather than your `train_dqn`: its loop is the same as
# yours (read it in `utils/dqn.py`), plus the greedy checks and a callback after every
# episode for the progress display. It also produced the checkpoint notebook 6 loads.

# %% [markdown]
# ## 5.7 Training CartPole-v1
#
# The course's recommended settings are the defaults of `DQNConfig`; each field is
# documented in `utils/dqn.py`:

# %%
config = DQNConfig(seed=SEED)
config

# %% [markdown]
# Training takes well under a minute on a laptop CPU. In JupyterLab a progress bar and the
# learning curve (each episode's return, their mean over the last 20 episodes, and ε,
# against environment steps) update while it runs. The budget is `max_env_steps`;
# training usually stops well before it. Where widgets cannot be shown (a notebook run
# by a script, nbval) a line is printed at every tenth of the budget instead.

# %%
view = LiveTrainingView(config.max_env_steps)
result = train(config, on_episode=view.on_episode)
view.finish()
print(f"{result.env_steps:,} environment steps, {result.updates:,} updates, "
      f"{len(result.episode_returns)} episodes, {result.wall_s:.0f} s; stopped early: {result.stopped_early}")

# %% [markdown]
# The learning curve: each training episode (ε-greedy, so noisy), their running mean, and
# the greedy checks that chose the weights.

# %%
learning_curve(result.episode_end_steps, result.episode_returns, result.check_steps, result.check_returns,
               threshold=REWARD_THRESHOLD)

# %% [markdown]
# Is it solved? CartPole-v1 counts as solved at a mean return of at least 475 over 100
# episodes. Notebook 6 explains the evaluation; here is its verdict on 100 greedy episodes
# whose environment seeds were never used in training:

# %%
# NBVAL_CHECK_OUTPUT
eval_returns = evaluate(result.q_net)
print("solved:", is_solved(eval_returns))

# %%
print(f"mean return {eval_returns.mean():.1f}, min {eval_returns.min():.0f}, "
      f"{np.sum(eval_returns == 500)} of 100 episodes at 500")

# %% [markdown]
# ## 5.8 Saving a checkpoint
#
# A checkpoint stores the weights *and* the config that produced them, so the network
# can be rebuilt and the run reproduced. `save_checkpoint` writes both;
# `load_checkpoint` reads them back with `torch.load(..., weights_only=True)`, which
# refuses arbitrary pickled code. We write to your temporary folder, so running this
# notebook never changes the course's files:

# %%
checkpoint_path = Path(tempfile.gettempdir()) / "dqn_course" / "my_dqn.pt"
checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
save_checkpoint(checkpoint_path, result.q_net, result.config)
print("saved to", checkpoint_path)

# %%
# NBVAL_CHECK_OUTPUT
reloaded_net, reloaded_config = load_checkpoint(checkpoint_path)
same = all(torch.equal(a, b) for a, b in zip(reloaded_net.state_dict().values(), result.q_net.state_dict().values()))
print("weights identical:", same, "| config identical:", reloaded_config == result.config)

# %% [markdown]
# ## 5.9 Hyperparameter playground
#
# Change a setting, press **train**, and compare the learning curves of your runs. Each
# run starts from the same seed with the settings above, except the ones you changed, and
# a budget of 10,000 steps: the start of a full run, enough to see whether learning takes
# off. Try a learning rate ten times smaller, a target network copied every 100 steps or
# soft-updated with τ = 0.005, a 1,000-transition memory, or a faster ε decay.

# %%
hyperparameter_playground(DQNConfig(seed=SEED, max_env_steps=10_000))

# %% [markdown]
# ## Recap
#
# * The TD target $y = r + \gamma(1 - \text{terminated})\max_{a'} Q(s', a'; \theta^-)$ is a
#   constant (no gradient) from a target network; truncated transitions bootstrap.
# * One step: Q-values of the *taken* actions, `(B,)` against `(B,)`; Huber loss; `zero_grad`,
#   `backward`, norm clipping if any, `step`.
# * The target network follows by hard copies every $C$ steps (Mnih et al. 2015) or by
#   Polyak averaging every step (Lillicrap et al. 2015). Double DQN (van Hasselt et al.
#   2016) removes most of the max's upward bias.
# * The loop runs on one global step clock: ε, learning and target updates all count
#   environment steps. Greedy checks keep the best weights and stop early.
#
# **Next:** notebook 6 evaluates a trained agent properly: 100 seeded episodes, the solved
# criterion, videos, and a look inside the learned Q-function.
#
# **References.** V. Mnih et al., "Human-level control through deep reinforcement
# learning", *Nature* 518, 529–533 (2015). H. van Hasselt, A. Guez and D. Silver, "Deep
# reinforcement learning with double Q-learning", *AAAI* (2016). T. P. Lillicrap et al.,
# "Continuous control with deep reinforcement learning", arXiv:1509.02971 (2015).
# R. S. Sutton and A. G. Barto, *Reinforcement Learning: An Introduction*, 2nd ed., MIT
# Press (2018). L. Prechelt, "Early stopping — but when?", in *Neural Networks: Tricks of
# the Trade*, Springer (1998).
