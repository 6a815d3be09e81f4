# %% [markdown]
# # 8 · Capstone: your DQN on new tasks, and the same job with Stable-Baselines3
#
# After seven notebooks you have a DQN that solves CartPole. What transfers to other
# tasks, and what does not? This notebook takes the course's DQN, unchanged except for
# the task, to two other classic-control problems. On **Acrobot** it works. On
# **MountainCar** it solves no seed of five, and we read its runs to see why and try one
# principled remedy. Then it does the
# CartPole job again with **Stable-Baselines3** (SB3), the library you would reach for
# next, and compares the two honestly.
#
# **You will:** adapt a config and a solved verdict to a reward that is negative per step;
# read what the recipe's ε-greedy exploration does on a sparse-reward task; write a
# count-based exploration bonus; map every `DQNConfig` setting to SB3's; wrap an SB3 model
# so the course's evaluation can score it; compare both libraries over thirty held-out seeds,
# with the tests of notebook 7.
#
# **Prerequisites:** notebooks 1–7. **Time:** about 90–120 minutes. No cell trains for
# long: the multi-seed runs come from `python -m benchmarks.capstone` and
# `python -m benchmarks.sb3_compare` (committed in `results/`), and the Acrobot agent you
# watch ships with the course (`python -m tools.train_checkpoint --task acrobot`
# retrains it).
#
# **Which seeds.** Training seeds play separate parts, written in `utils.seeding`: the
# notebooks' own seed is 0; CartPole's recipe was tuned on seeds 0–39, and its stop rule
# on 50–89 and 0–99; notebook 8's
# settings for Acrobot and MountainCar were tried on seeds 100–102 and are reported on
# seeds 0–4; the comparison with SB3 runs on seeds 200–229, never used to choose anything
# on any task. The cell below prints them from there.

# %%
import inspect

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import DQN
from torch import nn

from utils.ablation import load_runs
from utils.checks import check_count_bonus, check_negative_reward_task, check_sb3_wrapper
from utils.dqn import DQNConfig
from utils.evaluation import EVAL_SEED, SHIPPED_CHECKPOINT, evaluate, load_checkpoint, reward_threshold
from utils.notebook import setup_notebook
from utils.plotting import coordinate_histograms
from utils.stats import bonferroni_confidence, fisher_exact_p, mcnemar_exact_p, paired_ratio_ci, sign_test_p
from utils.policies import greedy_action
from utils.sb3_bridge import (SB3_RESULTS, ZOO_TIMESTEPS, mapping_table, not_reproduced, sb3_kwargs, train_sb3_with_eval,
                              zoo_settings)
from utils.seeding import (CAPSTONE_SEEDS, CARTPOLE_TUNING_SEEDS, CONFIRM_SWEEP_SEEDS, HELD_OUT_SEEDS, NOTEBOOK_SEED,
                           STOP_SWEEP_SEEDS, TASK_TUNING_SEEDS, make_env, seed_span)
from utils.tasks import RESULTS as TASK_RESULTS
from utils.tasks import TASK_CONFIGS
from utils.video import show_rollout

SEED = 0
setup_notebook(SEED)  # seeds random/NumPy/torch, one torch thread, notices for unfinished exercises
task_runs = sorted(load_runs(TASK_RESULTS), key=lambda row: (list(TASK_CONFIGS).index(row["config_name"]), row["seed"]))

# %%
# NBVAL_CHECK_OUTPUT
print(f"notebooks: {NOTEBOOK_SEED}; CartPole tuning: {seed_span(CARTPOLE_TUNING_SEEDS)} (the recipe), "
      f"{seed_span(STOP_SWEEP_SEEDS)} and {seed_span(CONFIRM_SWEEP_SEEDS)} (its stop); "
      f"Acrobot and MountainCar tuning: {seed_span(TASK_TUNING_SEEDS)}, reporting: {seed_span(CAPSTONE_SEEDS)}; "
      f"held out for the SB3 comparison: {seed_span(HELD_OUT_SEEDS)}")

# %% [markdown]
# ## 8.1 What transfers: Acrobot
#
# **Acrobot-v1** is a two-link pendulum hanging from a fixed joint, with a motor only at
# the joint between the links. The goal is to swing the tip above a line one link-length
# above the pivot.
#
# * **Observation** (6 numbers): $\cos$ and $\sin$ of both joint angles, and the two
#   angular velocities. **Actions** (3): torque $-1$, $0$ or $+1$ on the middle joint.
# * **Reward** $-1$ per step until the tip crosses the line; the step that crosses it pays
#   0 and **terminates** the episode: here termination means *success*, the opposite of
#   CartPole. An episode of $L$ steps that reaches the line returns $-(L - 1)$. The time
#   limit truncates an episode after 500 steps, so returns lie between $-500$ and 0.
# * **Solved** at a mean return of at least $-100$ (gymnasium's registered threshold):
#   swing-ups of at most 101 steps on average.

