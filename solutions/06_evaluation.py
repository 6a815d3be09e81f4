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
# **Prerequisites:** notebooks 1–5. It evaluates the agent your loop trained at the end of
# notebook 5; without one it runs on its own with the agent that ships with the course.
# **Time:** about 30–40 minutes.

# %%
import gymnasium as gym
import numpy as np
import torch

from utils.cartpole_physics import bare_simulator, certain_fall_steps
from utils.checks import check_evaluate_greedy, check_solved_runs
from utils.dqn import zero_state_value
from utils.evaluation import EVAL_SEED, REWARD_THRESHOLD, SHIPPED_CHECKPOINT, load_checkpoint
from utils.networks import QNetwork, count_parameters
from utils.notebook import setup_notebook
from utils.plotting import q_value_maps, return_histograms
from utils.policies import greedy_action
from utils.seeding import make_env
from utils.student_agent import load_agent, shipped_record
from utils.video import record_rollout, show_rollout
from utils.widgets import rollout_scrubber

SEED = 0
setup_notebook(SEED)  # seeds random/NumPy/torch, one torch thread, notices for unfinished exercises

# %% [markdown]
# ## 6.1 The trained agent: yours
#
# Notebook 5 saved the agent *your* training loop trained as `my_dqn_agent.pt`, next to
# the notebooks. This notebook evaluates and films that agent when the file is there.
# Without it (you have not reached the end of notebook 5 yet), it uses the agent that ships
# with the course, `checkpoints/dqn_cartpole.pt`, trained by `utils.dqn.train` with the
# default `DQNConfig` (`make checkpoint VERIFY=1` retrains it byte for byte on the same
# machine type; on another CPU seed 0 may take a different number of steps). Either way `load_checkpoint` rebuilds the network from the weights
# and the config stored with them, with `torch.load(..., weights_only=True)`. The line
# below says which agent you are looking at.

# %%
trained_net, trained_config, agent_description = load_agent()
print(agent_description)
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
# * **Held-out, seeded episodes.** CartPole's only randomness is its start state: each of
#   the four variables is drawn uniformly from $[-0.05, 0.05]$ by the environment's seed.
#   Episode $i$ runs on `make_env(seed + i)`, and the course's evaluation seeds start at
#   `EVAL_SEED` = 2,000,000,000, far from every training seed and every greedy-check seed
#   of notebook 5. A new seed only moves the start state within that small box; the
#   returns printed during training mislead for other reasons. Their actions were
#   ε-greedy. The weights changed during each episode (a gradient step every 2 steps in
#   the course's recipe), so no single network played it. And the weights we keep were
#   *selected*, as the ones with the best greedy check. That selection is why the seeds
#   must still be new: the best of several checks overestimates its network's return on
#   those very seeds, as a validation score does after model selection. Seeding also makes
#   the score reproducible: the same network gets the same 100 returns on any run.
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
# one. The trained agent plays up to 50,000 steps: from a few seconds on a quiet laptop to
# half a minute on a slow or busy one. The mean hides the shape:
# a policy can average 480 by being perfect 95 times and failing early 5 times, or by
# always falling at step 480. The histogram shows which.

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
# The untrained network's greedy policy. Section 6.2 printed how long it lasted in its 100
# episodes (its min, max and mean); the video and the cell after it show how the filmed
# episode ends.

# %%
show_rollout(make_env(EVAL_SEED, render=True), policy=lambda s: greedy_action(untrained_net, s))

# %%
# NBVAL_CHECK_OUTPUT
untrained_rollout = record_rollout(make_env(EVAL_SEED, render=True), lambda s: greedy_action(untrained_net, s))
cart_position, _, pole_angle, _ = untrained_rollout.states[-1]
print(f"actions taken (0 = push left, 1 = push right): {untrained_rollout.actions}")
print(f"last state: pole angle {np.degrees(pole_angle):+.1f}° (limit ±12°), "
      f"cart position {cart_position:+.2f} (limit ±2.4)")

# %% [markdown]
# Its random weights happen to prefer *push left* in every state of that episode: the cart
# accelerates left, the pole tips right and passes the 12° angle limit after 9 steps,
# while the cart has moved less than a tenth of the way to the edge of the track.
#
# The trained agent on the same start state: it balances until the time limit truncates
# the episode at 500 steps (the video is 10 seconds long).

# %%
show_rollout(make_env(EVAL_SEED, render=True), policy=lambda s: greedy_action(trained_net, s))

# %% [markdown]
# **Explore.** The first 150 steps of that episode, frame by frame: 151 frames, the start
# state and the state after each step. Drag the slider (or press play) to see the state,
# the network's Q-values and its greedy action at each step.

# %%
trained_rollout = record_rollout(make_env(EVAL_SEED, render=True), lambda s: greedy_action(trained_net, s),
                                 max_frames=151)
rollout_scrubber(trained_rollout, q_net=trained_net)

