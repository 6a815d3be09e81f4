# %% [markdown]
# # 7 · Beyond vanilla DQN, and how to tell whether an improvement is real
#
# DQN as notebooks 1–6 built it is where deep RL started, not where it stopped. Rainbow
# (Hessel et al. 2018) combined six extensions and reached much better Atari scores than
# any of them alone. This notebook builds three of them, each a few lines: a **dueling**
# network, **n-step returns** and **prioritized experience replay**. Each is an option of
# `DQNConfig` (`dueling`, `n_step`, `prioritized`), off by default.
#
# Then comes the harder question: does an extension *help*? On one seed, anything can
# look better than anything else. Most published RL comparisons use few runs and report
# point estimates that other seeds do not reproduce (Henderson et al. 2018; Agarwal et
# al. 2021). The second half of the notebook compares the variants over thirty training
# seeds, each variant with a learning rate tuned on seeds of its own, with the statistics
# those papers recommend, and draws only the conclusions the data supports.
#
# **You will:** write a dueling network; compute n-step targets on episodes that end by
# termination and by truncation; write a sum-tree and the pieces of prioritized replay
# (priorities, importance-sampling weights, β annealing, the sampler); measure what each
# option costs per step; compute an interquartile mean and a bootstrap confidence interval
# yourself; read a thirty-seed ablation honestly, and run a smaller one of your own.
#
# **Prerequisites:** notebooks 1–6 (their reference versions are imported from `utils`).
# **Time:** about 3 to 4 hours: six exercises, among them a sum-tree, a prioritized sampler
# and a bootstrap. The thirty-seed ablation is precomputed by `make ablation` (from tens
# of minutes to hours, depending on the machine) and loaded from `results/`; the three
# optional cells of your own ablation train ten agents each, up to about a minute each.

# %%
import numpy as np
import torch
from scipy import stats
from torch import nn

from utils.ablation import (LR_FACTORS, RESULTS, TUNING_RESULTS, VARIANTS, beta_at_stop, curve_band, load_runs,
                            load_step_costs, run_live, runs_of, steps_to_solve, tuned_lrs, tuning_name,
                            variant_summary)
from utils.checks import (check_dueling_network, check_iqm_bootstrap, check_n_step_targets, check_per_weights,
                          check_prioritized_slots, check_sum_tree)
from utils.dqn import DQNConfig
from utils.networks import QNetwork, count_parameters
from utils.notebook import setup_notebook
from utils.plotting import ablation_figure, line_plot, performance_profiles
from utils.prioritized import SumTree as CourseSumTree
from utils.seeding import ABLATION_SEEDS, ABLATION_TUNING_SEEDS, seed_span
from utils.stats import bonferroni_confidence, bootstrap_ci, iqm_difference_ci, performance_profile
from utils.widgets import ABLATION_GRID, ablation_explorer

SEED = 0
setup_notebook(SEED)  # seeds random/NumPy/torch, one torch thread, notices for unfinished exercises

# %% [markdown]
# ## 7.1 Dueling networks
#
# In many states the action barely matters: with the pole upright and still, pushing left
# or right changes little, yet a plain Q-network must learn each action's value
# separately. Wang et al. (2016) split the network's last layer into two **heads** on a
# shared trunk: a **value** $V(s)$ (one number) and an **advantage** $A(s, a)$ (one per
# action), recombined as
#
# $$Q(s, a) = V(s) + A(s, a) - \frac{1}{|\mathcal A|} \sum_{a'} A(s, a').$$
#
# Every update of any action now also trains $V$, which all actions share.
#
# **Why subtract the mean?** $Q = V + A$ alone is not *identifiable*: $V + c$ and $A - c$
# give the same $Q$ for any $c$, so nothing pins down what each head means, and the two
# can drift in opposite directions. Subtracting the mean advantage fixes it: now
# $\sum_a A(s, a)$ has no effect on $Q$, and $V(s)$ equals the mean of $Q(s, \cdot)$.
# Subtracting $\max_{a'} A(s, a')$ would also identify the heads ($V$ becomes the value of
# the best action, as in the definition $V^*(s) = \max_a Q^*(s, a)$); Wang et al. found
# the mean more stable, since the advantages then only need to move as fast as their mean,
# not as fast as the best one.

# %% [markdown]
# ### Exercise 7.1: the dueling network
#
# Write `class DuelingQNetwork(nn.Module)` with `__init__(self, obs_dim=4, n_actions=2, hidden=128)`:
#
# * a trunk `Linear(obs_dim, hidden)`, ReLU, `Linear(hidden, hidden)`, ReLU (as in `QNetwork`);
# * `self.value_head = nn.Linear(hidden, 1)` and `self.advantage_head = nn.Linear(hidden, n_actions)`
#   (use these two names: the check looks at them);
# * `forward(states)`: `(B, obs_dim)` float32 → `(B, n_actions)` Q-values
#   $V + A - \text{mean}_a A$, with no activation on the output. Take the mean over the
#   **last** dimension (`dim=-1, keepdim=True`), so that a single state `(obs_dim,)` works too.

