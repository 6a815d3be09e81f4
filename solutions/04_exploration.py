# %% [markdown]
# # 4 · ε-greedy exploration
#
# An agent that always takes the action it currently believes best never finds out
# whether the other action was better: its wrong estimates are never corrected, because
# it never tries them. DQN explores with the simplest rule that works on CartPole,
# **ε-greedy**: with probability $\varepsilon$ take a random action, otherwise the greedy
# one, with $\varepsilon$ shrinking as the agent learns (Mnih et al. 2015). This notebook
# builds that rule and the clock that drives it, and shows how the seed notebook's clock
# switched exploration off after a few hundred steps.
#
# **You will:** write a linear ε schedule of the *global* step; write ε-greedy action
# selection that draws its randomness from a generator you pass in; measure the action
# frequencies it produces; write an episode loop with one step counter across episodes;
# compare with the seed's fake clock; meet Boltzmann exploration and noisy networks.
#
# **Prerequisites:** notebook 3 (the Q-network and the greedy action). **Time:** about
# 40–60 minutes.

# %%
# NBVAL_CHECK_OUTPUT
import math

import numpy as np
import torch
from torch import nn

from utils.checks import check_epsilon_greedy, check_epsilon_schedule, check_run_episodes
from utils.dqn import DQNConfig
from utils.networks import QNetwork
from utils.notebook import setup_notebook
from utils.plotting import line_plot
from utils.policies import greedy_action
from utils.seeding import make_env
from utils.widgets import epsilon_explorer

SEED = 0
setup_notebook(SEED)  # seeds random/NumPy/torch, one torch thread, notices for unfinished exercises
config = DQNConfig()  # the course's recommended settings, used in notebook 5
print(f"eps_start={config.eps_start}, eps_end={config.eps_end}, eps_decay_steps={config.eps_decay_steps}")

# %% [markdown]
# ## 4.1 The ε-greedy policy
#
# With $|\mathcal A|$ actions and greedy action $a^* = \arg\max_a Q(s, a; \theta)$, ε-greedy
# takes a uniformly random action with probability $\varepsilon$ and $a^*$ otherwise. The
# random draw can also land on $a^*$, so
#
# $$\pi_\varepsilon(a \mid s) = \begin{cases} 1 - \varepsilon + \varepsilon / |\mathcal A| & a = a^* \\ \varepsilon / |\mathcal A| & a \ne a^* . \end{cases}$$
#
# For tabular Q-learning this is enough in the limit: if every state–action pair keeps
# being visited (and the step sizes decay suitably) the estimates converge to $Q^*$
# (Watkins & Dayan 1992). It is a heuristic, not an efficient strategy: ε-greedy comes
# with **no PAC guarantee** in general. (A PAC guarantee, for *probably approximately
# correct*, says that with probability at least $1 - \delta$ the agent acts more than
# $\epsilon$ worse than optimally on at most a number of steps polynomial in the numbers
# of states and actions, $1/\epsilon$, $1/\delta$ and the horizon; Strehl et al. 2009.)
# Its exploration is undirected dithering, and
# where a reward lies at the end of a long chain of right moves a dithering agent needs
# a number of steps exponential in the chain's length to stumble on it
# (Osband et al. 2016). CartPole is forgiving: random actions reach most relevant states
# quickly.
#
# ## 4.2 A decaying ε, on the right clock
#
# Early on the Q-values are random, so acting on them teaches little: explore a lot.
# Later the agent should mostly use what it learned, but keep a little exploration so
# that its estimates of the other actions stay honest. The course decays ε linearly with
# the **global step** $t$, the number of environment steps taken so far, over all
# episodes:
#
# $$\varepsilon(t) = \varepsilon_{\text{start}} + \min\!\Big(\frac{t}{T}, 1\Big)\,(\varepsilon_{\text{end}} - \varepsilon_{\text{start}}),$$
#
# reaching $\varepsilon_{\text{end}}$ after $T$ = `decay_steps` steps and staying there.
#
# ### Exercise 4.1: `epsilon_schedule`
#
# Write `epsilon_schedule(step, start, end, decay_steps) -> float`: `step` is the global
# step (an `int`, $\ge 0$), `start`, `end` floats, `decay_steps` a positive `int`. Return
# $\varepsilon(\text{step})$ as a Python `float`, using only the arguments (no globals).

