# %% [markdown]
# # 6 · Evaluating a trained agent
#
# The returns printed during training are a poor score: they come from the ε-greedy
# policy, from the very environments the agent trained on, and from weights that changed
# during every episode. This notebook measures a trained agent the way a result is
# reported: the greedy policy, on 100 held-out seeded episodes, against the registered
# solved criterion. Then it looks at the agent: videos before and after training, the
# distribution of its returns, and a map of what its Q-network learned.
#
# **You will:** write a greedy evaluation over seeded episodes; decide "solved" with
# CartPole-v1's criterion (and see why the often-quoted 195 is wrong for v1); compare an
# untrained and a trained network on video and in a histogram; plot the learned values
# and actions over pole angle and angular velocity.
#
# **Prerequisites:** notebooks 1–5 help, but this one runs on its own: it loads the
# checkpoint that ships with the course. **Time:** about 30–40 minutes.

# %%
import gymnasium as gym
import numpy as np
import torch

from utils.checks import check_evaluate_greedy, check_solved_runs
from utils.evaluation import EVAL_SEED, REWARD_THRESHOLD, SHIPPED_CHECKPOINT, load_checkpoint
from utils.networks import QNetwork, count_parameters
from utils.plotting import q_value_maps, return_histograms
from utils.policies import greedy_action
from utils.seeding import make_env, seed_everything
from utils.video import record_rollout, show_rollout
from utils.widgets import rollout_scrubber

SEED = 0
seed_everything(SEED)

# %% [markdown]
# ## 6.1 The trained agent
#
# `checkpoints/dqn_cartpole.pt` was trained with the course's default `DQNConfig`
# (`python -m tools.train_checkpoint` reproduces it). `load_checkpoint` rebuilds the
# network from the weights and the config stored with them. To evaluate your own network
# from notebook 5 instead, set `CHECKPOINT` to the path notebook 5 printed (a string is fine).

# %%
CHECKPOINT = SHIPPED_CHECKPOINT
trained_net, trained_config = load_checkpoint(CHECKPOINT)
print(f"trained for at most {trained_config.max_env_steps:,} environment steps with seed {trained_config.seed}; "
      f"double DQN: {trained_config.double_dqn}")

# %%
# NBVAL_CHECK_OUTPUT
untrained_net = QNetwork()  # seeded above: the same random weights every run
print(f"both networks have {count_parameters(trained_net):,} and {count_parameters(untrained_net):,} parameters")

# %% [markdown]
# ## 6.2 A fair evaluation
#
# * **Greedy.** We evaluate the policy we would deploy, $\pi(s) = \arg\max_a Q(s, a)$.
#   Exploration is for learning; with ε > 0 the score measures the noise too.
# * **Held-out, seeded episodes.** CartPole's only randomness is its start state, drawn
#   from the environment's seed. Episode $i$ runs on `make_env(seed + i)`, and the course's
#   evaluation seeds start at `EVAL_SEED` = 2,000,000,000, far from every training seed
#   and every greedy-check seed of notebook 5. Scoring on the training episodes would be
#   like testing a classifier on its training set. Seeding also makes the score
#   reproducible: the same network gets the same 100 returns on any run.
# * **Whole episodes.** Each episode starts with one `reset()` and ends on
#   `terminated or truncated`; its score is the undiscounted return, here the number of
#   steps survived (at most 500).
# * **Many episodes.** One lucky start says little. With 100 episodes the standard error of
#   the mean is $\sigma / \sqrt{100} = \sigma / 10$.

# %% [markdown]
# ### Exercise 6.1: greedy evaluation over seeded episodes
#
# Write `evaluate_greedy(q_net, n_episodes, seed) -> np.ndarray`: play episode
# $i = 0, \dots,$ `n_episodes` $- 1$ on a fresh `make_env(seed + i)`: reset it once, then
# take `greedy_action(q_net, state)` until `terminated or truncated`, adding up the
# rewards. Return the `n_episodes` returns as a float NumPy array of shape `(n_episodes,)`,
# in episode order.
#
# The check watches the environments you make (seeds, resets, steps) and the actions you
# take, on 8 episodes of a simple hand-made controller.

