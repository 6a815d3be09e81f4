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
# greedy checks; train **your own agent** with **your own loop** until it solves CartPole-v1,
# save it (notebook 6 evaluates and films it), and watch how its values grow.
#
# **Prerequisites:** notebooks 1–4 (their reference versions are imported from `utils`, so
# you can start here). **Time:** about 90–120 minutes, plus seconds to a minute or two of
# training (step counts and times vary by machine).

# %%
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils import dqn
from utils.checks import check_optimize_step, check_td_targets, check_train_dqn, check_update_target
from utils.dqn import DQNConfig, double_dqn_targets
from utils.evaluation import REWARD_THRESHOLD, SHIPPED_CHECKPOINT, evaluate, is_solved, load_checkpoint
from utils.networks import QNetwork
from utils.notebook import setup_notebook
from utils.plotting import learning_curve, line_plot
from utils.policies import epsilon_greedy_action, epsilon_schedule
from utils.replay import ReplayMemory, fill_with_random_agent
from utils.seeding import make_env
from utils.student_agent import agent_path, train_your_agent
from utils.widgets import hyperparameter_playground

SEED = 0
setup_notebook(SEED, optimizers=True)  # seeds, one torch thread, notices for unfinished exercises

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
#   500-step time limit (`truncated`) still has a future, so its target **bootstraps**:
#   it uses the current estimate of the next state's value, $\max_{a'} Q(s'_i, a'; \theta^-)$,
#   in place of the unknown rest of the return. Why is that right? The time left is not
#   part of CartPole's observation, so the same state $s'$ occurs at step 20 and at step
#   500; the agent cannot tell them apart, and its values must be those of the task without
#   a clock. Treating the cut as a terminal state would teach it that the state has no
#   future (Pardo et al. 2018).

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
# error $\delta^2$ (`F.mse_loss`) has derivative $2\delta$ with respect to $Q(s, a; \theta)$
# (up to sign): one transition with a huge TD error (common early on, when targets are
# still wrong) makes a huge step. The Huber loss
#
# $$\ell(\delta) = \begin{cases} \tfrac12 \delta^2 & |\delta| \le 1 \\ |\delta| - \tfrac12 & |\delta| > 1 \end{cases}$$
#
# is quadratic near 0 but grows linearly, so its derivative with respect to the predicted
# $Q(s, a; \theta)$ is bounded by 1 per transition. (The gradient with respect to the
# *weights* is that number times $\nabla_\theta Q$, which is not bounded.) Mnih et al.
# (2015) clipped the error term to $[-1, 1]$, which is the same thing. PyTorch calls the
# Huber loss `F.smooth_l1_loss` (with its default `beta=1`).

# %%
errors = np.linspace(-4, 4, 161)
line_plot(errors, {"squared error δ²": errors**2, "its derivative 2δ": 2 * errors,
                   "Huber": np.where(np.abs(errors) <= 1, errors**2 / 2, np.abs(errors) - 0.5),
                   "its derivative, clip(δ, -1, 1)": np.clip(errors, -1, 1)},
          xlabel="TD error δ", ylabel="loss / derivative",
          title="Huber grows linearly; its derivative stays in [-1, 1], the squared error's grows with δ")

# %% [markdown]
# **Gradient clipping** bounds the step in another way, after `backward()`:
#
# * *Value clipping*, `clip_grad_value_(params, c)`, clamps each gradient entry to
#   $[-c, c]$ on its own. When some entries are clipped and others are not, the step points
#   in a different direction from the gradient. The seed notebook clipped at $c = 100$ every
#   step; for CartPole's Huber gradients that bound is practically never reached, so it
#   changed nothing.
# * *Norm clipping*, `clip_grad_norm_(params, c)`, rescales the whole gradient $g$ to
#   $g \cdot \min(1, c / \lVert g \rVert)$: the direction stays, only the step length is capped.
#   It is the usual choice when clipping is needed. The course's default
#   (`DQNConfig.max_grad_norm = None`) does not clip. That is a choice, not something the
#   Huber loss makes unnecessary: Huber bounds each transition's derivative with respect to
#   $Q(s, a; \theta)$, and the gradient with respect to the weights is that derivative
#   times $\nabla_\theta Q$, which nothing bounds. The recipe was tuned without clipping
#   and solves CartPole without it; Stable-Baselines3's DQN clips the norm at 10 by
#   default (notebook 8).
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
#   `target_update_every = 125` environment steps. Mnih et al. counted $C$ in *parameter
#   updates* ($C$ = 10,000 updates, with an update every 4 actions); the course counts
#   environment steps, and with its update every 2 steps a copy every 125 steps is one
#   every 62 or 63 updates.
# * **Soft (Polyak) update** (Lillicrap et al. 2015, for DDPG): every step,
#   $\theta^- \leftarrow \tau\,\theta + (1 - \tau)\,\theta^-$ with a small $\tau$ such as
#   0.005. The target is an exponential moving average of the weights over about $1/\tau$
#   steps.
#
# One function covers both: with $\tau = 1$ the soft update *is* a copy.
#
# **The deadly triad, again.** Notebook 3 named the three ingredients that can make value
# estimates diverge: function approximation, bootstrapping and off-policy learning. DQN
# has all three. A slowly moving target and a replay memory of many past policies make
# divergence rarer in practice (Mnih et al. 2015 trained DQN without each and it scored
# far lower), not impossible (van Hasselt et al. 2018 found deep Q-learning's values
# growing beyond any possible return, though rarely without bound): this is one reason
# why the course watches the greedy policy during training (section 5.6).

