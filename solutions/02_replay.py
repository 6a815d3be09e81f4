# %% [markdown]
# # 2 · Experience replay
#
# A neural network learns by stochastic gradient descent, which works best when each
# minibatch is a fair, independent sample of the data. An agent's experience is the
# opposite: step $t+1$ looks almost exactly like step $t$. DQN (Mnih et al. 2015) fixes
# this with **experience replay** (Lin 1992): store the last $N$ transitions and train on
# minibatches drawn at random from them. This notebook measures the problem, then you
# build the memory as a preallocated ring buffer, the way the rest of the course uses it.
#
# **You will:** measure how correlated consecutive transitions are; see why the variance of
# a minibatch average falls as $1/B$ only for independent samples; write `ReplayMemory`
# (push, sample without replacement, len); check the probability that two transitions
# share a batch; measure what a transition really costs in memory.
#
# **Prerequisites:** notebook 1 (transitions, termination vs truncation); basic PyTorch
# tensors. **Time:** about 40–60 minutes.

# %%
import gc
import random
import timeit

import numpy as np
import psutil
import torch

from utils.checks import check_replay_memory
from utils.notebook import setup_notebook
from utils.plotting import pair_scatter
from utils.replay import Batch, fill_with_random_agent
from utils.replay import ReplayMemory as ReferenceMemory
from utils.seeding import make_env
from utils.widgets import replay_explorer

SEED = 0
setup_notebook(SEED)  # seeds random/NumPy/torch, one torch thread, notices for unfinished exercises

# %% [markdown]
# ## 2.1 Consecutive transitions are correlated
#
# A **transition** is $(s_t, a_t, r_t, s_{t+1}, \text{terminated}_{t+1})$. Let a random
# agent play CartPole for 2,000 steps (many short episodes) and keep them in the order
# they happened:

# %%
# NBVAL_CHECK_OUTPUT
def random_transitions(env, n_steps: int) -> tuple:
    """States and next states of `n_steps` random-policy steps, in the order they happened."""
    states, next_states = [], []
    state, _ = env.reset()
    for _ in range(n_steps):
        next_state, _, terminated, truncated, _ = env.step(env.action_space.sample())
        states.append(state)
        next_states.append(next_state)
        state = env.reset()[0] if terminated or truncated else next_state
    return np.array(states), np.array(next_states)


states, next_states = random_transitions(make_env(SEED), n_steps=2000)
angles = states[:, 2]  # pole angle, radians
print("states:", states.shape, states.dtype)

# %% [markdown]
# Compare the pole angle of row $k$ with row $k+1$, first in the order of play (what a
# minibatch of consecutive steps contains), then in a batch drawn uniformly at random
# without replacement (what a replay memory gives):

# %%
same_episode = np.all(states[1:] == next_states[:-1], axis=1)  # row k+1 continues row k
batch_rows = torch.randperm(len(angles))[:512].numpy()
pair_scatter({
    "consecutive steps (same episode)": (angles[:-1][same_episode], angles[1:][same_episode]),
    "random batch from a replay memory": (angles[batch_rows[:-1]], angles[batch_rows[1:]]),
}, label="pole angle")

# %% [markdown]
# In order of play the correlation is close to 1: the pole angle changes only a little
# per 20 ms step (only the first step of a new episode breaks the chain). In the random batch neighbouring rows come from unrelated moments and
# the correlation is close to 0.
#
# ### Why correlation hurts
#
# A minibatch gradient is an average $\hat g = \frac1B \sum_{i=1}^B g_i$ of per-transition
# gradients. If the $g_i$ are **independent** with variance $\sigma^2$,
#
# $$\operatorname{Var}(\hat g) = \frac{\sigma^2}{B}, \qquad \operatorname{std}(\hat g) = \frac{\sigma}{\sqrt B}:$$
#
# the *variance* falls as $O(1/B)$ and the *standard deviation* as $O(1/\sqrt B)$. If
# instead every pair has correlation $\rho$,
#
# $$\operatorname{Var}(\hat g) = \frac{\sigma^2}{B}\big(1 + (B-1)\rho\big) \;\xrightarrow{B\to\infty}\; \rho\,\sigma^2 ,$$
#
# so with $\rho$ near 1 a bigger batch of consecutive steps barely helps: it is one
# sample seen $B$ times. Worse, consecutive batches all come from the same small region
# of the state space, so each update pulls the network towards the situation of the
# moment and away from the rest. The same effect, measured on the batch *mean* of the
# pole angle with $B = 32$:

