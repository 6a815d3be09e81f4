# %% [markdown]
# # 1 · Markov decision processes and CartPole
#
# Deep Q-Networks learn to act by estimating how much future reward each action brings.
# Before any neural network, we need the language that makes "future reward" precise: the
# Markov decision process (MDP), the discounted return and the Bellman equations. This
# notebook builds that language on a tiny problem whose answer we know, then looks at
# CartPole-v1, the task the rest of the course solves.
#
# **You will:** compute discounted returns; write the Bellman optimality backup and use it
# for value iteration; read CartPole as an MDP and see why *termination* and *truncation*
# must be told apart; watch a random agent fail.
#
# **Prerequisites:** Python and NumPy. **Time:** about 30–45 minutes.

# %%
import numpy as np

from utils.checks import check_bellman_backup, check_discounted_return
from utils.mdp import corridor_mdp, value_iteration
from utils.notebook import setup_notebook
from utils.plotting import cartpole_diagram
from utils.seeding import make_env
from utils.video import show_rollout
from utils.widgets import discount_explorer

SEED = 0
setup_notebook(SEED)  # seeds random/NumPy/torch, one torch thread, notices for unfinished exercises

# %% [markdown]
# ## 1.1 The MDP
#
# An MDP is a tuple $(\mathcal S, \mathcal A, P, R, \gamma)$: states $\mathcal S$, actions
# $\mathcal A$, transition probabilities $P(s' \mid s, a)$, a reward function
# $R(s, a, s')$ and a discount factor $\gamma \in [0, 1]$. *Markov* means the next state
# depends only on the current state and action, not on the history before them.
#
# An agent follows a policy $\pi(a \mid s)$. From time $t$ it collects rewards
# $r_t, r_{t+1}, \dots$ and the quantity it maximises is the **discounted return**
#
# $$G_t = \sum_{k=0}^{T-t-1} \gamma^k\, r_{t+k} = r_t + \gamma\, G_{t+1}.$$
#
# Here $r_t$ is the reward for the action taken at time $t$, as gymnasium's `env.step`
# returns it with the next state. Sutton & Barto (2018) write that same reward $R_{t+1}$
# (it arrives with $S_{t+1}$), so their return reads $G_t = \sum_k \gamma^k R_{t+k+1}$: the
# same sum, with the reward's index shifted by one.
#
# With $\gamma < 1$ a reward $k$ steps away counts $\gamma^k$ as much as one now. The
# weights sum to $1/(1-\gamma)$, the **effective horizon**: with $\gamma = 0.99$ the agent
# looks about 100 steps ahead. (Sutton & Barto 2018, ch. 3.)

# %% [markdown]
# ### Exercise 1.1: the discounted return
#
# Write `discounted_return(rewards, gamma) -> float`: `rewards` is a list of floats
# $r_0, \dots, r_{T-1}$ (possibly empty), `gamma` a float in $[0, 1]$; return
# $G_0 = \sum_k \gamma^k r_k$ as a Python `float`.

# %% exercise="1.1: discounted_return"
def discounted_return(rewards, gamma):
    """The discounted return G_0 = sum_k gamma**k * rewards[k]."""
    ### BEGIN SOLUTION
    ret = 0.0
    for reward in reversed(rewards):
        ret = reward + gamma * ret
    return float(ret)
    ### END SOLUTION


# %% check="1.1"
# NBVAL_CHECK_OUTPUT
check_discounted_return(discounted_return)

# %% [markdown]
# One reward of 1 at every step of a 500-step CartPole episode: the undiscounted score is
# 500; the discounted value from the first state is
# $G_0 = \sum_{k=0}^{499} \gamma^k = \big(1 - \gamma^{500}\big)/(1 - \gamma)$.

# %%
# NBVAL_CHECK_OUTPUT
for gamma in (0.9, 0.99, 0.999):
    print(f"gamma={gamma}: G_0 = {discounted_return([1.0] * 500, gamma):7.2f}, 1/(1-gamma) = {1 / (1 - gamma):7.1f}")