# %% [markdown]
# > **Common pitfall: the target updated once per episode, and DQN credited with soft
# > updates.** The seed notebook soft-updated with $\tau = 0.005$ at the end of each
# > *episode*: with episodes of ~20 steps, the target then trailed hundreds of episodes
# > behind and learning crawled. A soft update belongs to every *step* (in the course's loop,
# > which updates the target every `target_update_every` steps whatever $\tau$ is, a config
# > with `target_update_every = 1`). The seed also presented soft updates as DQN's idea;
# > DQN copied the weights every $C$ steps, and Polyak updates come from DDPG. Both work;
# > name them correctly.

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
# The choice and its evaluation now use different weights, which *reduces* the bias. It
# does not remove it: the target network is a lagged copy of the online network, not an
# independent estimate, so their errors are correlated. It costs one more forward pass.
# `utils.dqn.double_dqn_targets(rewards, next_states, terminated, q_net, target_net, gamma)`
# implements it and the course's default uses it (`DQNConfig.double_dqn = True`). Its
# targets never exceed the plain ones:

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
#         record the episode's return
#         if on_episode_end(n, return, ε, q_net): stop  # the course's greedy checks (5.6)
#         state = env.reset()
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
# Write `train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None) -> list`:
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
# * When an episode ends, append its return (sum of rewards) to a list; then, if
#   `on_episode_end` is not `None`, call `on_episode_end(n, episode_return, epsilon, q_net)`
#   with the global step count `n` and the ε of the last step; if it returns `True`, stop
#   and return the list. (Section 5.7 passes the course's greedy checks here, so that your
#   loop can stop once its agent is good; you don't write them.)
# * Return the list of the returns of the episodes that *finished*, in order, as floats.
#
# The check runs your loop for 120 steps on a scripted stand-in for CartPole whose
# episodes end by termination or by truncation, and inspects what it did: the ε used at
# every step, what was stored, when it learned and when it updated the target, and what
# it did with `on_episode_end`.

# %% exercise="5.4: train_dqn"
def train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None):
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
            if on_episode_end is not None and on_episode_end(n, running_return, epsilon, q_net):
                break
            state, running_return = env.reset()[0], 0.0
        else:
            state = next_state
    return episode_returns
    ### END SOLUTION


# %% check="5.4"
# NBVAL_CHECK_OUTPUT
check_train_dqn(train_dqn)

# %% [markdown]
# ## 5.6 Keeping the best weights: greedy checks and early stopping
#
# The returns printed during training come from the ε-greedy policy, so they do not tell
# you how good the *greedy* policy is, and that policy need not improve steadily: DQN
# runs often plateau and then jump, and can get worse again after being good. One
# hypothesis for such drops is that once the memory holds mostly long, successful
# episodes, the rare failures that taught the agent what to avoid are sampled less (and
# eventually overwritten), so it forgets them; the deadly triad (section 5.3) is another.
#
# The course therefore adds a technique from supervised learning, **early stopping with
# best-model selection** (Prechelt 1998): every `check_every` steps (at the next episode
# end) the *greedy* policy plays `check_episodes` episodes on environments kept for these
# checks, like a validation set. The weights of the best check so far are kept. When a
# check reaches `stop_return` (500, a perfect score), `confirm_episodes` more greedy
# episodes (1,979) must reach it too; then training stops. So many, because a policy that
# fails one episode in 300 still passes 20 episodes 94% of the time, and 100 more 72% of
# the time, but 1,979 more only 0.1% of the time ($(1 - 1/300)^{1979}$); the episodes of
# a check run side by side, so even 1,999 of them cost little next to training. The final
# evaluation (notebook 6) uses yet other environment seeds, like a test set.
#
# You don't write this part: `utils.dqn.TrainingMonitor` does it, and its
# `on_episode_end(n, episode_return, epsilon, q_net)` is what section 5.7 passes to your
# `train_dqn`. The course's own trainer, `utils.dqn.train`, is the same loop as yours
# calling the same monitor (read it in `utils/dqn.py`).