# %% exercise="7.1: DuelingQNetwork"
class DuelingQNetwork(nn.Module):
    """A shared trunk, a value head V(s) and an advantage head A(s, a); Q = V + A - mean_a A."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        """Build the trunk and the two heads."""
        super().__init__()
        ### BEGIN SOLUTION
        self.trunk = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.value_head = nn.Linear(hidden, 1)
        self.advantage_head = nn.Linear(hidden, n_actions)
        ### END SOLUTION

    def forward(self, states):
        """Q-values (..., n_actions) of states (..., obs_dim)."""
        ### BEGIN SOLUTION
        features = self.trunk(states)
        advantages = self.advantage_head(features)
        return self.value_head(features) + advantages - advantages.mean(dim=-1, keepdim=True)
        ### END SOLUTION


# %% check="7.1"
# NBVAL_CHECK_OUTPUT
check_dueling_network(DuelingQNetwork)

# %% [markdown]
# Two heads cost one extra output unit: 129 parameters more than `QNetwork`. And the mean
# subtraction at work: add 5 to every advantage (through the advantage head's bias) and
# the Q-values do not move.

# %%
# NBVAL_CHECK_OUTPUT
dueling = DuelingQNetwork()
print(f"parameters: QNetwork {count_parameters(QNetwork()):,}, DuelingQNetwork {count_parameters(dueling):,}")
states = torch.randn(3, 4)
with torch.no_grad():
    before = dueling(states)
    dueling.advantage_head.bias += 5.0
    after = dueling(states)
print("Q unchanged when every advantage grows by 5:", torch.allclose(before, after, atol=1e-5))

# %% [markdown]
# ## 7.2 n-step returns
#
# The one-step target $r_t + \gamma \max_a Q(s_{t+1}, a)$ moves information one step per
# update: a reward reaches the state $k$ steps before it only after $k$ rounds of
# bootstrapping. The **n-step target** (Sutton 1988; Sutton & Barto 2018, ch. 7) sums $n$
# real rewards before it bootstraps:
#
# $$y_t = \sum_{k=0}^{m-1} \gamma^k r_{t+k} + \gamma^m \,(1 - d_{t+m})\, \max_a Q(s_{t+m}, a; \theta^-),
# \qquad m = \min(n,\ T - t),$$
#
# where $T$ is the episode's length and $d_{t+m} = 1$ only if the episode *terminated* at
# $s_{t+m}$. What it trades:
#
# * **Less bias from the estimate, more variance from the rewards.** Early in training
#   $\max_a Q$ is wrong; $n$ real rewards dilute that error (it is weighted by $\gamma^n$
#   instead of $\gamma$), but the sum of $n$ random rewards varies more than one.
# * **Off-policy bias.** The $n$ rewards were collected by the ε-greedy behaviour policy,
#   not by the greedy policy whose values we learn; for $n > 1$ the target mixes the two.
#   Corrections exist (importance sampling, Retrace: Munos et al. 2016); Rainbow uses
#   $n = 3$ without any, and so does `DQNConfig(n_step=3)`.
# * **The episode's end inside the window.** If the episode ends before $n$ steps, the
#   window stops there: $m < n$. After a **termination** nothing is bootstrapped. After a
#   **truncation** (the 500-step limit), the state still has a future, so the target
#   bootstraps from the truncated state with $\gamma^m$, for the reason of notebook 1.
#
# In training, `utils.nstep.NStepBuilder` turns each step into the n-step transition that
# started $n - 1$ steps earlier, and stores $\gamma^m$ with it; the target is then
# $R + \gamma^m (1 - d) \max_a Q(s', a)$ with the transition's own $\gamma^m$.

# %% [markdown]
# ### Exercise 7.2: n-step targets of one episode
#
# Write `n_step_targets(rewards, bootstrap_values, terminated, n, gamma) -> np.ndarray`:
#
# | argument | meaning |
# |---|---|
# | `rewards` | `(T,)` float array: $r_0, \dots, r_{T-1}$ of one whole episode |
# | `bootstrap_values` | `(T,)` float array: `bootstrap_values[t]` $= \max_a Q(s_{t+1}, a)$, the value of the state reached after step $t$ |
# | `terminated` | `True` if the episode ended by termination at $s_T$, `False` if it was truncated |
# | `n`, `gamma` | the number of steps and the discount |
#
# Return the `(T,)` float array of targets $y_t$ from the formula above: with
# $m = \min(n, T - t)$, the bootstrap value is `bootstrap_values[t + m - 1]`, left out
# when `terminated` and $t + m = T$. Don't modify the arguments.

# %% exercise="7.2: n_step_targets"
def n_step_targets(rewards, bootstrap_values, terminated, n, gamma):
    """The n-step target of every step t of one episode, the window stopping at the episode's end."""
    ### BEGIN SOLUTION
    rewards, bootstrap_values = np.asarray(rewards, dtype=float), np.asarray(bootstrap_values, dtype=float)
    length = len(rewards)
    targets = np.zeros(length)
    for t in range(length):
        m = min(n, length - t)
        targets[t] = sum(gamma ** k * rewards[t + k] for k in range(m))
        if not (terminated and t + m == length):
            targets[t] += gamma ** m * bootstrap_values[t + m - 1]
    return targets
    ### END SOLUTION


# %% check="7.2"
# NBVAL_CHECK_OUTPUT
check_n_step_targets(n_step_targets)

# %% [markdown]
# A five-step episode with every state valued 10 and a reward of 1 per step, as CartPole
# gives: the targets for $n = 1$ and $n = 3$, when it ends by termination and when the
# time limit cuts it. Only the last $n$ targets differ between the two endings.

# %%
# NBVAL_CHECK_OUTPUT
episode_rewards, values = np.ones(5), np.full(5, 10.0)
for n in (1, 3):
    for ended_by, terminated in (("termination", True), ("truncation", False)):
        targets = n_step_targets(episode_rewards, values, terminated, n, 0.9)
        print(f"n = {n}, {ended_by:<11}: {np.round(targets, 3)}")