# %% [markdown]
# $G_0$ is close to the effective horizon only when $1/(1-\gamma) \ll 500$: then
# $\gamma^{500} \approx 0$ and the episode outlasts the weights (10.00 against 10, 99.34
# against 100). With $\gamma = 0.999$ the horizon of 1000 steps is longer than the episode,
# $\gamma^{500} \approx 0.61$, and $G_0 = 393.62$ stays far below 1000.
#
# **Explore.** Move $\gamma$: the plot shows the weight $\gamma^k$ of a reward $k$ steps
# ahead; below it, the effective horizon and $G_0$ of the 500-step episode above.

# %%
discount_explorer([1.0] * 500)

# %% [markdown]
# ## 1.2 Values and the Bellman equations
#
# The **action value** of a policy is the expected return after taking $a$ in $s$ and then
# following $\pi$:
# $Q^\pi(s, a) = \mathbb E_\pi[G_t \mid s_t = s, a_t = a]$. Splitting off the first reward
# gives the **Bellman expectation equation**
#
# $$Q^\pi(s, a) = \mathbb E_{s'}\Big[ R(s, a, s') + \gamma \sum_{a'} \pi(a' \mid s')\, Q^\pi(s', a') \Big].$$
#
# The optimal action value $Q^*(s, a) = \max_\pi Q^\pi(s, a)$ satisfies the **Bellman
# optimality equation**, where the average over the policy becomes a max:
#
# $$Q^*(s, a) = \mathbb E_{s'}\Big[ R(s, a, s') + \gamma \max_{a'} Q^*(s', a') \Big].$$
#
# Once $Q^*$ is known, acting greedily, $\pi^*(s) = \arg\max_a Q^*(s, a)$, is optimal.
# When $s'$ is **terminal** nothing follows it, so its future value is 0: the episode
# is over.
#
# In a small MDP whose $P$ and $R$ we know, we can find $Q^*$ by **value iteration**:
# start from any $Q$ and apply the right-hand side (the *Bellman optimality backup*)
# again and again. For $\gamma < 1$ the backup is a contraction, so the iterates converge
# to $Q^*$ (Sutton & Barto 2018, sec. 4.4).

# %% [markdown]
# ### Exercise 1.2: the Bellman optimality backup
#
# Write `bellman_optimality_backup(Q, P, R, terminal, gamma) -> np.ndarray` for an MDP with
# $S$ states and $A$ actions:
#
# | argument | shape, dtype | meaning |
# |---|---|---|
# | `Q` | `(S, A)` float | current estimate; do not modify it |
# | `P` | `(S, A, S)` float | `P[s, a, s2]` $= P(s_2 \mid s, a)$ |
# | `R` | `(S, A)` float | expected reward of taking $a$ in $s$ |
# | `terminal` | `(S,)` bool | `True` where the episode ends |
# | `gamma` | float | discount |
#
# Return a new `(S, A)` array:
# $Q'(s, a) = R(s, a) + \gamma \sum_{s'} P(s' \mid s, a)\,\big(1 - \text{terminal}(s')\big)\max_{a'} Q(s', a')$.
# No Python loops needed: `Q.max(axis=1)`, `np.where` and the matrix product `P @ v` do it.

# %% exercise="1.2: bellman_optimality_backup"
def bellman_optimality_backup(Q, P, R, terminal, gamma):
    """One Bellman optimality backup of Q for the MDP (P, R, terminal, gamma)."""
    ### BEGIN SOLUTION
    next_values = np.where(terminal, 0.0, Q.max(axis=1))
    return R + gamma * (P @ next_values)
    ### END SOLUTION


# %% check="1.2"
# NBVAL_CHECK_OUTPUT
check_bellman_backup(bellman_optimality_backup)

# %% [markdown]
# ### A corridor whose answer we know
#
# Four cells in a row; action 0 moves left (bumping into the wall at cell 0), action 1
# moves right. Entering cell 3 pays 1 and ends the episode. The best plan is to walk right,
# so from cell $s$ the first reward comes after $3 - s$ steps and
# $Q^*(s, \text{right}) = \gamma^{\,2-s}$. Value iteration with your backup finds exactly that:

# %%
# NBVAL_CHECK_OUTPUT
P, R, terminal = corridor_mdp(length=4)
Q_star, sweeps = value_iteration(P, R, terminal, gamma=0.9, backup=bellman_optimality_backup)
print(f"converged after {sweeps} sweeps")
print("Q*(s, left), Q*(s, right):\n", Q_star.round(4))
print("greedy actions:", Q_star[:3].argmax(axis=1), "(1 = right)")

# %% [markdown]
# Make the floor slippery (each move fails with probability 0.3) and the values drop,
# because reaching the goal now takes longer on average, but walking right stays optimal:

# %%
# NBVAL_CHECK_OUTPUT
Q_slip, _ = value_iteration(*corridor_mdp(length=4, slip=0.3), gamma=0.9, backup=bellman_optimality_backup)
print(Q_slip.round(4))

# %% [markdown]
# ## 1.3 From value iteration to Q-learning
#
# Value iteration needs $P$ and $R$. Usually we only get to *sample* transitions
# $(s, a, r, s')$ by acting. **Q-learning** (Watkins 1989) replaces the expectation by one
# sample and moves $Q(s, a)$ a step $\alpha$ towards it:
#
# $$Q(s, a) \leftarrow Q(s, a) + \alpha \Big[\underbrace{r + \gamma\,(1 - \text{terminal}(s')) \max_{a'} Q(s', a')}_{\text{TD target } y} - Q(s, a)\Big].$$
#
# The rest of the return after $r$ is not known yet, so the target $y$ puts in its place
# the current estimate $\max_{a'} Q(s', a')$ of the next state's value. Building a target
# from one's own current estimates is called **bootstrapping**.
#
# Q-learning learns $Q^*$ while following any policy that keeps trying every action (it is
# *off-policy*); in a table it converges when every pair is visited infinitely often and
# the step sizes decay suitably. DQN (Mnih et al. 2015) keeps this update but replaces
# the table by a neural network $Q(s, a; \theta)$, because CartPole's states are
# continuous: no table can hold them.

# %% [markdown]
# ## 1.4 CartPole-v1 as an MDP
#
# A pole is hinged on a cart that moves along a track; the agent pushes the cart left or
# right to keep the pole upright.
#
# * **State** $s = (x, \dot x, \theta, \dot\theta) \in \mathbb R^4$: cart position $x$
#   ($x > 0$ right of the centre), cart velocity, pole angle $\theta$ from the vertical
#   ($\theta > 0$: the pole leans right), pole angular velocity. The physics is
#   deterministic; only the start state is random (each entry uniform in $[-0.05, 0.05]$).
# * **Actions**: 0 = push the cart left, 1 = push it right.
# * **Reward**: $+1$ for every step, including the last.
# * **Termination**: $|\theta| > 12^\circ \approx 0.2094$ rad or $|x| > 2.4$. The episode
#   really ends: $s'$ is terminal and its future value is 0.
# * **Truncation**: after 500 steps the time limit stops the episode. The pole is still
#   up; the state is *not* terminal, the clock simply ran out. The remaining time is not
#   part of the observation, so the time limit is not part of the MDP the agent sees: for
#   the agent the episode could go on, and the TD target still bootstraps from $s'$
#   (Pardo et al. 2018).

# %%
cartpole = make_env(SEED).unwrapped  # the simulator itself, under gymnasium's wrappers
cartpole_diagram(x_limit=cartpole.x_threshold, angle_limit=cartpole.theta_threshold_radians)

# %% [markdown]
# The signs, checked on the simulator: from rest at the centre with the pole exactly
# upright, one push each way.

# %%
# NBVAL_CHECK_OUTPUT
for action in (0, 1):
    cartpole.state = np.zeros(4)  # (x, x_dot, theta, theta_dot): at rest at the centre, pole upright
    _, x_dot, _, theta_dot = cartpole.step(action)[0]
    print(f"action {action}: cart velocity {x_dot:+.3f}, pole angular velocity {theta_dot:+.3f}")