# %%
# NBVAL_CHECK_OUTPUT
acrobot = make_env(SEED, env_id="Acrobot-v1")
print("observation:", acrobot.observation_space.shape, "actions:", acrobot.action_space.n)
print(f"time limit {acrobot.spec.max_episode_steps} steps; solved at a mean return >= {reward_threshold('Acrobot-v1')}")

# %% [markdown]
# What has to change in `DQNConfig`? Less than one might think:
#
# * `env_id="Acrobot-v1"`: the network's input and output sizes follow the task (6 in, 3
#   out), since `train` reads them from the environment's spaces.
# * `stop_return`: the greedy checks stop training once their mean return reaches it.
#   CartPole's 500 can never be reached here; Acrobot's threshold, $-100$, is the line.
# * Nothing else, on the evidence. $\gamma = 0.99$ still gives a horizon of about 100
#   steps, the length of a good swing-up. With the course's previous recipe (a target
#   copy every 500 steps, an update every 4, ε over 10,000 steps), a smaller learning
#   rate was tried on the three tuning seeds, 100–102, and was not better there (three
#   runs, not kept in `results/`: too few to show that it is no better); it has not been
#   tried again with today's recipe, which is used here unchanged.
#
# The negative reward needs care in one more place: the verdict. A return closer to 0 is
# better (fewer steps), so "solved" is still *mean $\ge$ threshold*, with the signs kept.

# %% [markdown]
# ### Exercise 8.1: a config and a verdict for a reward that is negative per step
#
# Write `acrobot_config(seed) -> DQNConfig`: the course's recipe with the given seed, on
# `"Acrobot-v1"`, whose greedy checks stop at Acrobot's registered threshold (read it with
# `gym.spec("Acrobot-v1").reward_threshold`), with the recipe's budget of 100,000
# environment steps (`DQNConfig`'s default, so you need not set it; the check accepts
# 100,000 to 150,000).
# Then write `solved(returns, env_id) -> bool`: whether the mean of `returns` reaches the
# registered threshold of `env_id`, for any task (CartPole's 475 as well as Acrobot's
# $-100$).

# %% exercise="8.1: acrobot_config / solved"
def acrobot_config(seed):
    """The course's recipe on Acrobot-v1, stopping at its threshold."""
    ### BEGIN SOLUTION
    return DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=gym.spec("Acrobot-v1").reward_threshold)
    ### END SOLUTION


def solved(returns, env_id):
    """True when the mean of `returns` reaches gymnasium's threshold for `env_id`."""
    ### BEGIN SOLUTION
    return bool(np.mean(returns) >= gym.spec(env_id).reward_threshold)
    ### END SOLUTION


# %% check="8.1"
# NBVAL_CHECK_OUTPUT
check_negative_reward_task(acrobot_config, solved)

# %% [markdown]
# That config, with one change, is `utils.tasks.TASK_CONFIGS["acrobot"]`: 100 confirmation
# episodes instead of CartPole's 1,979. Those are there to catch a policy that fails one
# episode in hundreds, which matters for a perfect score; Acrobot stops at a mean, which 100
# episodes estimate well enough, and its episodes are not cheap. `python -m benchmarks.capstone`
# trained it on the reporting seeds 0–4 (tens of seconds per run on the machine that ran
# it; the rows record each run's time) and scored each agent on 100 held-out episodes:

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'config':<20}{'seed':>5}{'stopped at step':>16}{'eval mean':>10}{'worst':>6}{'solved':>7}"
      f"{'goal episodes':>15}{'first':>7}{'best check':>11}")
for row in task_runs:
    stop = f"{row['solved_at']:,}" if row["solved_at"] else "never"
    first = row["first_goal_episode"] if row["first_goal_episode"] is not None else "-"
    print(f"{row['config_name']:<20}{row['seed']:>5}{stop:>16}{row['eval_mean']:>10.1f}{row['eval_min']:>6.0f}"
          f"{str(solved(np.full(2, row['eval_mean']), row['env_id'])):>7}{row['goal_episodes']:>15}{first:>7}"
          f"{max(row['check_returns']):>11.1f}")