# %% [markdown]
# ## 7.3 Prioritized experience replay
#
# Uniform replay spends most updates on transitions the network already predicts well.
# **Prioritized experience replay** (Schaul et al. 2016) replays a transition more often
# the more it surprised the network at its last update. In the proportional variant,
# transition $i$ with last TD error $\delta_i$ has priority $p_i = (|\delta_i| + \epsilon)^\alpha$
# and is sampled with probability
#
# $$P(i) = \frac{p_i}{\sum_k p_k}.$$
#
# * $\epsilon > 0$ keeps a transition whose error happened to be 0 from never being
#   replayed again; $\alpha \in [0, 1]$ sets how strongly priorities count ($\alpha = 0$ is
#   uniform; the course uses 0.6, as Schaul et al. did for proportional replay).
# * A **new** transition has no TD error yet: it gets the largest priority given so far,
#   so that it is replayed at least once soon.
# * After each gradient step, the sampled transitions get new priorities from their new
#   TD errors.
# * Non-uniform sampling changes the distribution the loss is averaged over, which biases
#   the updates. **Importance-sampling weights** undo it: each sampled transition's loss
#   is multiplied by
#
#   $$w_i = \frac{(N \cdot P(i))^{-\beta}}{\max_j\, (N \cdot P(j))^{-\beta}},$$
#
#   $N$ being the number of stored transitions. With $\beta = 1$ the numerators
#   $(N \cdot P(i))^{-1}$ undo the non-uniform sampling exactly. Dividing by the maximum
#   keeps every weight $\le 1$, so that it only ever shrinks a step. Implementations
#   differ in the maximum they take: OpenAI Baselines takes it over the whole memory (the
#   weight of its least likely transition), Dopamine over the batch. The course takes it
#   over the *batch*, so each batch's updates are also
#   scaled by its own factor $1 / \max_j (N \cdot P(j))^{-\beta}$, which changes from batch
#   to batch. Even at $\beta = 1$ the correction is therefore complete only up to that
#   per-batch scale, a step size that varies a little. Full correction matters most near
#   the end of training, when the updates should converge, so $\beta$ is **annealed**
#   linearly from $\beta_0 = 0.4$ to 1 over the training budget, `max_env_steps`. A run
#   that the greedy checks stop early never reaches the end of its budget, and so never
#   $\beta = 1$: section 7.5 computes where the ablation's runs stopped.
#
# Sampling in proportion to $p_i$ from 50,000 transitions at every step needs the right
# data structure. A **sum-tree** keeps the priorities in the leaves of a binary tree whose
# every node holds the sum of its two children, so the root holds $\sum_k p_k$. To sample,
# draw $v$ uniformly in $[0, \sum_k p_k)$ and walk down from the root: go left if $v$ is
# below the left child's sum, else go right with $v$ reduced by it. Changing one priority
# updates the sums on one path. Both take $O(\log N)$ steps, against $O(N)$ for a scan.
#
# Floating-point sums bring one edge case. Each node holds its children's sum *rounded*,
# and $v$ is reduced by rounded sums on the way down, so a $v$ just below the total can
# arrive at a node equal to (not below) its left child's sum while the right child holds
# only unused slots of priority 0. Going right then returns a slot that holds no
# transition. The walk must never enter a subtree whose sum is 0.

# %% [markdown]
# ### Exercise 7.3: a sum-tree
#
# The tree lives in one array `nodes` of size `2 * capacity` (`capacity` a power of two):
# node 1 is the root, node $k$ has children $2k$ and $2k + 1$, and slot $j$'s priority is
# the leaf `capacity + j`. Write `update(slot, priority)`, which sets the slot's priority
# and updates every sum on its path to the root, and `find(value)`, which returns the slot
# $j$ with $\sum_{k<j} p_k \le v < \sum_{k \le j} p_k$ for $0 \le v <$ `total()`. Both must
# walk one path (about $\log_2$ capacity nodes), not the whole tree.
#
# **The edge case:** `find` must never return a slot of priority 0, even when rounding
# puts $v$ at (or past) the end of a subtree: go right only if the right child's sum is
# above 0. Example: priorities 0.18, 0.14 and 0.51 in slots 0–2 of a 4-slot tree give the
# total `0.8300000000000001`; `find(0.83)` goes right at the root with
# $v = 0.83 - 0.32 = 0.51$, exactly the sum of slot 2, and without the guard would go
# right again, to the empty slot 3. The answer is slot 2.

# %% exercise="7.3: SumTree"
class SumTree:
    """Priorities of `capacity` slots (a power of two) in a binary tree of sums."""

    def __init__(self, capacity):
        """All priorities 0; node 1 is the root, slot j is leaf capacity + j."""
        self.capacity = capacity
        self.nodes = np.zeros(2 * capacity)

    def total(self):
        """The sum of all priorities."""
        return self.nodes[1]

    def update(self, slot, priority):
        """Set `slot`'s priority and update the sums on its path to the root."""
        ### BEGIN SOLUTION
        node = self.capacity + slot
        self.nodes[node] = priority
        while node > 1:
            node //= 2
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]
        ### END SOLUTION

    def find(self, value):
        """The slot whose interval of the running sum of priorities contains `value`."""
        ### BEGIN SOLUTION
        node = 1
        while node < self.capacity:
            left = 2 * node
            # Rounding can leave `value` at the end of the left subtree: never walk into an empty one.
            if value < self.nodes[left] or self.nodes[left + 1] == 0:
                node = left
            else:
                value -= self.nodes[left]
                node = left + 1
        return node - self.capacity
        ### END SOLUTION


# %% check="7.3"
# NBVAL_CHECK_OUTPUT
check_sum_tree(SumTree)

# %% [markdown]
# The edge case of the statement, on your tree:

# %%
# NBVAL_CHECK_OUTPUT
edge = SumTree(4)
for slot, priority in enumerate([0.18, 0.14, 0.51]):
    edge.update(slot, priority)
print(f"total() = {float(edge.total())!r}; find(0.83) = slot {edge.find(0.83)}; slot 3's priority: {edge.nodes[4 + 3]:g}")

# %% [markdown]
# ### Exercise 7.4: priorities, importance-sampling weights, β
#
# Write three small functions (NumPy arrays in, NumPy arrays out):
#
# * `priorities_from(td_errors, alpha, eps=1e-6)`: $(|\delta| + \epsilon)^\alpha$ elementwise;
# * `importance_weights(probabilities, memory_size, beta)`: $(N \cdot P(i))^{-\beta}$ for
#   each sampled transition's probability $P(i)$, divided by their maximum;
# * `beta_at(step, beta_start, total_steps)`: $\beta_0 + (1 - \beta_0) \min(\text{step} / \text{total}, 1)$,
#   a float.