# %% exercise="4.1: epsilon_schedule"
def epsilon_schedule(step: int, start: float, end: float, decay_steps: int) -> float:
    """ε after `step` global steps: linear from start to end over decay_steps, then end."""
    ### BEGIN SOLUTION
    fraction = min(step / decay_steps, 1.0)
    return start + fraction * (end - start)
    ### END SOLUTION


# %% check="4.1"
# NBVAL_CHECK_OUTPUT
check_epsilon_schedule(epsilon_schedule)

# %% [markdown]
# The seed notebook used an exponential schedule instead,
# $\varepsilon(t) = \varepsilon_{\text{end}} + (\varepsilon_{\text{start}} - \varepsilon_{\text{end}})\, e^{-t/\tau}$
# with $\varepsilon_{\text{start}} = 0.9$, $\varepsilon_{\text{end}} = 0.05$, $\tau = 1000$.
# Both are fine when driven by the right clock. Note what its "half-life" means: the
# **excess** $\varepsilon - \varepsilon_{\text{end}}$ halves every $\tau \ln 2 \approx 693$
# steps; $\varepsilon$ itself falls from 0.9 to 0.45 only after
# $\tau \ln\frac{0.9 - 0.05}{0.45 - 0.05} \approx 754$ steps.

# %%
# NBVAL_CHECK_OUTPUT
def seed_epsilon(step: float, start: float = 0.9, end: float = 0.05, tau: float = 1000.0) -> float:
    """The seed notebook's exponential schedule."""
    return end + (start - end) * math.exp(-step / tau)


half_life = 1000 * math.log(2)
print(f"excess at t=0: {seed_epsilon(0) - 0.05:.3f}, at t = tau ln 2 = {half_life:.0f}: {seed_epsilon(half_life) - 0.05:.3f}")
print(f"epsilon halves (0.9 -> 0.45) at t = {1000 * math.log(0.85 / 0.40):.0f}")

# %%
steps = np.arange(0, 15_001, 50)
line_plot(steps, {
    f"linear, course settings (T = {config.eps_decay_steps:,})":
        [epsilon_schedule(int(t), config.eps_start, config.eps_end, config.eps_decay_steps) for t in steps],
    "exponential, seed settings (tau = 1000)": [seed_epsilon(t) for t in steps],
}, xlabel="global step t (environment steps over all episodes)", ylabel="epsilon",
    title="Exploration schedules", hlines={"eps_end = 0.05": config.eps_end})

# %% [markdown]
# ## 4.3 Acting ε-greedily
#
# ### Exercise 4.2: `epsilon_greedy_action`
#
# Write `epsilon_greedy_action(q_net, state, epsilon, rng) -> int`:
#
# * `q_net` is a Q-network, `state` one observation (NumPy array `(obs_dim,)`), `epsilon`
#   a float in $[0, 1]$, `rng` a `np.random.Generator` (from `np.random.default_rng(seed)`).
# * With probability `epsilon` return a uniformly random action among **all**
#   $|\mathcal A|$ actions ($|\mathcal A|$ is the length of the Q-value vector); otherwise
#   the greedy action. Return a Python `int`.
# * Draw every random number from `rng` (`rng.random()`, `rng.integers(n)`), never from
#   `random`, `np.random` or `torch`: the caller owns the generator, so runs are
#   reproducible and tests can control them.
# * Compute Q-values under `torch.no_grad()`, from the `q_net` argument.