# %% [markdown]
# ("goal episodes": training episodes that reached the goal, and the first one's index,
# counted from 0; "best check": the highest mean return of a greedy check.) For
# Acrobot, all 5 runs stopped at a confirmed greedy check, between about 12,000 and
# 26,000 steps, and all evaluate above $-100$. The road there was not smooth: seed 4's
# greedy checks swung between scores near the line and the worst possible, $-500$ (a
# policy that never swings up), before the check that stopped it:

# %%
# NBVAL_CHECK_OUTPUT
seed_4 = next(row for row in task_runs if row["config_name"] == "acrobot" and row["seed"] == 4)
print("acrobot, seed 4, greedy checks:", [round(r) for r in seed_4["check_returns"]])

# %% [markdown]
# And a mean above the line does not mean every episode is good: the worst held-out
# episodes of seeds 2 and 4 are $-500$, episodes in which the agent never swung up. The
# threshold is about the mean; the `worst` column shows what it hides.
#
# The agent that ships with the course is the seed-0 run, retrained by
# `python -m tools.train_checkpoint --task acrobot`. On this video's start state it swings
# up within the 101 steps a return of $-100$ allows, if not by much (the line under the
# video says how many steps it took; the video plays at Acrobot's own 15 frames per second):

# %%
acrobot_net, acrobot_config_shipped = load_checkpoint(SHIPPED_CHECKPOINT.with_name("dqn_acrobot.pt"))
show_rollout(make_env(EVAL_SEED, render=True, env_id="Acrobot-v1"), lambda s: greedy_action(acrobot_net, s))

# %% [markdown]
# ## 8.2 What does not: MountainCar
#
# **MountainCar-v0**: a car in a valley must reach the flag on the right hilltop
# (position 0.5), but its engine is too weak to drive straight up: it has to rock back
# and forth to build momentum. Two observations (position, velocity), three actions
# (push left, none, right), reward $-1$ per step, episodes cut at 200 steps, solved at a
# mean of $-110$.
#
# The reward is **sparse** in the way that matters: every step gives $-1$ whatever the
# agent does, so until an episode reaches the flag, nothing distinguishes one action from
# another. Q-learning can only propagate a success it has seen. And random dithering is a
# poor way to find one: to reach the flag, the car must push the same way for dozens of
# steps, then the other way for dozens more, and random actions mostly cancel out.
#
# The course's recipe on MountainCar (`TASK_CONFIGS["mountaincar-default"]`, seeds 0–4,
# 100,000 steps) solves it on no seed of five, and the table above shows why: **it never
# finds the flag.** Not one training episode of any seed reached it (no goal episodes),
# and no greedy check ever reached $-110$, so training ran for the whole budget. On seeds
# 1–4 every check scored $-200$, and with nothing to propagate their greedy policies
# never reach the flag on a held-out episode either ($-200$ on every one). Seed 0 is the
# exception: a few of its later greedy checks reached the flag although no training
# episode had (its best check scored about $-143$), and training keeps the best check's
# weights, which score about $-143$ on the held-out episodes too: still far from $-110$.
#
# The recipe's ε falls to 0.05 within its first 2,500 steps, about a dozen 200-step
# episodes: a schedule tuned on CartPole, where the reward comes every step, leaves about
# one random action in twenty after that. Whether this early decay is why no episode
# found the flag was not tested here: no run in this notebook changes the schedule.
#
# Nor is ε-greedy exploration what fails in general: rl-baselines3-zoo's DQN for
# MountainCar-v0, with plain ε-greedy exploration and settings tuned for this task, scores
# about $-101$ (the zoo's benchmark table: one agent trained for 120,000 steps). Its
# settings differ from the course's recipe in many places at once: $\gamma = 0.98$ (the
# recipe 0.99), a learning rate of $4 \cdot 10^{-3}$ ($2 \cdot 10^{-3}$), batches of 128
# (64) from a memory of 10,000 transitions (50,000), 8 gradient steps every 16
# environment steps (one every 2, the same number per step), a target copy every
# 600 steps (125), ε falling to 0.07 over 24,000 steps (to 0.05 over 2,500), 256 units a
# layer (128), plain DQN targets (double DQN), the gradient norm clipped at 10 (not
# clipped), and 120,000 steps (100,000). Which of these differences matter was not
# measured here. What the table shows is narrower: this recipe, tuned for CartPole, never
# finds the flag on MountainCar.
#
# Where did the runs that never found the flag go? Here is the histogram of every position
# the car visited during training, for the recipe's run on seed 0 and for the remedy's
# run on the same seed:

# %%
coordinate_histograms({f"{row['config_name']}, seed {row['seed']}": row for row in task_runs
                       if row["seed"] == 0 and row["task"] == "mountaincar"},
                      xlabel="car position", goal=0.5)

# %% [markdown]
# ### A remedy: a count-based exploration bonus
#
# If random actions rarely go anywhere new, make the unknown look attractive. Sutton &
# Barto's Mountain Car example (2018, Example 10.1) does it with optimism alone: all true
# values are negative, so action values initialised to 0 are optimistic, every action
# tried looks worse than the untried ones, and the agent explores systematically even
# with $\varepsilon = 0$. A deep network's initial values are not kept optimistic that way,
# since every update also moves the values of states never visited.
#
# A **count-based exploration bonus** (Strehl & Littman 2008; Bellemare et al. 2016 for
# large state spaces) keeps the unknown attractive: it adds $\beta / \sqrt{N(s')}$ to the
# reward the agent learns from, where $N(s')$ counts the visits to the next state (here:
# to its cell in a grid over the observation space, 20 cells per coordinate). Rarely
# visited cells are worth more, so the *greedy* policy itself heads for them, and the
# agent explores on purpose rather than by dithering. As the counts grow the bonus fades
# and the task's own reward rules. Strehl & Littman's MBIE-EB counts state–action pairs,
# $N(s, a)$; the course's bonus counts states only, which is simpler and enough to rank
# states by novelty, but cannot tell apart two actions that lead to the same cell.
#
# It has a price, and it must be said: the bonus **changes the rewards** the agent
# learns from, so while it matters the agent is learning a different task. The returns
# we report stay the environment's own. With $\beta = 0.5$ even a first visit leaves the
# learned reward of a step negative ($-1 + 0.5$), so the bonus ranks states by novelty
# without paying the car to dawdle. The value 0.5 was chosen on tuning seeds 100–102,
# never on the seeds reported here, and with the course's previous recipe (ε falling over
# 10,000 steps, a target copy every 500, an update every 4); it was kept, not re-tuned,
# for today's. Plain hyperparameter changes (γ 0.98, 3-step returns, a larger learning
# rate and batch, a slower ε decay, 150,000 steps) were tried first with that previous
# recipe, one at a time, on the tuning seeds, and did not solve the task there (those
# runs are not in `results/`).

# %% [markdown]
# ### Exercise 8.2: the count-based bonus
#
# Write `count_bonus(counts, state, low, high, bins, beta) -> float`. `counts` is a dict
# from a grid cell to its number of visits so far (you add to it); `state` is a NumPy
# observation; `low` and `high` are the observation space's bounds (arrays); the grid has
# `bins` equal cells per coordinate. Find the state's cell, $\lfloor (s - \text{low}) /
# \text{cell size} \rfloor$ per coordinate, clipped to $0 \dots \text{bins} - 1$ (a state
# on the upper bound belongs to the last cell), use the tuple of its indices as the key,
# count this visit, and return $\beta / \sqrt{N}$ with $N$ the count *including* this visit.

# %% exercise="8.2: count_bonus"
def count_bonus(counts, state, low, high, bins, beta):
    """Count a visit to `state`'s grid cell and return the exploration bonus beta / sqrt(visits)."""
    ### BEGIN SOLUTION
    cell_size = (high - low) / bins
    cell = tuple(np.clip(np.floor((state - low) / cell_size), 0, bins - 1).astype(int).tolist())
    counts[cell] = counts.get(cell, 0) + 1
    return beta / np.sqrt(counts[cell])
    ### END SOLUTION


# %% check="8.2"
# NBVAL_CHECK_OUTPUT
check_count_bonus(count_bonus)

# %% [markdown]
# The course's DQN has this bonus built in: `DQNConfig(count_bonus=0.5)` (see
# `utils.dqn.CountBonus`). The remedy config is the recipe plus that one field:

# %%
# NBVAL_CHECK_OUTPUT
remedy = TASK_CONFIGS["mountaincar-remedy"]
print({field: getattr(remedy, field) for field in ("env_id", "stop_return", "count_bonus", "count_bins", "max_env_steps")})