# %% exercise="7.4: priorities_from / importance_weights / beta_at"
def priorities_from(td_errors, alpha, eps=1e-6):
    """(|TD error| + eps) ** alpha, elementwise."""
    ### BEGIN SOLUTION
    return (np.abs(np.asarray(td_errors, dtype=float)) + eps) ** alpha
    ### END SOLUTION


def importance_weights(probabilities, memory_size, beta):
    """(N * P(i)) ** -beta for each sampled transition, divided by the largest of them."""
    ### BEGIN SOLUTION
    weights = (memory_size * np.asarray(probabilities, dtype=float)) ** -beta
    return weights / weights.max()
    ### END SOLUTION


def beta_at(step, beta_start, total_steps):
    """beta annealed linearly from beta_start at step 0 to 1 at total_steps, then kept at 1."""
    ### BEGIN SOLUTION
    return beta_start + (1.0 - beta_start) * min(step / total_steps, 1.0)
    ### END SOLUTION


# %% check="7.4"
# NBVAL_CHECK_OUTPUT
check_per_weights(priorities_from, importance_weights, beta_at)

# %% [markdown]
# ### Exercise 7.5: the prioritized sampler
#
# Put the pieces together in `PrioritizedSlots`, which decides which slots of a replay
# memory to learn from. It keeps the priorities in the course's vectorised sum-tree,
# `utils.prioritized.SumTree` (imported here as `CourseSumTree`): `tree.set(slot, p)` sets
# one priority, `tree.update(slots, ps)` several, `tree.priorities(slots)` reads them,
# `tree.find(values)` finds the slots of an array of values, and `tree.total` (a property)
# is the sum. Write:
#
# * `add(slot)`: a new transition was written to `slot`: give it `self.max_priority`, and
#   count it in `self.size`, which never exceeds `capacity` (a full ring buffer overwrites
#   its oldest slot);
# * `sample(batch_size, beta, rng)`: split $[0, \text{total})$ into `batch_size` equal
#   segments, draw one value uniformly in each with `rng.uniform`, find their slots, and
#   return `(slots, weights)` with the weights of exercise 7.4 for $P(i) = p_i / \text{total}$
#   and $N$ = `self.size`;
# * `update(slots, td_errors)`: set the priorities $(|\delta| + \epsilon)^\alpha$ of the
#   sampled slots after a gradient step, and keep `self.max_priority` the largest priority
#   given so far.

# %% exercise="7.5: PrioritizedSlots"
class PrioritizedSlots:
    """Which replay-memory slots to learn from, in proportion to their priorities."""

    def __init__(self, capacity, alpha, eps=1e-6):
        """No slot in use yet; the first transitions get priority 1."""
        self.tree = CourseSumTree(capacity)
        self.capacity, self.alpha, self.eps = capacity, alpha, eps
        self.max_priority = 1.0
        self.size = 0

    def add(self, slot):
        """A new transition was written to `slot`: give it the largest priority so far."""
        ### BEGIN SOLUTION
        self.tree.set(slot, self.max_priority)
        self.size = min(self.size + 1, self.capacity)
        ### END SOLUTION

    def sample(self, batch_size, beta, rng):
        """(slots, weights): one slot per equal segment of the total priority, and their IS weights."""
        ### BEGIN SOLUTION
        segment = self.tree.total / batch_size
        values = (np.arange(batch_size) + rng.uniform(size=batch_size)) * segment
        slots = self.tree.find(values)
        probabilities = self.tree.priorities(slots) / self.tree.total
        return slots, importance_weights(probabilities, self.size, beta)
        ### END SOLUTION

    def update(self, slots, td_errors):
        """New priorities from the TD errors of the sampled slots after a gradient step."""
        ### BEGIN SOLUTION
        priorities = priorities_from(td_errors, self.alpha, self.eps)
        self.tree.update(slots, priorities)
        self.max_priority = max(self.max_priority, float(priorities.max()))
        ### END SOLUTION


# %% check="7.5"
# NBVAL_CHECK_OUTPUT
check_prioritized_slots(PrioritizedSlots)

# %% [markdown]
# Your sampler at work: eight transitions with TD errors 0 to 7, sampled 20,000 times in
# batches of 8. With $\alpha = 0.6$ the transition with error 7 should be drawn
# $7^{0.6} \approx 3.2$ times as often as the one with error 1, not 7 times, and the one
# with error 0 almost never (its priority is $\epsilon^{0.6} \approx 2.5 \cdot 10^{-4}$):

# %%
slots = PrioritizedSlots(8, alpha=0.6)
for slot in range(8):
    slots.add(slot)
td_errors = np.arange(8.0)
slots.update(np.arange(8), td_errors)
drawn = np.concatenate([slots.sample(8, beta=0.4, rng=np.random.default_rng(k))[0] for k in range(2_500)])
expected = priorities_from(td_errors, 0.6) / priorities_from(td_errors, 0.6).sum()
line_plot(td_errors, {"share of draws": np.bincount(drawn, minlength=8) / drawn.size,
                      "P(i) = p_i / sum p, p = (|δ| + ε)^0.6": expected},
          xlabel="TD error |δ| of the slot", ylabel="probability", title="prioritized sampling: draws against P(i)")

# %% [markdown]
# ## 7.4 What each option costs
#
# The course's `utils.dqn.train` implements all three options (`DQNConfig(dueling=True)`,
# `n_step=3`, `prioritized=True`, in any combination). What does each add to the work?
#
# * **Dueling**: a second head and a mean in every forward pass, so every action and
#   every update costs a little more.
# * **n-step returns**: a little bookkeeping per environment step (the window of the last
#   $n$ transitions); an update does the same work as the default's.
# * **Prioritized replay**: per update, two walks of the sum-tree (the search for the
#   batch's slots and the update of their priorities) and the importance-sampling weights;
#   per environment step, one more walk, to give the new transition its priority.
#
# None of them changes how the cost grows: every walk of the sum-tree is $O(\log N)$, and
# nothing loops over the whole memory.
#
# How much time is that? A timing taken while other programs run (a browser, another
# notebook) can be off by tens of percent, so a quick measurement in this notebook could
# rank the options wrongly. The table is the
# committed output of `python -m benchmarks.step_cost --variants`, which times an update
# and an action in tight loops (the median of five rounds) and the whole training loop
# per environment step (three rounds of 3,000 steps after `learning_starts`, the variants
# taking turns), on the machine named in its first line, with the load average it had
# then (a load above the number of CPUs means other programs took turns with the
# benchmark, and the figures cannot be trusted). Run the same command, with the machine
# otherwise idle, to measure yours (several minutes).