# %% exercise="4.2: epsilon_greedy_action"
def epsilon_greedy_action(q_net: nn.Module, state, epsilon: float, rng: np.random.Generator) -> int:
    """A uniformly random action with probability epsilon, else the greedy one."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        q_values = q_net(torch.as_tensor(state, dtype=torch.float32))
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    return int(q_values.argmax())
    ### END SOLUTION


# %% check="4.2"
# NBVAL_CHECK_OUTPUT
check_epsilon_greedy(epsilon_greedy_action)

# %% [markdown]
# ### How often is the greedy action taken?
#
# Count, over 10,000 calls in one state, how often the greedy action comes, and compare
# with $1 - \varepsilon + \varepsilon/|\mathcal A|$. The count is binomial, so the
# measured share should lie within about two standard errors
# $\sqrt{p(1-p)/n}$ of the prediction $p$:

# %%
# NBVAL_CHECK_OUTPUT
q_net = QNetwork()
state = make_env(SEED).reset()[0]
greedy = greedy_action(q_net, state)
n = 10_000
for epsilon in (0.0, 0.1, 0.3, 1.0):
    rng = np.random.default_rng(SEED)
    share = np.mean([epsilon_greedy_action(q_net, state, epsilon, rng) == greedy for _ in range(n)])
    p = 1 - epsilon + epsilon / 2
    print(f"epsilon={epsilon:.1f}: greedy share {share:.4f}, predicted {p:.4f} ± {2 * math.sqrt(p * (1 - p) / n):.4f}")

# %% [markdown]
# ## 4.4 One clock for all episodes
#
# ### Exercise 4.3: `run_episodes`
#
# Write `run_episodes(env, q_net, n_episodes, schedule, rng) -> list[int]` that plays
# `n_episodes` episodes with ε-greedy actions and returns their lengths:
#
# * keep **one** counter `global_step`, starting at 0 and increased after every
#   environment step, never reset between episodes;
# * before every action, `epsilon = schedule(global_step)` (`schedule` is any function
#   of the step, e.g. `lambda t: epsilon_schedule(t, 1.0, 0.05, 1000)`), then act with
#   your `epsilon_greedy_action(q_net, state, epsilon, rng)`;
# * end an episode when `terminated or truncated` (a truncated episode is over too, it
#   just is not terminal); start the next with `env.reset()`.

# %% exercise="4.3: run_episodes"
def run_episodes(env, q_net: nn.Module, n_episodes: int, schedule, rng: np.random.Generator) -> list:
    """Play n_episodes ε-greedy episodes with ε = schedule(global step); return their lengths."""
    ### BEGIN SOLUTION
    lengths, global_step = [], 0
    for _ in range(n_episodes):
        state, _ = env.reset()
        length, done = 0, False
        while not done:
            action = epsilon_greedy_action(q_net, state, schedule(global_step), rng)
            state, _, terminated, truncated, _ = env.step(action)
            global_step, length = global_step + 1, length + 1
            done = terminated or truncated
        lengths.append(length)
    return lengths
    ### END SOLUTION


# %% check="4.3"
# NBVAL_CHECK_OUTPUT
check_run_episodes(run_episodes)

# %% [markdown]
# > **Common pitfall: ε on a fake clock.** The seed notebook called
# > `e_greedy_policy(q_network, state, i_episode * 500 + t)`: a "time step" that jumps
# > by 500 at every new episode, as if every episode lasted the maximum 500 steps. Early
# > CartPole episodes last about 20 steps, so that clock runs 25 times too fast. Play ten
# > real episodes and compare ε at the start of each episode, with the seed's
# > exponential schedule, on the fake clock and on the global step:

# %%
# NBVAL_CHECK_OUTPUT
lengths = run_episodes(make_env(SEED), QNetwork(), 10, lambda t: seed_epsilon(t), np.random.default_rng(SEED))
starts = np.cumsum([0] + lengths[:-1])
print("episode  length  global step  eps (global step)  fake clock  eps (fake clock)")
for episode, (length, start) in enumerate(zip(lengths, starts)):
    print(f"{episode + 1:7d} {length:7d} {start:12d} {seed_epsilon(start):18.3f} {500 * episode:11d} "
          f"{seed_epsilon(500 * episode):17.3f}")

# %% [markdown]
# On the fake clock ε is about 0.36 in the third episode and about 0.06 by the tenth,
# after fewer than 200 real steps: exploration is over before the agent has
# learned anything, and the replay memory fills with near-greedy experience of an
# untrained network. On the global step ε is still about 0.75. The fix is the one counter
# of Exercise 4.3.

# %% [markdown]
# **Explore.** Move the schedule's sliders and the typical episode length. Left: the
# linear and the exponential shape with the sliders' settings, on the global step, and
# for reference the seed's own schedule (exponential, 0.9 → 0.05, $\tau = 1000$). Right:
# the chosen shape driven by the global step and by the seed's clock
# `i_episode * 500 + t`, against the real number of environment steps; the dotted line
# marks $\varepsilon_{\text{start}} + 0.9\,(\varepsilon_{\text{end}} - \varepsilon_{\text{start}})$,
# where 90% of the decay is done. With 500-step episodes the two clocks agree; the
# shorter the episodes, the sooner the seed's clock ends exploration.

# %%
epsilon_explorer()

# %% [markdown]
# > **Common pitfall: the global random generator.** `random.random()` or
# > `np.random.rand()` inside the policy work, but then exploration depends on whatever
# > else consumed that generator. Passing `rng` makes the policy a function of its
# > arguments: the same seed gives the same actions, in the notebook, in training and in
# > tests.
#
# ## 4.5 Alternatives, briefly
#
# * **Boltzmann (softmax) exploration** picks $a$ with probability
#   $\pi(a \mid s) = e^{Q(s, a)/T} \big/ \sum_b e^{Q(s, b)/T}$: better-looking actions are
#   tried more often, and the temperature $T$ sets how greedy it is. Adding the same
#   constant to every $Q(s, b)$ changes nothing (the softmax is shift-invariant), so the
#   level of the Q-values does not matter; only the gaps between them, divided by $T$, do.
#   With two actions, $\pi(a_1 \mid s) = 1 / \big(1 + e^{-(Q(s, a_1) - Q(s, a_0))/T}\big)$.
#   A fixed $T$ therefore explores differently wherever the gaps differ, from state to
#   state and as training changes the estimates:

# %%
# NBVAL_CHECK_OUTPUT
for q_values in ([0.1, 0.2], [90.1, 90.2], [90.0, 91.0]):
    gap = q_values[1] - q_values[0]
    for temperature in (0.1, 1.0):
        probabilities = torch.softmax(torch.tensor(q_values) / temperature, dim=0)
        print(f"Q = {q_values}, T = {temperature}: gap / T = {gap / temperature:4.1f}, "
              f"P(better action) = {probabilities[1]:.3f}")

# %% [markdown]
# The same gap gives the same probabilities near 0 and near 90; a gap ten times larger at
# $T = 1$ gives what the small gap gives at $T = 0.1$: only the gap divided by $T$ counts.
#
# * **Noisy networks** (Fortunato et al. 2018) add learned, parameterised noise to the
#   network's weights: exploration then depends on the state and fades where the
#   network learns to shrink the noise, with no ε schedule to tune.
# * **Directed exploration** (count-based bonuses, optimism, bootstrapped ensembles as
#   in Osband et al. 2016) seeks out what the agent has not tried yet instead of
#   dithering.
#
# None of these is guaranteed to be efficient for deep networks in general; each does
# better than ε-greedy on some problems and worse on others. For CartPole, ε-greedy on
# the right clock is enough.
#
# ## Recap
#
# * ε-greedy: a uniformly random action with probability $\varepsilon$, else the greedy
#   one; the greedy action has probability $1 - \varepsilon + \varepsilon/|\mathcal A|$.
#   It is a heuristic with no PAC guarantee in general.
# * ε decays with the **global** step count, linearly to $\varepsilon_{\text{end}}$ and
#   then constant; the seed's `i_episode * 500 + t` clock ended exploration after a few
#   hundred steps. For an exponential schedule, $\tau \ln 2$ is the half-life of the
#   excess $\varepsilon - \varepsilon_{\text{end}}$.
# * Randomness comes from a generator passed in, so every run can be reproduced.
#
# **Next:** notebook 5 puts replay memory, Q-network and ε-greedy together with the TD
# target and a target network, and trains the agent.
#
# **References.** V. Mnih et al., "Human-level control through deep reinforcement
# learning", *Nature* 518, 529–533 (2015). R. S. Sutton and A. G. Barto,
# *Reinforcement Learning: An Introduction*, 2nd ed., MIT Press (2018), sec. 2.2–2.7
# and 6.5. C. J. C. H. Watkins and P. Dayan, "Q-learning", *Machine Learning* 8,
# 279–292 (1992). I. Osband, C. Blundell, A. Pritzel and B. Van Roy, "Deep exploration
# via bootstrapped DQN", *NeurIPS* (2016). M. Fortunato et al., "Noisy networks for
# exploration", *ICLR* (2018). A. L. Strehl, L. Li and M. L. Littman, "Reinforcement
# learning in finite MDPs: PAC analysis", *JMLR* 10, 2413–2444 (2009).