# %% [markdown]
# In the table of section 8.1, `mountaincar-remedy` reached the flag in 75 to 203
# training episodes on every seed, the first time in episode 24 to 34 (counted from 0),
# and every run was stopped by a confirmed greedy check at $-110$ or better, after about
# 16,700 to 36,300 steps. How strong is 5 of 5 against the recipe's 0 of 5, by notebook
# 7's standard? The two configs' runs on a seed start from the same initial weights and
# play the same episode seeds, so they are compared as pairs, seed by seed, with
# McNemar's exact test: only the seeds where one config solved and the other did not
# count, and with no difference each of them would favour either side with probability
# 1/2:

# %%
# NBVAL_CHECK_OUTPUT
solved_by = {name: {row["seed"]: row["eval_solved"] for row in task_runs if row["config_name"] == name}
             for name in ("mountaincar-default", "mountaincar-remedy")}
seeds = sorted(solved_by["mountaincar-default"])
for name, solved_on in solved_by.items():
    print(f"{name:<20} solved on seeds {[seed for seed in seeds if solved_on[seed]]}: {sum(solved_on.values())} of {len(seeds)}")
recipe_solved, bonus_solved = ([solved_on[seed] for seed in seeds] for solved_on in solved_by.values())
print(f"McNemar's exact test (paired by seed), two-sided: p = {mcnemar_exact_p(bonus_solved, recipe_solved):.4f}")
print(f"the smallest p that {len(seeds)} paired seeds can give: 2 × 0.5^{len(seeds)} = {2 * 0.5 ** len(seeds):.4f}")
print(f"Fisher's exact test (as if independent): p = "
      f"{fisher_exact_p(sum(bonus_solved), len(seeds), sum(recipe_solved), len(seeds)):.4f}")

# %% [markdown]
# All five seeds disagree, all in the bonus's favour, and still $p = 0.0625$: five paired
# seeds cannot give less. So by notebook 7's standard this is **not** a significant
# difference at the 5% level; it is a suggestive one. Showing it would take more seeds:
# six, all in the bonus's favour, would give $2 \cdot 0.5^6 \approx 0.031$. Fisher's test,
# printed beside it, gives $p \approx 0.008$ only by treating runs that share their seeds
# as independent; picking whichever test gives the smaller $p$ would prove nothing.
# The margin of the runs themselves is thin too: the remedy's agents evaluate between about $-104$ and $-110$,
# one of them only 0.02 above the line. Five seeds do not show how large the bonus's
# effect is, that $\beta = 0.5$ is best, or how the remedy fares on harder exploration
# problems.

# %% [markdown]
# ## 8.3 The same job with Stable-Baselines3
#
# Stable-Baselines3 (Raffin et al. 2021) is a well-tested library of RL algorithms,
# including DQN. Every setting of the course's DQN has a counterpart there, or an honest
# "none". `utils.sb3_bridge.CONFIG_TO_SB3` records each one:

# %%
# NBVAL_CHECK_OUTPUT
print(mapping_table())

# %% [markdown]
# So the course's recipe, in SB3's words (`sb3_kwargs` converts a `DQNConfig`), and what
# SB3 cannot reproduce of it:

# %%
# NBVAL_CHECK_OUTPUT
course_in_sb3 = sb3_kwargs(DQNConfig(seed=SEED))
print({key: course_in_sb3[key] for key in sorted(course_in_sb3)})
print("not reproducible in SB3's DQN:", not_reproduced(DQNConfig()))

# %% [markdown]
# The course's greedy checks also have an SB3 counterpart: an `EvalCallback` that plays
# greedy episodes on a separate environment every so many steps and saves the best model
# so far, with `StopTrainingOnRewardThreshold` to stop once an evaluation reaches the
# threshold. `train_sb3_with_eval` sets them up and returns the best model.
#
# The course's `evaluate` scores any `nn.Module` that maps states to Q-values. An SB3
# model is not one: `model.predict` returns *actions*, and its Q-network, `model.q_net`,
# wants a batch.

# %% [markdown]
# ### Exercise 8.3: SB3 behind the course's evaluation
#
# Write `class SB3QNetwork(nn.Module)` whose `__init__(self, model)` keeps an SB3 `DQN`
# model and whose `forward(states)` returns the Q-values of the model's **online**
# network, `model.q_net`, as a tensor: `(B, n_actions)` for a batch `(B, obs_dim)`, and
# `(n_actions,)` for a single state `(obs_dim,)` (reshape to a batch of one and back).