# %%
# NBVAL_CHECK_OUTPUT
step_costs = load_step_costs()
print(f"measured on: {step_costs['machine']}, load average {step_costs['load_average']}, by {step_costs['command']}")
print(f"{'variant':<12}{'update µs':>10}{'action µs':>11}{'loop µs per env step':>22}{'loop x default':>16}")
for row in step_costs["rows"]:
    print(f"{row['variant']:<12}{row['update_us']:>10.0f}{row['action_us']:>11.0f}{row['loop_us_per_step']:>22.0f}"
          f"{row['x_default']:>16.2f}")

# %% [markdown]
# Read only the large differences: even this run's figures are noisy by about a quarter.
# Prioritized replay's action is the recipe's forward pass, yet it came out at 38 µs
# against 50 µs, and all three options together cost less per step than prioritized
# replay alone, though they do strictly more. Beyond that noise stands prioritized
# replay, whose loop costs about 1.6 times the recipe's; dueling's +12% and n-step's −3%
# cannot be told apart from the noise.
#
# ## 7.5 Does it help? Results across seeds
#
# Training CartPole once with each variant and ranking them by their single runs would be
# the mistake this section is about. How much do runs vary? Here are the thirty runs of
# the course's recipe (the variant called "default"), seeds 110–139, from the committed
# ablation (`make ablation`):

# %%
# NBVAL_CHECK_OUTPUT
rows = load_runs(RESULTS)
default_runs = runs_of(rows, "default")
default_solved_at = [r["solved_at"] for r in default_runs]
print(f"env steps to the first confirmed perfect check, seeds {seed_span(ABLATION_SEEDS)}:")
print(default_solved_at)
print(f"slowest / fastest seed: {max(default_solved_at):,} / {min(default_solved_at):,} = "
      f"{max(default_solved_at) / min(default_solved_at):.2f}")

# %% [markdown]
# The same code, the same settings, only the seed differs, and the cost of solving varies
# by more than a factor of two. A single run of a variant that happened to land in the
# lucky part of this range would look like a large improvement. Agarwal et al. (2021)
# recommend three things, which this section uses:
#
# * **Many runs, and an aggregate that is robust but efficient.** The median ignores most
#   of the data; the mean follows a single outlier. The **interquartile mean** (IQM) sits
#   between the two: it cuts the lowest and the highest quarter of the runs,
#   $\lfloor 0.25\,n \rfloor$ from each end as `scipy.stats.trim_mean(scores, 0.25)` does,
#   and averages the rest. Of ten runs it cuts two from each end and keeps the middle six
#   (60%); of thirty, seven from each end and the middle sixteen.
# * **An interval, not a point.** A 95% **bootstrap confidence interval** shows how much
#   the IQM would move with other seeds: resample the runs with replacement many times,
#   compute the IQM of each resample, and take the 2.5th and 97.5th percentiles.
#   (Agarwal et al. resample the runs within each task, a *stratified* bootstrap; with one
#   task that is exactly this.)
# * **The whole distribution.** A **performance profile** plots, for every threshold
#   $\tau$, the fraction of runs that did better than $\tau$: scored above it, or, for a
#   cost such as the steps to solve, needed at most $\tau$.

# %% [markdown]
# ### Exercise 7.6: IQM and a bootstrap interval
#
# Write `iqm(scores)`: sort the scores, cut $\lfloor 0.25\,n \rfloor$ runs from each end,
# and return the mean of the rest (the definition of `scipy.stats.trim_mean(scores, 0.25)`).
# Then write `bootstrap_interval(scores, statistic, n_resamples, rng, confidence=0.95)`:
# draw `n_resamples` resamples of the runs **with replacement**, each as large as `scores`,
# using the generator `rng` (e.g. `rng.integers` or `rng.choice`), apply `statistic` to
# each, and return `(low, high)`, the $(1 - c)/2$ and $(1 + c)/2$ quantiles of those
# statistics.

# %% exercise="7.6: iqm / bootstrap_interval"
def iqm(scores):
    """The interquartile mean: the mean of the scores left after cutting 25% from each end."""
    ### BEGIN SOLUTION
    ordered = np.sort(np.asarray(scores, dtype=float))
    cut = int(0.25 * len(ordered))
    return ordered[cut:len(ordered) - cut].mean()
    ### END SOLUTION


def bootstrap_interval(scores, statistic, n_resamples, rng, confidence=0.95):
    """(low, high): the percentile-bootstrap interval of statistic(scores), resampling the runs."""
    ### BEGIN SOLUTION
    scores = np.asarray(scores, dtype=float)
    resamples = rng.integers(0, len(scores), size=(n_resamples, len(scores)))
    statistics = np.array([statistic(scores[rows]) for rows in resamples])
    return tuple(np.quantile(statistics, [(1 - confidence) / 2, (1 + confidence) / 2]))
    ### END SOLUTION


# %% check="7.6"
# NBVAL_CHECK_OUTPUT
check_iqm_bootstrap(iqm, bootstrap_interval)

# %% [markdown]
# Your functions against `scipy` on the default recipe's steps to solve. SciPy's
# `stats.bootstrap` (which `utils.stats.bootstrap_ci` uses) draws its own resamples, so the
# two intervals agree closely but not to the last digit:

# %%
# NBVAL_CHECK_OUTPUT
default_steps = np.array([r["solved_at"] for r in default_runs], dtype=float)
low, high = bootstrap_interval(default_steps, iqm, 10_000, np.random.default_rng(SEED))
print(f"IQM: yours {iqm(default_steps):,.0f}, scipy's trim_mean {stats.trim_mean(default_steps, 0.25):,.0f}")
print(f"95% interval: yours [{low:,.0f}, {high:,.0f}], utils.stats.bootstrap_ci "
      "[{:,.0f}, {:,.0f}]".format(*bootstrap_ci(default_steps)))

# %% [markdown]
# ### The ablation over thirty seeds
#
# Five variants (the recipe, each option alone, all three together), thirty training
# seeds each, the recipe's budget of 100,000 steps with its greedy checks: 150 runs.
#
# **A fair design.** The recipe's settings were chosen for the recipe, on CartPole seeds
# 0–99 (`utils.seeding.CARTPOLE_TUNING_SEEDS`, `STOP_SWEEP_SEEDS` and
# `CONFIRM_SWEEP_SEEDS`), and an option run with settings chosen for another variant
# starts at a disadvantage: Schaul et al. (2016) lowered the step size by a factor of 4
# for prioritized replay. So `make ablation` works in two stages. First each variant
# tries four learning rates, ¼, ½, 1 and 2 times the recipe's $2 \cdot 10^{-3}$, on ten
# tuning seeds, 40–49 (`utils.seeding.ABLATION_TUNING_SEEDS`), and keeps the rate that
# solved the most runs, then the one with the fewest median steps. Then each variant,
# with its rate, trains on thirty seeds that chose nothing, 110–139
# (`utils.seeding.ABLATION_SEEDS`); every number after this table comes from those. Only
# the learning rate was tuned per variant, on ten seeds and four values; every other
# setting is the recipe's, its stop included: a perfect greedy check counts only once
# 1,979 more greedy episodes on other seeds score 500 too (notebook 5, section 5.6).

# %%
# NBVAL_CHECK_OUTPUT
tuning_rows, chosen_lrs = load_runs(TUNING_RESULTS), tuned_lrs(load_runs(TUNING_RESULTS))
print(f"median env steps to solve on the tuning seeds {seed_span(ABLATION_TUNING_SEEDS)} "
      "(runs solved of 10); * = the rate kept")
print(f"{'variant':<12}" + "".join(f"{f'lr x{factor:g}':>16}" for factor in LR_FACTORS))
for variant in VARIANTS:
    cells = []
    for factor in LR_FACTORS:
        runs = runs_of(tuning_rows, tuning_name(variant, factor))
        kept = "*" if np.isclose(chosen_lrs[variant], DQNConfig.lr * factor) else " "
        cells.append(f"{np.median(steps_to_solve(runs)):,.0f} ({sum(r['solved_at'] is not None for r in runs)}){kept}")
    print(f"{variant:<12}" + "".join(f"{cell:>16}" for cell in cells))

# %% [markdown]
# For each variant, the final greedy score on 100 held-out episodes and the environment
# steps to the first confirmed perfect check (a run that never got there would count as
# its full budget, which *understates* its cost; here every run got there):

# %%
# NBVAL_CHECK_OUTPUT
summaries = {variant: variant_summary(runs_of(rows, variant)) for variant in VARIANTS}
print(f"{'variant':<12}{'solved':>8}   {'final score: IQM [95% CI]':<28}{'env steps to solve: IQM [95% CI]'}")
for variant, s in summaries.items():
    print(f"{variant:<12}{s['solved']:>5}/{s['runs']:<2}   {s['score_iqm']:6.1f} [{s['score_ci'][0]:5.1f}, "
          f"{s['score_ci'][1]:5.1f}]          {s['steps_iqm']:7,.0f} [{s['steps_ci'][0]:,.0f}, {s['steps_ci'][1]:,.0f}]")

# %% [markdown]
# Look at the final scores first. Training stops only once a greedy check and 1,979
# confirmation episodes all reach 500, and the weights kept are the ones that did, so
# nearly every run ends at the ceiling:

# %%
# NBVAL_CHECK_OUTPUT
final_scores = np.concatenate([s["scores"] for s in summaries.values()])
print(f"{np.sum(final_scores == 500)} of the {final_scores.size} final scores are exactly 500; "
      f"the others: {sorted(final_scores[final_scores < 500].tolist())}")

# %% [markdown]
# Under this stop rule the final score records that a run passed its checks, which every
# run did; it cannot separate the variants, whatever their true differences are. That is
# not "no difference": under this protocol a difference in the final score cannot be
# measured. What the stop rule leaves free to differ is the cost of getting there, the
# environment steps to the first confirmed perfect check, and that is where the variants
# are compared below.
#
# The learning curves (the greedy checks during training: IQM over the thirty seeds with its
# 95% band, each seed as a thin line), and both measures per variant with every seed as a
# dot beside the IQM and its interval. A run that has stopped keeps its last check, 500,
# to the right edge of the plot (its kept weights passed it), so late in training the
# bands show more and more stopped runs at 500, not runs still learning:

# %%
bands = {variant: curve_band(runs_of(rows, variant), ABLATION_GRID) for variant in VARIANTS}
ablation_figure(bands, summaries)

# %% [markdown]
# Performance profiles need a measure that differs between runs: of the final scores they
# would draw five nearly identical curves, all at the ceiling. Of the steps to solve, they
# show for each $\tau$ the fraction of the thirty runs that had solved within $\tau$
# environment steps; a curve further left is a variant that solves sooner.

# %%
step_thresholds = np.linspace(0, 100_000, 101)
performance_profiles({variant: performance_profile(s["steps"], step_thresholds, resamples=1_000,
                                                   higher_is_better=False)
                      for variant, s in summaries.items()},
                     xlabel="environment steps τ", ylabel="fraction of runs solved within τ steps")