# %% [markdown]
# Pushing right moves the cart right ($\dot x > 0$) and tips the pole to the left
# ($\dot\theta < 0$): the cart moves out from under it. So a pole leaning right is caught
# by pushing the cart right, under it.

# %%
# NBVAL_CHECK_OUTPUT
env = make_env(SEED)
print("observation space:", env.observation_space)
print("action space:     ", env.action_space)
print("time limit:       ", env.spec.max_episode_steps, "steps")
print("reward threshold: ", env.spec.reward_threshold)

# %% [markdown]
# The observation space's bounds are not the termination limits: position $\pm 4.8$ and
# angle $\pm 0.4189$ rad (24°) are twice the limits $\pm 2.4$ and $\pm 0.2094$ rad (12°)
# beyond which an episode terminates, so the state in which it fails still lies inside
# the space. The velocities are unbounded (`inf`).
#
# > **Common pitfall: treating truncation as termination.** The seed notebook this
# > course grew from said an episode *terminates* when $t > 500$. Gymnasium returns two
# > flags, `terminated` and `truncated`. Only `terminated` means "no future": the TD target
# > uses $(1 - \text{terminated})$. A truncated state still has a future (the pole would
# > keep balancing), so the target must bootstrap from it. The step count is not in the
# > observation: the agent cannot tell step 50 from step 500. Masking truncated states
# > gives the same upright state a target of 1 when it happens to come just before the
# > time-out and of nearly 100 otherwise, noise from a clock the agent cannot see (Pardo
# > et al. 2018). An episode *ends* on `terminated or truncated`; only the first one
# > stops bootstrapping.

# %% [markdown]
# ## 1.5 A random agent
#
# Pushing at random keeps the pole up for only a couple of dozen steps. Here is the
# score of 100 random episodes (seeded, so the numbers are the same every run):

# %%
# NBVAL_CHECK_OUTPUT
def random_episode_return(env) -> float:
    """Play one episode with uniformly random actions and return its (undiscounted) score."""
    env.reset()
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        total, done = total + reward, terminated or truncated
    return total


scores = np.array([random_episode_return(env) for _ in range(100)])
print(f"random agent: mean {scores.mean():.1f}, min {scores.min():.0f}, max {scores.max():.0f} over 100 episodes")

# %% [markdown]
# And what it looks like (the video is embedded in the notebook, so it plays wherever
# the notebook goes). The episode stops when the pole falls (`terminated`) or at the
# time limit (`truncated`), whichever comes first.

# %%
video_env = make_env(SEED, render=True)
show_rollout(video_env, policy=lambda state: video_env.action_space.sample())

# %% [markdown]
# ## Recap
#
# * The return $G_t = \sum_k \gamma^k r_{t+k}$ weighs the future; $1/(1-\gamma)$ is how
#   far the agent effectively looks ahead.
# * $Q^*$ satisfies the Bellman optimality equation; value iteration applies its backup
#   until nothing changes; Q-learning does the same from sampled transitions.
# * Terminal next states contribute no future value; truncated ones do, because the time
#   left is not part of the state the agent sees.
# * CartPole-v1: 4 continuous state variables, 2 actions, +1 per step, at most 500 steps.
#
# **Next:** notebook 2 stores the agent's experience in a replay memory, so that a neural
# network can learn from it.
#
# **References.** V. Mnih et al., "Human-level control through deep reinforcement
# learning", *Nature* 518, 529–533 (2015). R. S. Sutton and A. G. Barto,
# *Reinforcement Learning: An Introduction*, 2nd ed., MIT Press (2018). F. Pardo,
# A. Tavakoli, V. Levdik and P. Kormushev, "Time limits in reinforcement learning",
# *ICML* (2018). C. J. C. H. Watkins, *Learning from Delayed Rewards*, PhD thesis,
# Cambridge (1989).