# %% exercise="8.3: SB3QNetwork"
class SB3QNetwork(nn.Module):
    """An SB3 DQN model's online Q-network, for one state or a batch, as the course's evaluate expects."""

    def __init__(self, model):
        """Keep the SB3 model."""
        super().__init__()
        ### BEGIN SOLUTION
        self.model = model
        ### END SOLUTION

    def forward(self, states):
        """Q-values (..., n_actions) of states (..., obs_dim)."""
        ### BEGIN SOLUTION
        q_values = self.model.q_net(states.reshape(-1, states.shape[-1]))
        return q_values.reshape(*states.shape[:-1], -1)
        ### END SOLUTION


# %% check="8.3"
# NBVAL_CHECK_OUTPUT
check_sb3_wrapper(SB3QNetwork)

# %% [markdown]
# A short SB3 run with the rl-baselines3-zoo settings for CartPole (the same as the
# benchmark below), with SB3's greedy checks every 1,000 steps, scored by the course's
# `evaluate` through your wrapper. 2,000 steps are too few to solve CartPole; the point
# is the plumbing (from a few seconds to a quarter of a minute, depending on the machine):

# %%
# NBVAL_CHECK_OUTPUT
sb3_run = train_sb3_with_eval(zoo_settings(2_000), seed=SEED, total_timesteps=2_000, eval_every=1_000,
                              eval_episodes=5)
print(f"SB3's checks at steps {sb3_run.eval_steps}: mean returns {[round(r, 1) for r in sb3_run.eval_returns]}")

# %%
# NBVAL_CHECK_OUTPUT
returns = evaluate(SB3QNetwork(sb3_run.model), n_episodes=20)
print(f"the best model, scored by the course's evaluate on 20 held-out episodes: mean {returns.mean():.1f}")

# %% [markdown]
# ### Side by side, on thirty seeds never used before
#
# `python -m benchmarks.sb3_compare` trained, on the held-out seeds 200–229 (never used to
# choose a setting, on any task), the course's DQN with its recipe; SB3's DQN with the zoo
# settings for their 50,000 steps (50,176: SB3 collects 256 steps at a time), keeping the
# final model; and the same SB3 run with `EvalCallback` and `StopTrainingOnRewardThreshold`
# (checks every 1,000 steps on 20 episodes, stop at 500, best model kept, at most 100,000
# steps). Every agent was then
# scored by the course's `evaluate` on 100 held-out episodes. All runs used one torch
# thread and took turns seed by seed, so that they saw the same machine load (two
# processes at once, one per half of the seeds, on a 2-core machine); their wall times
# are that machine's, and vary with the machine and with what else it runs:

# %%
# NBVAL_CHECK_OUTPUT
sb3_rows = load_runs(SB3_RESULTS)
runs_by_impl = {impl: sorted((row for row in sb3_rows if row["impl"] == impl), key=lambda row: row["seed"])
                for impl in ("course", "sb3-zoo", "sb3-zoo-es")}
print(f"{'implementation':<14}{'solved':>8}{'perfect':>9}{'median env steps':>18}{'median wall s':>15}")
for impl, rows in runs_by_impl.items():
    print(f"{impl:<14}{sum(r['solved'] for r in rows):>5}/{len(rows):<2}{sum(r['n_500'] == 100 for r in rows):>6}/"
          f"{len(rows):<2}{np.median([r['env_steps'] for r in rows]):>18,.0f}"
          f"{np.median([r['wall_s'] for r in rows]):>15.1f}")

# %% [markdown]
# **Is the course's DQN cheaper than SB3's with early stopping?** The two runs of a seed
# share nothing but the seed, yet they saw the same machine load (they took turns seed by
# seed), so the comparison pairs them. For each seed, which run needed fewer environment
# steps, and which less wall time? If neither were cheaper, each seed would favour either
# side with probability 1/2, as in McNemar's test: the **sign test** is that binomial test
# on a measured quantity (ties drop out). And how much cheaper: the median over seeds of
# the per-seed ratio course / SB3, with a bootstrap interval that resamples the seeds as
# pairs. Two questions (steps, wall time), so each interval is corrected to
# $1 - 0.05/2 = 97.5\%$ (Bonferroni), and a p-value counts below $0.05/2$:

# %%
# NBVAL_CHECK_OUTPUT
course_runs, sb3_runs = runs_by_impl["course"], runs_by_impl["sb3-zoo-es"]
assert [row["seed"] for row in course_runs] == [row["seed"] for row in sb3_runs]
corrected = bonferroni_confidence(0.95, 2)
for measure, label in (("env_steps", "env steps"), ("wall_s", "wall time")):
    ours, theirs = np.array([r[measure] for r in course_runs]), np.array([r[measure] for r in sb3_runs])
    low, high = paired_ratio_ci(ours, theirs, confidence=corrected)
    print(f"{label:<10} course cheaper on {np.sum(ours < theirs)} of {len(ours)} seeds (sign test p = "
          f"{sign_test_p(ours, theirs):.1e}); median ratio course / SB3 {np.median(ours / theirs):.2f}, "
          f"{corrected:.1%} interval [{low:.2f}, {high:.2f}]")