# %% [markdown]
# Overlapping intervals do not settle whether two variants differ. What does is an
# interval for the **difference**: resample each variant's runs on its own, compute the
# difference of the IQMs each time, and take its interval. (The variants share their
# seeds, but a different setting takes a seed to a different run. Resampling each group on
# its own ignores that pairing: this widens the interval if a seed's runs are alike under
# both settings, and narrows it if they are opposite. The cell after the table checks
# which, by resampling the seeds as pairs instead.)
#
# **Four comparisons at once.** Each option is compared with the recipe: four intervals.
# If none of the options made any difference, each 95% interval would still exclude 0 with
# probability 5%, and the chance that at least one of the four does grows to as much as
# $1 - 0.95^4 \approx 19\%$ (for independent comparisons; up to 20% in general). The
# **Bonferroni correction** widens each interval to confidence $1 - 0.05/4 = 98.75\%$, so
# that the chance of *any* false "difference" among the four is at most 5%
# (`utils.stats.bonferroni_confidence`). (Holm's method, a stepwise version that works on
# p-values, rejects at least as often; with intervals, Bonferroni is the simple choice.)
# Against the recipe, in env steps to solve (negative: fewer steps), at 95% and corrected:

# %%
def difference_table(summaries, baseline="default", confidence=0.95):
    """Each variant's IQM of steps to solve against the baseline's: the difference, its interval, corrected."""
    comparisons = [variant for variant in summaries if variant != baseline]
    corrected = bonferroni_confidence(confidence, len(comparisons))
    base_steps, base_iqm = summaries[baseline]["steps"], summaries[baseline]["steps_iqm"]
    print(f"{len(comparisons)} comparisons; corrected confidence per interval: {corrected:.2%}")
    print(f"{'variant':<12}{'IQM difference':>15}   {f'{confidence:.0%} interval':<22}{f'{corrected:.2%} interval':<24}"
          "verdict, corrected")
    for variant in comparisons:
        steps, change = summaries[variant]["steps"], summaries[variant]["steps_iqm"] - base_iqm
        single = iqm_difference_ci(steps, base_steps, confidence=confidence)
        low, high = iqm_difference_ci(steps, base_steps, confidence=corrected)
        verdict = "fewer steps" if high < 0 else "more steps" if low > 0 else "no difference detected"
        change_text = f"{change:+,.0f} ({change / base_iqm:+.0%})"
        single_text, corrected_text = f"[{single[0]:+,.0f}, {single[1]:+,.0f}]", f"[{low:+,.0f}, {high:+,.0f}]"
        print(f"{variant:<12}{change_text:>15}   {single_text:<22}{corrected_text:<24}{verdict}")


# %%
# NBVAL_CHECK_OUTPUT
difference_table(summaries)

# %% [markdown]
# Are a seed's runs alike under two settings? The rank correlation of the steps to solve,
# seed by seed, says; and resampling the thirty seeds as pairs, each with both its runs
# (`iqm_difference_ci(..., paired=True)`), gives the interval that uses the pairing:

# %%
# NBVAL_CHECK_OUTPUT
def paired_table(summaries, baseline="default", confidence=0.95):
    """Per variant: the rank correlation of its runs with the baseline's, seed by seed, and the paired interval."""
    comparisons = [variant for variant in summaries if variant != baseline]
    corrected = bonferroni_confidence(confidence, len(comparisons))
    base_steps = summaries[baseline]["steps"]
    print(f"{'variant':<12}{'rank correlation':>17}   {f'paired {corrected:.2%} interval':<28}verdict, corrected")
    for variant in comparisons:
        steps = summaries[variant]["steps"]
        low, high = iqm_difference_ci(steps, base_steps, confidence=corrected, paired=True)
        verdict = "fewer steps" if high < 0 else "more steps" if low > 0 else "no difference detected"
        print(f"{variant:<12}{stats.spearmanr(steps, base_steps).statistic:>+17.2f}   "
              f"{f'[{low:+,.0f}, {high:+,.0f}]':<28}{verdict}")


paired_table(summaries)

# %% [markdown]
# The correlations are weak ($-0.28$ to $+0.06$). Where they are negative, a seed that is
# quick for the recipe is, if anything, slow for the option, so ignoring the pairing made
# the intervals narrower, not wider: resampled as pairs, the intervals of n-step,
# prioritized replay and all three are 300 to 900 steps wider, while dueling's ($+0.06$)
# is about 250 steps narrower (compare the 98.75% columns). No verdict changes.

# %% [markdown]
# One more number before the conclusions: how far $\beta$ got. It anneals over the budget
# of 100,000 steps, but the greedy checks stopped every prioritized run long before that:

# %%
# NBVAL_CHECK_OUTPUT
for variant in ("prioritized", "all three"):
    stopped = runs_of(rows, variant)
    betas = [beta_at_stop(row) for row in stopped]
    print(f"{variant:<12} stopped at {min(r['env_steps'] for r in stopped):,} to {max(r['env_steps'] for r in stopped):,} "
          f"steps, with β between {min(betas):.2f} and {max(betas):.2f}")