# %% [markdown]
# ## 5.7 Training your agent
#
# The course's recommended settings are the defaults of `DQNConfig`; each field is
# documented in `utils/dqn.py`:

# %%
# NBVAL_CHECK_OUTPUT
config = DQNConfig(seed=SEED)
config

# %% [markdown]
# `train_your_agent` first runs the checks of exercises 5.1–5.4 (if one is not done or not
# right, it says which one in one line and trains nothing). Then it builds the networks, the Adam
# optimizer, the replay memory, the environment and the random generator from `config`,
# exactly as `utils.dqn.train` would, and calls **your** `train_dqn` with them and with the
# greedy checks as `on_episode_end`. The budget is `config.max_env_steps` = 100,000 steps;
# a run that stops early takes from seconds on a quiet laptop to a minute or two on a
# slow or busy one (step counts and times vary by machine). In JupyterLab a progress
# bar and the learning curve update while it runs; elsewhere a line is printed at every
# tenth of the budget. Either way the verdict is printed as a line of text when it ends.
# At the end it keeps the best checked weights and saves them as `my_dqn_agent.pt` next to
# this notebook (an earlier agent is kept as `my_dqn_agent.previous.pt`).

# %%
result = train_your_agent(td_targets, optimize_step, update_target, train_dqn, config)

# %% [markdown]
# The learning curve: each training episode (ε-greedy, so noisy), their running mean, and
# the greedy checks that chose the weights.

# %%
learning_curve(result.episode_end_steps, result.episode_returns, result.check_steps, result.check_returns,
               threshold=REWARD_THRESHOLD)

# %% [markdown]
# Is it solved? CartPole-v1 counts as solved at a mean return of at least 475 over 100
# episodes. Notebook 6 explains the evaluation; here is its verdict on 100 greedy episodes
# whose environment seeds were never used in training or in the checks:

# %%
# NBVAL_CHECK_OUTPUT
eval_returns = evaluate(result.q_net)
print("solved:", is_solved(eval_returns))
print(f"mean return {eval_returns.mean():.1f}, min {eval_returns.min():.0f}, "
      f"{np.sum(eval_returns == 500)} of 100 episodes at 500")

# %% [markdown]
# ### How large are the values?
#
# A state from which the pole can be balanced forever is worth
# $\sum_k \gamma^k = 1/(1-\gamma) = 100$, since truncation does not end its future. Yet the
# network's value of the upright state, $\max_a Q(0, a)$, recorded at every greedy check,
# stays well below that. The hard target copies explain it. Between two copies the
# network regresses towards $r + \gamma \max_{a'} Q(s', a'; \theta^-)$ with $\theta^-$ frozen,
# which is (approximately) one sweep of value iteration. Starting from $Q \approx 0$ with a
# reward of 1 per step, after $k$ sweeps a state that can be held forever has reached about
#
# $$Q_k = 1 + \gamma Q_{k-1} = \sum_{j=0}^{k-1} \gamma^j = \frac{1 - \gamma^k}{1 - \gamma} = 100\,(1 - 0.99^k).$$
#
# Which copies count as sweeps? Learning starts at step 1,000 (`learning_starts`), so the
# eight copies at steps 125, 250, …, 1,000 copy a network that has not learned yet (the
# last one after a single update, which runs before the copy at step 1,000); the first
# sweep is fitted between steps 1,000 and 1,125. After $n$ environment steps the
# target network has been through about $k = (n - 1{,}000)/125$ sweeps. A run stopped
# after about 17,000 steps has made about 128, and $100\,(1 - 0.99^{128}) \approx 72$. The plot puts the
# prediction beside the values your network had at its greedy checks, and the cell prints
# how far apart they are:

# %%
sweeps = (np.asarray(result.check_steps) - config.learning_starts) / config.target_update_every
predicted = 100 * (1 - config.gamma ** sweeps)
line_plot(result.check_steps, {"max_a Q(0, a) at the greedy checks": result.check_values,
                               "100 (1 - 0.99^k), k = sweeps so far": predicted},
          xlabel="environment steps", ylabel="value of the upright state", hlines={"1 / (1 - γ) = 100": 100},
          title="The values grow by about one sweep of value iteration per target copy")