# %% exercise="6.1: evaluate_greedy"
def evaluate_greedy(q_net, n_episodes, seed):
    """Undiscounted returns of `n_episodes` greedy episodes, episode i on make_env(seed + i)."""
    ### BEGIN SOLUTION
    returns = np.zeros(n_episodes)
    for i in range(n_episodes):
        env = make_env(seed + i)
        observation, _ = env.reset()
        finished = False
        while not finished:
            observation, reward, terminated, truncated, _ = env.step(greedy_action(q_net, observation))
            returns[i] += reward
            finished = terminated or truncated
        env.close()
    return returns
    ### END SOLUTION


# %% check="6.1"
# NBVAL_CHECK_OUTPUT
check_evaluate_greedy(evaluate_greedy)

# %% [markdown]
# Now the real thing: 100 held-out episodes for the trained network and for the untrained
# one (the trained agent plays up to 50,000 steps; this takes a few seconds). The mean
# hides the shape: a policy can average 480 by being perfect 95 times and failing early 5
# times, or by always falling at step 480. The histogram shows which.

# %%
trained_returns = evaluate_greedy(trained_net, 100, EVAL_SEED)
untrained_returns = evaluate_greedy(untrained_net, 100, EVAL_SEED)
for name, returns in (("trained", trained_returns), ("untrained", untrained_returns)):
    print(f"{name:9s}: mean {returns.mean():6.1f} ± {returns.std(ddof=1) / np.sqrt(returns.size):4.1f} (standard error), "
          f"min {returns.min():3.0f}, max {returns.max():3.0f}, {np.sum(returns == 500):3d} of 100 at 500")
return_histograms({"untrained": untrained_returns, "trained": trained_returns}, threshold=REWARD_THRESHOLD)

# %% [markdown]
# ## 6.3 When is CartPole-v1 solved?
#
# Gymnasium registers a `reward_threshold` with each environment. By the convention of the
# original Gym leaderboard, a task counts as solved when the mean return over 100
# consecutive episodes reaches it.

# %%
# NBVAL_CHECK_OUTPUT
for env_id in ("CartPole-v0", "CartPole-v1"):
    spec = gym.spec(env_id)
    print(f"{env_id}: episodes of at most {spec.max_episode_steps} steps, solved at a mean return >= {spec.reward_threshold}")

# %% [markdown]
# > **Common pitfall: the v0 threshold.** The seed notebook declared CartPole solved at an
# > average of 195. That is **CartPole-v0**'s threshold, whose episodes stop at 200 steps.
# > CartPole-v1 runs 500 steps and is solved at a mean of **475** over 100 episodes
# > (`utils.evaluation.REWARD_THRESHOLD`, read from the registry). An agent averaging 300
# > on v1 has not solved it.

# %% [markdown]
# ### Exercise 6.2: the solved verdict
#
# Write `solved_runs(returns) -> np.ndarray`: `returns` has shape `(n_runs, n_episodes)`,
# one row per evaluated network (or per evaluation run), float. Return a bool array of
# shape `(n_runs,)`: `True` where the row's **mean** return is at least `REWARD_THRESHOLD`.

# %% exercise="6.2: solved_runs"
def solved_runs(returns):
    """For each row of `returns` (n_runs, n_episodes): is its mean return at least REWARD_THRESHOLD?"""
    ### BEGIN SOLUTION
    return np.asarray(returns).mean(axis=1) >= REWARD_THRESHOLD
    ### END SOLUTION


# %% check="6.2"
# NBVAL_CHECK_OUTPUT
check_solved_runs(solved_runs)

# %% [markdown]
# Does the verdict depend on which 100 episodes we drew? Judge both networks again on the
# *next* 100 held-out seeds:

# %%
# NBVAL_CHECK_OUTPUT
next_block = EVAL_SEED + 100
verdicts = solved_runs(np.stack([evaluate_greedy(net, 100, next_block) for net in (trained_net, untrained_net)]))
print(f"on seeds {next_block}..{next_block + 99}: trained network solved: {verdicts[0]}; untrained: {verdicts[1]}")

# %% [markdown]
# ## 6.4 Before and after, on video
#
# The untrained network's greedy policy: random weights usually prefer one action in
# every state, so the cart drives off to one side and the pole falls within a few dozen
# steps.

# %%
show_rollout(make_env(EVAL_SEED, render=True), policy=lambda s: greedy_action(untrained_net, s))

# %% [markdown]
# The trained agent on the same start state: it balances until the time limit truncates
# the episode at 500 steps (the video is 10 seconds long).