# %% [markdown]
# ### What the data supports
#
# For each variant at the learning rate its own tuning seeds chose, on thirty seeds that
# chose nothing, with every other setting the recipe's:
#
# * **Final score: not measurable here.** Under the course's stop rule every run ends above
#   475 and 149 of 150 at exactly 500, so the final score cannot separate the variants. That
#   is a property of this protocol on an easy task, not evidence that the options do
#   nothing.
# * **Sample efficiency: n-step returns, with twice the recipe's learning rate, help.**
#   With $n = 3$ and its chosen rate the IQM of the steps to solve drops by 29%,
#   and the interval of the difference lies below 0 even after the correction for four
#   comparisons, paired or not. All three options together (also at twice the rate) need
#   fewer steps than the recipe too; nothing here says that dueling or prioritized replay
#   add to n-step (alone, neither differed detectably from the recipe, and the two n-step
#   variants were not compared with each other). The gain belongs to n-step *with* the
#   doubled rate. In the tuning table above (medians of ten seeds, no test), the recipe
#   at twice its rate did no better than at its own (15,118 against 14,702 steps), and
#   n-step at the recipe's rate did worse (19,238): the two settings seem to interact,
#   and this design cannot credit n-step alone. Three variants (both n-step ones and
#   prioritized replay) chose the largest rate tried, so a larger one might do better still.
# * **Prioritized replay: no difference detected.** Its IQM is 15% below the recipe's, and the
#   uncorrected 95% interval of the difference lies below 0; but that single interval is
#   what the correction is for: among four comparisons, one may exclude 0 by chance, and
#   the corrected interval includes 0, paired or not. "Not detected with thirty seeds" is not
#   "no effect": more seeds could settle it. Its tuning seeds chose twice the recipe's
#   learning rate, not the smaller step size Schaul et al. used on Atari. Its correction
#   was also far from complete: $\beta$ anneals over the 100,000-step budget and had
#   reached only 0.44 to 0.54 when its runs stopped (the cell above).
# * **Dueling: no difference detected.** Its IQM is within a few percent of the recipe's
#   and both intervals cover 0 comfortably. Dueling was designed for tasks with many
#   actions whose values are similar (Atari); CartPole has two.
# * The per-seed dots show why a single run proves nothing: the recipe's fastest and
#   slowest seeds differ by more than a factor of two, and by more steps than any two
#   variants' IQMs.

# %% [markdown]
# ### Your own ablation
#
# The committed runs are not a black box. `utils.ablation.run_live(variant, seeds)` trains
# one variant, with its tuned learning rate, on a list of seeds, and scores each run on 100
# held-out episodes; `make ablation` runs the same code. It splits the seeds over one
# process per CPU core, and each process trains its share as one batch of agents
# (`utils.many.train_many`: the agents learn side by side, each exactly as it would alone).
# Each of the next three cells trains one variant on the first ten of the ablation's seeds,
# with a progress bar: about half a minute to a minute each on a quiet 2-core machine
# (each bar shows how long it took where this notebook was run), longer on a busy or
# single-core one. They are optional; nothing later needs them.

# %%
# NBVAL_SKIP
MY_SEEDS = list(ABLATION_SEEDS)[:10]
my_runs = {"default": run_live("default", MY_SEEDS)}

# %%
# NBVAL_SKIP
my_runs["n-step 3"] = run_live("n-step 3", MY_SEEDS)

# %%
# NBVAL_SKIP
my_runs["dueling"] = run_live("dueling", MY_SEEDS)

# %% [markdown]
# Read your runs as this section taught: the IQM of the steps to solve with its interval,
# and each option against the recipe with intervals corrected for two comparisons. Ten
# seeds give wider intervals than thirty, so expect fewer verdicts. On a machine of the
# type the committed runs came from, each of your runs repeats the committed run of its
# variant and seed step for step; the last line counts how many did here.

# %%
# NBVAL_SKIP
my_summaries = {variant: variant_summary(runs) for variant, runs in my_runs.items()}
for variant, summary in my_summaries.items():
    print(f"{variant:<12} steps to solve: IQM {summary['steps_iqm']:,.0f} "
          f"[{summary['steps_ci'][0]:,.0f}, {summary['steps_ci'][1]:,.0f}], solved {summary['solved']}/{summary['runs']}")
difference_table(my_summaries)
committed_steps = {(row["variant"], row["seed"]): row["env_steps"] for row in rows}
repeated = sum(committed_steps[row["variant"], row["seed"]] == row["env_steps"] for runs in my_runs.values() for row in runs)
print(f"{repeated} of your {sum(map(len, my_runs.values()))} runs took exactly the committed run's env steps")

# %% [markdown]
# **Explore.** Pick the variants to compare (ctrl/cmd-click for several) and whether to
# draw the single seeds: the curves, intervals and the table redraw.

# %%
ablation_explorer(rows)

# %% [markdown]
# ## Recap
#
# * **Dueling** networks split $Q$ into $V(s)$ and $A(s, a)$; subtracting the mean
#   advantage makes the split identifiable.
# * **n-step targets** sum $n$ real rewards before bootstrapping: less bias from wrong
#   estimates, more variance, and off-policy bias without a correction. The window stops
#   at the episode's end; only a termination stops the bootstrap.
# * **Prioritized replay** samples in proportion to $(|\delta| + \epsilon)^\alpha$ through a
#   sum-tree in $O(\log N)$, gives new transitions the largest priority, updates priorities
#   after each step, and corrects its bias with importance-sampling weights whose $\beta$
#   is annealed towards 1 over the budget (a run stopped early ends below 1).
# * **Results across seeds**: report many runs with an IQM and a bootstrap interval, show
#   the single runs, measure what the protocol leaves free to differ, correct the
#   intervals for the number of comparisons, say which seeds tuned what, and conclude only
#   what the corrected intervals support.
#
# **Where next:** Rainbow's other three parts (distributional values, noisy networks for
# exploration, double DQN, which notebook 5 already uses), and multi-task comparisons,
# where the stratified bootstrap resamples runs within each task (Agarwal et al. 2021).
#
# **References.** Z. Wang et al., "Dueling network architectures for deep reinforcement
# learning", *ICML* (2016). R. S. Sutton, "Learning to predict by the methods of temporal
# differences", *Machine Learning* 3, 9–44 (1988). R. S. Sutton and A. G. Barto,
# *Reinforcement Learning: An Introduction*, 2nd ed., MIT Press (2018). T. Schaul,
# J. Quan, I. Antonoglou and D. Silver, "Prioritized experience replay", *ICLR* (2016).
# M. Hessel et al., "Rainbow: combining improvements in deep reinforcement learning",
# *AAAI* (2018). R. Munos, T. Stepleton, A. Harutyunyan and M. G. Bellemare, "Safe and
# efficient off-policy reinforcement learning", *NeurIPS* (2016). P. Henderson et al.,
# "Deep reinforcement learning that matters", *AAAI* (2018). R. Agarwal, M. Schwarzer,
# P. S. Castro, A. Courville and M. G. Bellemare, "Deep reinforcement learning at the
# edge of the statistical precipice", *NeurIPS* (2021).