# %% [markdown]
# **Does keeping the best model make SB3 reliable?** Between `sb3-zoo` and `sb3-zoo-es`
# the only difference is the checks: up to the stop, the two runs of a seed are
# identical. So the runs are *paired* by seed, and the test that uses the pairing is
# McNemar's exact test: only the seeds where the two disagree count, and if keeping the
# best model made no difference, each such seed would favour either side with probability
# 1/2. Fisher's exact test, which treats the two groups as independent, is printed beside
# it:

# %%
# NBVAL_CHECK_OUTPUT
final_model = [row["solved"] for row in runs_by_impl["sb3-zoo"]]
best_model = [row["solved"] for row in runs_by_impl["sb3-zoo-es"]]
assert [row["seed"] for row in runs_by_impl["sb3-zoo"]] == [row["seed"] for row in runs_by_impl["sb3-zoo-es"]]
print(f"solved: final model {sum(final_model)} of {len(final_model)}, best checked model {sum(best_model)} of "
      f"{len(best_model)}; seeds where only one solved: {sum(f != b for f, b in zip(final_model, best_model))}")
print(f"McNemar's exact test (paired by seed): p = {mcnemar_exact_p(best_model, final_model):.2g}")
print(f"Fisher's exact test (as if independent): p = "
      f"{fisher_exact_p(sum(best_model), len(best_model), sum(final_model), len(final_model)):.2g}")

# %% [markdown]
# Keeping the best checked model solved all 30 seeds, keeping the final model 19; the two
# disagree on 11 seeds, all eleven in favour of the checks. McNemar's test gives
# $p \approx 0.001$ (Fisher's, which ignores the pairing, $p \approx 0.0003$): by the
# standard of notebook 7, thirty seeds **show** that with these settings SB3's final model
# is often worse than its best checked one. That is what notebook 5 led us to expect: a
# DQN's greedy policy can get worse after being good, so its final weights need not be its
# best. With its own checks and best-model selection, SB3's DQN solved every one of these
# seeds, as the course's DQN did (28 of its 30 agents, and all 30 of the course's, scored
# 500 on every one of the 100 held-out episodes).
#
# **What else differs.** The zoo's settings are not the course's recipe in SB3's words
# (that is `sb3_kwargs` above): they differ in these SB3 arguments, and SB3 has no double
# DQN, which the recipe uses:

# %%
# NBVAL_CHECK_OUTPUT
sb3_defaults = {name: parameter.default for name, parameter in inspect.signature(DQN).parameters.items()}
zoo = {**sb3_defaults, **zoo_settings()}  # what the zoo leaves out takes SB3's default
print(f"{'SB3 argument':<24}{'course recipe':>26}{'zoo':>26}")
for key in sorted(course_in_sb3):
    if key not in ("seed", "exploration_fraction") and course_in_sb3[key] != zoo[key]:
        print(f"{key:<24}{course_in_sb3[key]!s:>26}{zoo[key]!s:>26}")
print(f"{'ε decay (env steps)':<24}{DQNConfig().eps_decay_steps:>26,}{zoo['exploration_fraction'] * ZOO_TIMESTEPS:>26,.0f}")

# %% [markdown]
# What this teaches:
#
# * **Fewer steps and less time here, for reasons not measured.** The course's DQN needed
#   fewer environment steps than SB3's with early stopping on 28 of the 30 seeds (sign
#   test $p < 10^{-6}$), a median per-seed ratio of about 0.57, and less wall time on all
#   30, a median ratio of about 0.20 (both intervals corrected above). But the two differ
#   in every line of the table above at once: the zoo copies its target every 10 steps
#   but, with 128 gradient steps in a burst every 256 environment steps, that lands as
#   one copy per burst, about one per 256 steps against the recipe's 125; both make one
#   update per 2 environment steps; the zoo's network is twice as wide; SB3 has no double
#   DQN; and `EvalCallback` has no confirmation round: its first check at 500 ends
#   training, where the course's checks need 1,979 more episodes at 500 (which costs the
#   course steps, not SB3). No run here changes one of these alone, so none of them can be
#   credited with the difference. The recipe was also tuned (on other seeds) by a sweep
#   whose candidates all kept the course's network width, double DQN, unclipped gradients,
#   batch size and memory, and a confirmation round; the zoo's settings were tuned by
#   their authors for 50,000 steps without early stopping.
# * **Wall time is one machine's.** The ratios come from one benchmark run on a 2-core
#   machine in which the implementations took turns seed by seed, two processes at once;
#   per environment step the course's network is half as wide and its greedy checks play
#   their episodes in step. Other machines give other times; the step counts are the
#   same on any machine of the same type.