# %%
show_rollout(make_env(EVAL_SEED, render=True), policy=lambda s: greedy_action(trained_net, s))

# %% [markdown]
# **Explore.** The first 150 steps of that episode, frame by frame: drag the slider (or
# press play) to see the state, the network's Q-values and its greedy action at each step.

# %%
trained_rollout = record_rollout(make_env(EVAL_SEED, render=True), lambda s: greedy_action(trained_net, s),
                                 max_frames=150)
rollout_scrubber(trained_rollout, q_net=trained_net)

# %% [markdown]
# ## 6.5 What did the network learn?
#
# $Q(s, a)$ is a function of four numbers. Fix the cart at rest in the middle
# (position 0, velocity 0) and vary the two pole variables over a grid: the pole angle
# $\theta$ between the termination limits $\pm 12° \approx \pm 0.21$ rad, and the angular
# velocity $\dot\theta$ between $-2$ and $2$ rad/s. For each point we show
# $\max_a Q(s, a)$ (how good the network thinks the state is) and the greedy action.

# %%
angles = np.linspace(-0.25, 0.25, 101)
angular_velocities = np.linspace(-2.0, 2.0, 101)
grid = np.zeros((angles.size, angular_velocities.size, 4), dtype=np.float32)
grid[..., 2], grid[..., 3] = np.meshgrid(angles, angular_velocities, indexing="ij")
with torch.no_grad():
    q_grid = trained_net(torch.from_numpy(grid))  # (101, 101, 2): angle index, velocity index, action
q_value_maps(angles, angular_velocities, q_grid.max(dim=-1).values.numpy(), q_grid.argmax(dim=-1).numpy(),
             angle_limit=12 * 2 * np.pi / 360)

# %% [markdown]
# What to look for:
#
# * **The action map** has a boundary running from top left to bottom right: the agent
#   pushes right when the pole leans right *or is falling right* fast enough, and left
#   otherwise. Angle and angular velocity are traded off, as in a hand-designed controller
#   $a = [\theta + k\,\dot\theta > 0]$: a pole leaning right but swinging back quickly
#   already gets a push to the left.
# * **The value map** is highest in the band of states from which the pole can be caught,
#   and falls towards the corners where the pole leans and falls the same way: from there
#   no push saves it. A state that can be held forever is worth
#   $\sum_k \gamma^k = 1/(1-\gamma) = 100$ in principle (truncation does not end its
#   future); the learned values are lower (see the colour bar) because training stopped as
#   soon as the greedy policy was perfect, before the values had converged. Acting well
#   needs only the right *ordering* of the two actions, not exact values.
# * This is a 2-D slice of a 4-D function, and the network learned only from states its
#   policy visits. Far from them (a pole falling fast, at the edges of the plot) it
#   extrapolates: where the map disagrees with physics, you are looking at states the
#   agent never saw.

# %% [markdown]
# ## Recap
#
# * Evaluate the greedy policy on many held-out, seeded episodes, each reset once and
#   ended on `terminated or truncated`; report the distribution, not only the mean.
# * CartPole-v1 is solved at a mean return of at least 475 over 100 episodes; 195 is
#   CartPole-v0's threshold, for 200-step episodes.
# * The trained agent balances for the full 500 steps; its Q-function encodes a
#   controller that weighs the pole's angle against its angular velocity.
#
# **Where next:** change one `DQNConfig` field at a time in notebook 5 (no double DQN,
# `tau=0.005` with `target_update_every=1`, `loss="mse"`, no greedy checks with
# `stop_return=None`) and evaluate each result here. Run several training seeds before
# concluding anything: deep RL results vary a lot from seed to seed (Henderson et al.
# 2018; Agarwal et al. 2021).
#
# **References.** V. Mnih et al., "Human-level control through deep reinforcement
# learning", *Nature* 518, 529–533 (2015). A. G. Barto, R. S. Sutton and C. W. Anderson,
# "Neuronlike adaptive elements that can solve difficult learning control problems",
# *IEEE Trans. SMC* 13(5), 834–846 (1983). M. Towers et al., "Gymnasium: a standard
# interface for reinforcement learning environments", arXiv:2407.17032 (2024).
# P. Henderson et al., "Deep reinforcement learning that matters", *AAAI* (2018).
# R. Agarwal et al., "Deep reinforcement learning at the edge of the statistical
# precipice", *NeurIPS* (2021).