gaps = np.asarray(result.check_values) - predicted
print(f"measured minus predicted at the {gaps.size} greedy checks: from {gaps.min():+.1f} to {gaps.max():+.1f}; "
      f"above the prediction at {np.sum(gaps > 0)} of them")

# %% [markdown]
# The prediction is only approximate, and for the course's own run (the agent notebook 6
# shows if you have not trained yours) the measured values sit a few units *above* it at
# every check. Two things the recurrence leaves out can push them up. The targets take a
# maximum over noisy estimates, whose upward bias section 5.4 showed; double DQN reduces
# it but does not remove it. And the network is one function of all states: an update
# towards one state's target also moves its neighbours' values. We have not measured how
# much of the gap each explains. A sweep also need not finish: a few hundred gradient
# steps on sampled transitions fit the targets only partly, which would push the values
# *below* the prediction.
#
# The values are far from converged, and the policy is still perfect: it needs only the
# right *ordering* of the two actions' values in each state, not their size.

# %% [markdown]
# ## 5.8 Your agent's file
#
# A checkpoint stores the weights *and* the config that produced them, so the network
# can be rebuilt and the run reproduced. `utils.evaluation.save_checkpoint` wrote
# `my_dqn_agent.pt`; `load_checkpoint` reads it back with `torch.load(..., weights_only=True)`,
# which refuses arbitrary pickled code:

# %%
# NBVAL_CHECK_OUTPUT
trained_weights = result.q_net.state_dict()
reloaded_net, reloaded_config = load_checkpoint(agent_path())
same = all(torch.equal(a, b) for a, b in zip(reloaded_net.state_dict().values(), trained_weights.values()))
print("weights identical:", same, "| config identical:", reloaded_config == result.config)

# %% [markdown]
# The course ships an agent trained by `utils.dqn.train` with the same config. If your
# loop does what the pseudocode says, in the same order (the random generators are used
# for the same things at the same time), your weights are identical to it bit for bit on
# the machine type it was trained on. A loop that is correct but orders things
# differently (or a different CPU, whose floating-point rounding differs) gives another
# agent that is just as valid; what matters is the evaluation above.

# %%
# NBVAL_CHECK_OUTPUT
shipped_net, _ = load_checkpoint(SHIPPED_CHECKPOINT)
identical = all(torch.equal(a, b) for a, b in zip(shipped_net.state_dict().values(), result.q_net.state_dict().values()))
print("weights identical to the course's reference agent:", identical)

# %% [markdown]
# ## 5.9 Hyperparameter playground
#
# Change a setting, press **train**, and compare the learning curves of your runs. Each
# run starts from the same seed with the settings above, except the ones you changed, and
# a budget of 10,000 steps: the start of a full run, enough to see whether learning takes
# off. Try a learning rate ten times smaller, a target network copied every 1,000 steps or
# soft-updated with τ = 0.005, a 1,000-transition memory, or a slower ε decay.

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
#   Polyak averaging every step (Lillicrap et al. 2015). Mnih et al. counted $C$ in updates,
#   the course in environment steps. Double DQN (van Hasselt et al. 2016) reduces the
#   max's upward bias.
# * The loop runs on one global step clock: ε, learning and target updates all count
#   environment steps. Greedy checks keep the best weights and stop early.
# * Your loop trained your agent, `my_dqn_agent.pt`. After $k$ sweeps (hard copies made
#   after learning started) its values are about $100\,(1 - 0.99^k)$: far from converged,
#   yet the greedy policy can be perfect.
#
# **Next:** notebook 6 evaluates your agent properly: 100 seeded episodes, the solved
# criterion, videos, and a look inside its Q-function.
#
# **References.** V. Mnih et al., "Human-level control through deep reinforcement
# learning", *Nature* 518, 529–533 (2015). H. van Hasselt, A. Guez and D. Silver, "Deep
# reinforcement learning with double Q-learning", *AAAI* (2016). T. P. Lillicrap et al.,
# "Continuous control with deep reinforcement learning", arXiv:1509.02971 (2015).
# R. S. Sutton and A. G. Barto, *Reinforcement Learning: An Introduction*, 2nd ed., MIT
# Press (2018). F. Pardo, A. Tavakoli, V. Levdik and P. Kormushev, "Time limits in
# reinforcement learning", *ICML* (2018). H. van Hasselt et al., "Deep reinforcement
# learning and the deadly triad", arXiv:1812.02648 (2018). L. Prechelt, "Early stopping — but when?", in *Neural Networks: Tricks of
# the Trade*, Springer (1998).