# %%
# NBVAL_CHECK_OUTPUT
B = 32
consecutive_means = angles[: len(angles) // B * B].reshape(-1, B).mean(axis=1)
random_means = np.array([angles[torch.randperm(len(angles))[:B].numpy()].mean() for _ in range(500)])
print(f"std of the batch mean, consecutive batches: {consecutive_means.std():.4f}")
print(f"std of the batch mean, random batches:      {random_means.std():.4f}")
print(f"sigma / sqrt(B) for independent samples:    {angles.std() / np.sqrt(B):.4f}")

# %% [markdown]
# Random batches match $\sigma/\sqrt B$; consecutive batches are several times noisier.
# Replay also lets every transition be used in many updates instead of once, which
# matters when interacting with the environment is the expensive part.

# %% [markdown]
# **Explore.** A replay memory (the course's reference `ReplayMemory`; you write your own
# in Exercise 2.1) holding 3,000 steps of a random agent. Each click on *draw a batch*
# samples 64 transitions and shows where in the memory they come from and their pole
# angles, next to the last 64 transitions in a row.

# %%
explore_memory = fill_with_random_agent(ReferenceMemory(capacity=5_000), make_env(SEED), n_steps=3_000)
replay_explorer(explore_memory, batch_size=64, seed=SEED)

# %% [markdown]
# ## 2.2 The replay memory
#
# The memory keeps the last $N$ transitions, its **capacity** (the seed used
# $N = 10{,}000$; notebook 5 uses a few times more). Once full, each new transition
# overwrites the oldest one. A **ring buffer** does that without moving any data:
# tensors with $N$ rows are allocated once, and a write position goes round and round:
#
# ```
# capacity 5, after 7 pushes:   row:   0    1    2    3    4
#                                      t5   t6   t2   t3   t4     position = 2 (next write)
# ```
#
# `sample(B)` picks $B$ **distinct** rows uniformly among the stored ones. Without
# replacement, two given transitions $i \ne j$ of the $N$ stored land in the same batch
# with probability
#
# $$P(i \in \mathcal B,\ j \in \mathcal B) = \frac{\binom{N-2}{B-2}}{\binom{N}{B}} = \frac{B(B-1)}{N(N-1)} ,$$
#
# about $(B/N)^2$; each single transition is in the batch with probability $B/N$.

# %% [markdown]
# ### Exercise 2.1: `ReplayMemory`
#
# Write the class `ReplayMemory(capacity, obs_dim=4)`:
#
# * `__init__` preallocates five tensors with `capacity` rows (`torch.zeros`), and keeps a
#   write position and the number of stored transitions.
# * `push(state, action, reward, next_state, terminated)` writes one transition into row
#   `position`, then advances `position` modulo `capacity`. `state` and `next_state` are
#   array-like of shape `(obs_dim,)` (the env gives float32 NumPy arrays; accept float64
#   and lists too), `action` an int (Python or NumPy), `reward` a float, `terminated` a
#   bool. Store the real `next_state` even when the episode terminated: the
#   `terminated` flag, not a missing state, tells the TD target to stop.
# * `sample(batch_size)` returns a `Batch` (imported above, a `NamedTuple`) of
#   `batch_size` **distinct** stored transitions drawn uniformly at random with
#   **torch's** global random generator (`torch.randperm`), so that `seed_everything`
#   makes it reproducible. If `batch_size > len(self)`, raise a `ValueError` saying so.
# * `len(memory)` is the number of stored transitions, never more than `capacity`.
#
# | field of `Batch` | shape | dtype |
# |---|---|---|
# | `states` | `(B, obs_dim)` | `torch.float32` |
# | `actions` | `(B,)` | `torch.int64` (indices, for `gather` later) |
# | `rewards` | `(B,)` | `torch.float32` |
# | `next_states` | `(B, obs_dim)` | `torch.float32` |
# | `terminated` | `(B,)` | `torch.float32`: 1.0 where the episode *terminated* at `next_state` |
#
# Every row of a batch must hold the five fields of *one* transition: draw one set of
# indices and use it for every tensor.

# %% exercise="2.1: ReplayMemory"
class ReplayMemory:
    """A fixed-capacity ring buffer of transitions, stored in preallocated tensors."""

    def __init__(self, capacity: int, obs_dim: int = 4):
        """Preallocate `capacity` rows for each field; start empty, writing at row 0."""
        ### BEGIN SOLUTION
        self.capacity = capacity
        self.states = torch.zeros((capacity, obs_dim), dtype=torch.float32)
        self.actions = torch.zeros(capacity, dtype=torch.int64)
        self.rewards = torch.zeros(capacity, dtype=torch.float32)
        self.next_states = torch.zeros((capacity, obs_dim), dtype=torch.float32)
        self.terminated = torch.zeros(capacity, dtype=torch.float32)
        self.position = 0  # the row the next push writes
        self.size = 0
        ### END SOLUTION

    def push(self, state, action, reward, next_state, terminated) -> None:
        """Store one transition at `position`, overwriting the oldest when full."""
        ### BEGIN SOLUTION
        row = self.position
        self.states[row] = torch.as_tensor(state, dtype=torch.float32)
        self.actions[row] = int(action)
        self.rewards[row] = float(reward)
        self.next_states[row] = torch.as_tensor(next_state, dtype=torch.float32)
        self.terminated[row] = float(terminated)
        self.position = (row + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        ### END SOLUTION

    def sample(self, batch_size: int) -> Batch:
        """`batch_size` distinct stored transitions, drawn uniformly with torch's generator."""
        ### BEGIN SOLUTION
        if batch_size > self.size:
            raise ValueError(f"cannot sample {batch_size} transitions: the memory holds only {self.size}")
        index = torch.randperm(self.size)[:batch_size]
        return Batch(self.states[index], self.actions[index], self.rewards[index],
                     self.next_states[index], self.terminated[index])
        ### END SOLUTION

    def __len__(self) -> int:
        """The number of stored transitions, at most the capacity."""
        ### BEGIN SOLUTION
        return self.size
        ### END SOLUTION


# %% check="2.1"
# NBVAL_CHECK_OUTPUT
check_replay_memory(ReplayMemory)

# %% [markdown]
# A tiny memory, filled past its capacity, and the shapes of a batch:

# %%
# NBVAL_CHECK_OUTPUT
tiny = ReplayMemory(capacity=3)
for t in range(5):
    tiny.push(state=[t, 0, 0, 0], action=t % 2, reward=1.0, next_state=[t + 1, 0, 0, 0], terminated=t == 4)
print("len:", len(tiny), "(capacity 3, 5 pushes)")
print("stored states, first entry:", sorted(tiny.sample(3).states[:, 0].tolist()), "(the oldest two are gone)")
for field, value in zip(Batch._fields, tiny.sample(2)):
    print(f"{field:12s} {str(tuple(value.shape)):7s} {value.dtype}")

# %% [markdown]
# > **Common pitfall: terminated or truncated?** Store `terminated` only. When the time
# > limit *truncates* an episode at step 500, the pole is still up and `next_state` has
# > a future; the TD target must bootstrap from it (notebook 5). Storing
# > `terminated or truncated` as the flag teaches the agent that surviving to the time
# > limit is worth nothing more.
#
# > **Common pitfall: `next_state = None` at the end of an episode.** The seed notebook
# > stored `None` for terminal next states and then needed masks and a second list to
# > rebuild the batch. Store the real next state and the `terminated` flag instead: every
# > row has the same shape, and the flag does the masking.
#
# ## 2.3 Two transitions in one batch
#
# Check the formula $B(B-1)/(N(N-1))$ with your memory: fill it with $N = 20$ transitions,
# draw many batches of $B = 5$, and count how often transitions 0 and 1 are both in the
# batch.

# %%
# NBVAL_CHECK_OUTPUT
N, B, draws = 20, 5, 4000
memory = ReplayMemory(N)
for t in range(N):
    memory.push(state=[t, 0, 0, 0], action=0, reward=0.0, next_state=[t, 0, 0, 0], terminated=False)
both = sum(bool({0.0, 1.0} <= set(memory.sample(B).states[:, 0].tolist())) for _ in range(draws))
print(f"measured: {both / draws:.4f}   B(B-1)/(N(N-1)) = {B * (B - 1) / (N * (N - 1)):.4f}   "
      f"(1/N^2 = {1 / N**2:.4f} would be wrong)")

# %% [markdown]
# ## 2.4 What a transition costs in memory
#
# A CartPole transition holds $4 + 1 + 1 + 4 + 1$ numbers. In the ring buffer that is
# $4 \cdot 4$ (state, float32) $+ 8$ (action, int64) $+ 4$ (reward) $+ 4 \cdot 4$
# (next state) $+ 4$ (terminated) $= 48$ bytes, so $10{,}000$ transitions take 480 kB,
# allocated once. (The seed notebook's "400 KB" counted 10 float32 numbers.)
#
# The seed notebook stored instead a Python tuple of four tiny tensors per transition
# (state, action, next state, reward: shapes `(1, 4)`, `(1, 1)`, `(1, 4)` and `(1,)`). The
# payload is about the same (44 bytes, without a terminal flag), but every tensor is a
# Python object plus a C++ tensor and storage record plus its own small heap allocation,
# and every tuple is one more object. Measure both, with the process's resident memory
# before and after (the numbers vary a little between runs and machines):

# %%
def resident_bytes() -> int:
    """Memory the Python process occupies now (after a garbage collection)."""
    gc.collect()
    return psutil.Process().memory_info().rss


capacity = 10_000
buffer = ReplayMemory(capacity)
before = resident_bytes()
tuples = [(torch.randn(1, 4), torch.tensor([[1]]), torch.randn(1, 4), torch.tensor([1.0])) for _ in range(capacity)]
tuple_bytes = resident_bytes() - before
buffer_bytes = sum(v.nbytes for v in vars(buffer).values() if isinstance(v, (torch.Tensor, np.ndarray)))
print(f"tuples of 1-row tensors: {tuple_bytes / capacity:6.0f} bytes per transition, {tuple_bytes / 1e6:.1f} MB in all")
print(f"preallocated ring buffer: {buffer_bytes / capacity:6.0f} bytes per transition, {buffer_bytes / 1e6:.2f} MB in all")

# %% [markdown]
# Dozens of times more memory for the tuples, nearly all of it overhead. Still only megabytes
# for CartPole, but with image observations or a million transitions (as in Mnih et
# al. 2015) the layout decides whether the memory fits at all. Speed differs too: the seed
# rebuilt every batch with `torch.cat` over Python lists at every step, while the ring
# buffer indexes five tensors once (the times vary by machine; their ratio less so):

# %%
buffer = ReplayMemory(capacity)
for t in range(capacity):
    buffer.push([t, 0, 0, 0], 0, 1.0, [t, 0, 0, 0], False)


def sample_tuples(batch_size: int = 128) -> tuple:
    """The seed's way: pick tuples at random, then concatenate each field's 1-row tensors."""
    states, actions, next_states, rewards = zip(*random.sample(tuples, batch_size))
    return torch.cat(states), torch.cat(actions), torch.cat(next_states), torch.cat(rewards)


for name, draw in (("tuples + torch.cat", sample_tuples), ("ring buffer", lambda: buffer.sample(128))):
    print(f"{name:19s} {timeit.timeit(draw, number=200) / 200 * 1e6:6.0f} µs per batch of 128")

# %% [markdown]
# > **Common pitfall: sampling with replacement.** `torch.randint(len(self), (B,))` can
# > return the same index twice, so a batch may hold duplicates, and not rarely: by the
# > birthday problem a batch of $B$ from $N$ holds one with probability about
# > $1 - e^{-B(B-1)/2N}$, 87% for $B = 64$ from the 1,000 transitions held when learning
# > starts (rare only when $B^2 \ll N$). A duplicate just counts one transition twice,
# > which is why it goes unnoticed; `torch.randperm` (or `random.sample`) draws distinct
# > indices.
#
# ## Recap
#
# * Consecutive transitions are strongly correlated; averaging $B$ correlated samples
#   does not shrink the variance like $1/B$. Uniform replay decorrelates the minibatch
#   and reuses each transition many times.
# * For independent samples the variance of the mean is $O(1/B)$ and its standard
#   deviation $O(1/\sqrt B)$; two given transitions share a batch with probability
#   $B(B-1)/(N(N-1))$.
# * A preallocated ring buffer stores each field in one tensor with `capacity` rows and
#   overwrites the oldest transition; `sample` returns batched tensors with fixed shapes
#   and dtypes, and `terminated` (not truncation) is stored as a float flag.
#
# **Next:** notebook 3 builds the Q-network that learns from these batches, and the
# greedy policy that reads actions off it.
#
# **References.** L.-J. Lin, "Self-improving reactive agents based on reinforcement
# learning, planning and teaching", *Machine Learning* 8, 293–321 (1992). V. Mnih et al.,
# "Human-level control through deep reinforcement learning", *Nature* 518, 529–533
# (2015). R. S. Sutton and A. G. Barto, *Reinforcement Learning: An Introduction*, 2nd
# ed., MIT Press (2018).