# %% [markdown]
# ## 6.5 What did the network learn?
#
# $Q(s, a)$ is a function of four numbers. Fix the cart at rest in the middle
# ($x = \dot x = 0$) and vary the two pole variables over a grid: the pole angle $\theta$
# from $-0.25$ to $0.25$ rad, a little beyond the termination limits
# $\pm 12° \approx \pm 0.2094$ rad, and the angular velocity $\dot\theta$ from $-2$ to
# $2$ rad/s. At each point we ask the network for $\max_a Q(s, a)$ (how good it thinks the
# state is) and for the greedy action.

# %%
angles = np.linspace(-0.25, 0.25, 101)
angular_velocities = np.linspace(-2.0, 2.0, 101)
grid = np.zeros((angles.size, angular_velocities.size, 4), dtype=np.float32)
grid[..., 2], grid[..., 3] = np.meshgrid(angles, angular_velocities, indexing="ij")
with torch.no_grad():
    q_grid = trained_net(torch.from_numpy(grid))  # (101, 101, 2): angle index, velocity index, action

# %% [markdown]
# ### Where the action cannot matter
#
# Before reading the network's answer, ask the physics. From some states the pole falls
# whatever the agent does, and on the same step $k$ for *every* sequence of actions. We
# call such a state a **doomed tie**: every action has the same true value,
# $Q^*(s, \text{left}) = Q^*(s, \text{right}) = \sum_{j=0}^{k-1} \gamma^j$, so the greedy
# choice there is arbitrary. `utils.cartpole_physics.certain_fall_steps` finds them with
# CartPole's own simulator: it sets the simulator's state to a grid point, steps it with
# each action, and follows every action sequence from there for up to 4 steps (read it in
# `utils/cartpole_physics.py`); a tie on a later step $k$ would need all
# $2^k$ sequences to fall together, and already none does on step 4. CartPole's Euler step
# explains the largest group: it moves $\theta$ by $\tau\dot\theta$ ($\tau = 0.02$ s) with
# the *old* $\dot\theta$, so the next angle does not depend on the action, and every state
# with $|\theta + \tau\dot\theta| > 0.2094$ is a doomed tie that falls on step 1.

# %%
# NBVAL_CHECK_OUTPUT
angle_limit = bare_simulator().theta_threshold_radians  # 12° in radians
inside_limits = np.abs(angles) <= angle_limit
fall_steps = certain_fall_steps(grid, horizon=4)  # (101, 101): k if every action sequence falls on step k, else 0
doomed_ties = fall_steps > 0
print(f"{inside_limits.sum() * angular_velocities.size:,} of the {grid.shape[0]} x {grid.shape[1]} grid points lie "
      f"inside the limits |θ| <= {angle_limit:.4f} rad")
print(f"{doomed_ties.sum()} of them are doomed ties; they fall on step "
      + ", ".join(f"{k}: {np.sum(fall_steps == k)}" for k in range(1, 5)))

# %% [markdown]
# ### The maps
#
# The dots are the states in which the greedy policy acted during 5 held-out episodes: a
# forward hook on the network records every state your `evaluate_greedy` asks it about.
# The maps are a slice at $x = \dot x = 0$, while those states have other cart positions
# and velocities: a dot shows where the policy goes in $(\theta, \dot\theta)$ only.

# %%
asked_states = []
hook = trained_net.register_forward_hook(lambda net, inputs, output: asked_states.append(inputs[0]))
try:
    evaluate_greedy(trained_net, 5, EVAL_SEED)
finally:
    hook.remove()  # even if evaluate_greedy fails, so that later cells see a plain network
visited = torch.cat([states.reshape(-1, 4) for states in asked_states]).numpy()
values = q_grid.max(dim=-1).values.numpy()
q_value_maps(angles, angular_velocities, values, q_grid.argmax(dim=-1).numpy(),
             angle_limit=angle_limit, visited=visited[:, 2:], ties=doomed_ties)
upright_value = zero_state_value(trained_net, 4)  # pole upright, cart at rest in the middle
print(f"max_a Q inside the limits: from {values[inside_limits].min():.1f} to {values[inside_limits].max():.1f}; "
      f"at the upright state s = 0: {upright_value:.1f}")
print(f"the {len(visited):,} visited states span θ in [{visited[:, 2].min():+.3f}, {visited[:, 2].max():+.3f}] rad, "
      f"θ̇ in [{visited[:, 3].min():+.2f}, {visited[:, 3].max():+.2f}] rad/s")