# %% [markdown]
# ## 8.4 Where next
#
# * **Rainbow** (Hessel et al. 2018): notebook 7's three extensions plus distributional
#   values (Bellemare et al. 2017) and noisy networks for exploration (Fortunato et al.
#   2018), with double DQN from notebook 5.
# * **Policy gradients and PPO** (Williams 1992; Schulman et al. 2017): learn the policy
#   directly instead of values; SB3 has PPO with the same interface as its DQN.
# * **Continuous actions**: DQN needs a max over actions. DDPG (Lillicrap et al. 2015),
#   TD3 (Fujimoto et al. 2018) and SAC (Haarnoja et al. 2018) learn a policy that outputs
#   the action; MountainCarContinuous and Pendulum are the classic-control places to start.
# * **Atari from pixels** (Mnih et al. 2015): a convolutional network, frames stacked so
#   that one observation shows motion, and rewards clipped; the replay memory and target
#   network are the ones you wrote.
#
# ## Recap
#
# * A DQN transfers to another task with few changes (the task, and a stop line at the
#   task's threshold), but a negative reward per step reverses what an episode's *length*
#   means, not what "solved" means: the mean return must still reach the threshold.
# * On a sparse-reward task, a recipe's ε-greedy exploration may never see the one reward
#   that matters (no seed of five here, with an ε schedule tuned on CartPole that reaches
#   0.05 within 2,500 steps). Tuned settings can make ε-greedy work (the zoo's DQN); a
#   count-based bonus makes the greedy policy explore, at the price of changing the
#   rewards learned from while it matters (5 of 5 solved here against 0 of 5: suggestive,
#   not significant, since five paired seeds cannot give McNemar's $p$ below 0.0625).
# * Stable-Baselines3 has an equivalent for most of the course's settings. With its own
#   early stopping and best-model selection it solved every one of 30 held-out seeds, as
#   the course's DQN did; keeping its final model it solved 19 of 30, a difference these
#   seeds establish (McNemar's $p \approx 0.001$). The course's DQN needed fewer steps on
#   28 of 30 seeds and less time on all 30 on the 2-core machine that ran it, for reasons
#   this comparison cannot separate.
#   A conclusion from runs names its test and its seeds.
#
# **References.** R. S. Sutton and A. G. Barto, *Reinforcement Learning: An
# Introduction*, 2nd ed., MIT Press (2018), Example 10.1. A. Raffin, "RL Baselines3 Zoo",
# GitHub repository DLR-RM/rl-baselines3-zoo (hyperparams/dqn.yml and benchmark.md).
# A. L. Strehl and M. L. Littman, "An analysis of model-based interval
# estimation for Markov decision processes", *J. Computer and System Sciences* 74(8)
# (2008). M. G. Bellemare et al., "Unifying count-based exploration and intrinsic
# motivation", *NeurIPS* (2016). A. Raffin et al., "Stable-Baselines3: reliable
# reinforcement learning implementations", *JMLR* 22(268) (2021). M. Hessel et al.,
# "Rainbow", *AAAI* (2018). M. G. Bellemare, W. Dabney and R. Munos, "A distributional
# perspective on reinforcement learning", *ICML* (2017). M. Fortunato et al., "Noisy
# networks for exploration", *ICLR* (2018). R. J. Williams, "Simple statistical
# gradient-following algorithms for connectionist reinforcement learning", *Machine
# Learning* 8 (1992). J. Schulman et al., "Proximal policy optimization algorithms",
# arXiv:1707.06347 (2017). T. P. Lillicrap et al., "Continuous control with deep
# reinforcement learning", arXiv:1509.02971 (2015). S. Fujimoto, H. van Hoof and
# D. Meger, "Addressing function approximation error in actor-critic methods", *ICML*
# (2018). T. Haarnoja et al., "Soft actor-critic", *ICML* (2018). V. Mnih et al.,
# "Human-level control through deep reinforcement learning", *Nature* 518 (2015).