# %% [markdown]
# What to look for:
#
# * **Pale bands: not a state.** Beyond $|\theta| = 0.2094$ rad the episode is over. Such
#   states reach the network only as terminal next states, whose value the TD target
#   multiplies by $1 - \text{terminated} = 0$, so it is never trained there: its output in
#   the pale bands is pure extrapolation.
# * **The action map** has a boundary running from top left to bottom right: the agent
#   pushes right when the pole leans right *or is falling right* fast enough, and left
#   otherwise. Angle and angular velocity are traded off, as in a hand-designed controller
#   $a = [\theta + k\,\dot\theta > 0]$: a pole leaning right but swinging back quickly
#   already gets a push to the left. $Q^*$ itself ranks the two actions only where one of
#   them keeps the pole up longer. Wherever the pole can still be saved after either
#   action, both are worth the same, $1/(1-\gamma)$, so where exactly the boundary runs
#   through the middle comes from how the network generalises, not from $Q^*$.
# * **Darkened: doomed ties.** There the colour is neither right nor wrong. They fill the
#   corners where the pole leans and falls the same way; for the course's agent, the
#   bottom-left corner (leaning and falling left) is blue, a push to the left, and the
#   top-right one red. Where a map shows a patch that looks backwards (a pole leaning and
#   falling left that gets a push to the right), look first whether it is darkened.
# * **The dots** show how small a part of the plane the greedy policy uses (the ranges are
#   printed under the maps). The network was trained on more: its replay memory holds the
#   last 50,000 transitions, and the course's agent stopped at 17,052 steps, so its memory
#   held every transition of its run, including the nearly random first steps of training
#   (ε starts at 1) and every ε-greedy episode that failed, and each failure passes close
#   to the limits. Inside the limits, an odd colour is therefore seldom a state the
#   agent never saw (the exceptions are corners that even failing episodes hardly reach,
#   a pole leaning far one way while swinging back fast): look for the darkened ties first.
# * **The value map** is highest in the band of states from which the pole can be caught,
#   and falls towards the corners where the pole leans and falls the same way.
#
# ### The value scale
#
# A state from which the pole can be held for ever is worth
# $\sum_k \gamma^k = 1/(1-\gamma) = 100$ under $Q^*$ (truncation does not end its future),
# yet the colour bar ends well below 100: the largest value inside the limits and the
# value of the upright state are printed under the maps, for the agent shown. The hard
# target copies set this scale (notebook 5 derives it). Between two copies the network
# regresses on targets $r + \gamma \max_{a'} Q(s', a'; \theta^-)$ from a frozen copy
# $\theta^-$, which is about one sweep of value iteration. From $Q \approx 0$, after $k$
# sweeps a state that can be held for ever is worth about
# $\sum_{j=0}^{k-1}\gamma^j = (1-\gamma^k)/(1-\gamma) = 100\,(1-0.99^k)$, where the copies
# count from step 1,000, when learning starts (the eight copies up to step 1,000 copy a
# network that has not learned yet, the last one after a single update). For the course's agent, from its record
# (`checkpoints/dqn_cartpole.json`):

# %%
# NBVAL_CHECK_OUTPUT
shipped_net, shipped_config = load_checkpoint(SHIPPED_CHECKPOINT)
shipped_steps = shipped_record()["env_steps"]
shipped_sweeps = (shipped_steps - shipped_config.learning_starts) / shipped_config.target_update_every
print(f"the course's agent stopped after {shipped_steps:,} steps: {shipped_sweeps:.1f} sweeps, "
      f"predicted 100 (1 - 0.99^k) = {100 * (1 - shipped_config.gamma ** shipped_sweeps):.1f}; "
      f"its upright state's value: {zero_state_value(shipped_net, 4):.1f}")

# %% [markdown]
# The measured value sits a little above the prediction, as in notebook 5's plot, which
# shows the same growth for your own run (and discusses the gap).
#
# Trained on without early stopping, the values keep climbing towards 100. We measured it
# with `python -m benchmarks.value_growth` (its output is `results/value_growth.json`; seed
# 0; $\max_a Q$ averaged over the start states of the 100 evaluation episodes; the measured
# numbers vary from machine to machine; $k$ is the number of copies made after learning
# started, eight fewer than all):
#
# | target copies (environment steps) | 50 (6,250) | 100 (12,500) | 150 (18,750) | 200 (25,000) |
# |---|---|---|---|---|
# | measured $\max_a Q$ | 36.0 | 62.3 | 79.1 | 89.9 |
# | predicted $100\,(1 - 0.99^k)$ | 34.4 | 60.3 | 76.0 | 85.5 |
#
# The course's agent was already perfect with its upright state's value in the
# seventies (printed above), far from 100: a greedy policy depends only on the *ordering*
# of the two actions' values in each state, not on their size.

# %% [markdown]
# ## Recap
#
# * Evaluate the greedy policy on many held-out, seeded episodes, each reset once and
#   ended on `terminated or truncated`; report the distribution, not only the mean.
# * CartPole-v1 is solved at a mean return of at least 475 over 100 episodes; 195 is
#   CartPole-v0's threshold, for 200-step episodes.
# * The trained agent balances for the full 500 steps; its Q-function encodes a
#   controller that weighs the pole's angle against its angular velocity.
# * Read a Q-map with the physics beside it: where every action sequence falls on the same
#   step (a doomed tie) the greedy choice is arbitrary; the terminal states beyond the
#   limits are pure extrapolation, and the few corners inside them that episodes hardly
#   reach nearly so. After $k$ sweeps (hard target copies made after learning started)
#   the values are near $100\,(1-0.99^k)$, well below $1/(1-\gamma) = 100$; the policy
#   needs only their ordering.
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
