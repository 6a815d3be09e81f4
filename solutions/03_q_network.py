# %% [markdown]
# # 3 · The Q-network
#
# Q-learning in notebook 1 kept one number per state and action. CartPole's states are
# four real numbers: there are infinitely many, and the agent never sees exactly the same
# one twice. DQN replaces the table by a neural network $Q(s, a; \theta)$ that takes a
# state and returns one value per action, and that **generalises**: states that look alike
# get similar values, so what is learned in one state carries over to its neighbours.
#
# **You will:** build the 4→128→128→2 network DQN uses on CartPole and count its 17,410
# parameters; read the greedy action off it for one state and for a batch, without
# recording gradients; see why the output layer has no activation and why `argmax` needs
# the right dimension.
#
# **Prerequisites:** notebook 1 (Q-values, the greedy policy); `torch.nn` basics
# (`nn.Module`, `nn.Linear`). **Time:** about 30–45 minutes.

# %%
import itertools

import numpy as np
import torch
from torch import nn

from utils.checks import check_greedy, check_q_network
from utils.networks import count_parameters
from utils.notebook import setup_notebook
from utils.seeding import make_env

SEED = 0
setup_notebook(SEED)  # seeds random/NumPy/torch, one torch thread, notices for unfinished exercises

# %% [markdown]
# ## 3.1 Function approximation
#
# The network maps a state $s \in \mathbb R^4$ to the vector of action values
# $\big(Q(s, \text{left}; \theta),\ Q(s, \text{right}; \theta)\big)$ in one forward pass,
# so choosing an action costs one pass whatever the number of actions (Mnih et al. 2015).
# With two hidden layers of 128 units and ReLU activations $\operatorname{relu}(x) = \max(0, x)$:
#
# $$h_1 = \operatorname{relu}(W_1 s + b_1),\quad h_2 = \operatorname{relu}(W_2 h_1 + b_2),\quad Q(s, \cdot\,; \theta) = W_3 h_2 + b_3 ,$$
#
# with $\theta = (W_1, b_1, W_2, b_2, W_3, b_3)$. A linear layer from $m$ to $n$ units has
# $m n$ weights and $n$ biases, so the network has
#
# $$(4 + 1)\cdot 128 + (128 + 1)\cdot 128 + (128 + 1)\cdot 2 = 640 + 16{,}512 + 258 = 17{,}410$$
#
# parameters. Without the ReLUs the three layers would collapse into one linear map
# $s \mapsto W s + b$, far too simple for CartPole's value function.
#
# **No activation on the output.** Q-values are expected returns: real numbers of any
# size. In CartPole every step pays $+1$, so with $\gamma = 0.99$ they lie between 1 and
# $1/(1-\gamma) = 100$. A sigmoid or tanh output cannot go above 1; a ReLU output that
# drifts below 0 has zero gradient and stays stuck (and in tasks with negative rewards
# could not represent them at all); a softmax turns the outputs into probabilities that
# sum to 1, which is a policy, not action values.
#
# Generalisation has a price: an update for one state moves the values of its
# neighbours too, including the values used as targets. **Function approximation**,
# **bootstrapping** (targets built from the current estimates, notebook 1) and
# **off-policy learning** (learning the greedy policy from other behaviour) form the
# *deadly triad*: together they can make the estimates diverge (Sutton & Barto 2018,
# sec. 11.3). DQN has all three. Its replay memory (notebook 2) and target network
# (notebook 5) are what made it learn stably: Mnih et al. (2015) trained it without each
# of them and it scored far lower. They do not remove the triad: van Hasselt et al. (2018)
# found the value estimates of deep Q-learning growing beyond any possible return,
# though rarely without bound. Notebook 5 comes back to this.

# %% [markdown]
# ### Exercise 3.1: `QNetwork`
#
# Write `QNetwork(obs_dim=4, n_actions=2, hidden=128)`, a subclass of `nn.Module`:
#
# * `__init__` calls `super().__init__()` first, then builds three `nn.Linear` layers
#   `obs_dim → hidden → hidden → n_actions` (with biases, the default), using the
#   arguments, not fixed numbers. `nn.Sequential` is the shortest way.
# * `forward(states)` takes a float32 tensor of shape `(B, obs_dim)` and returns the
#   float32 tensor of Q-values of shape `(B, n_actions)`: ReLU after each hidden layer,
#   **nothing** after the last one. One state, shape `(obs_dim,)`, gives its Q-values, shape
#   `(n_actions,)`: `greedy_action` below relies on it, and `nn.Linear` and ReLU take any
#   leading shape, so it comes free unless `forward` reshapes. Do not use `torch.no_grad()`
#   here: training needs the gradients.

# %% exercise="3.1: QNetwork"
class QNetwork(nn.Module):
    """obs_dim → hidden → hidden → n_actions, ReLU between the layers, linear output."""

    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 128):
        """Build the three linear layers."""
        ### BEGIN SOLUTION
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, n_actions),
        )
        ### END SOLUTION

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Q-values (B, n_actions) of a batch of states (B, obs_dim)."""
        ### BEGIN SOLUTION
        return self.layers(states)
        ### END SOLUTION


# %% check="3.1"
# NBVAL_CHECK_OUTPUT
check_q_network(QNetwork)

# %% [markdown]
# The parameters, layer by layer:

# %%
# NBVAL_CHECK_OUTPUT
network = QNetwork()
for name, parameter in network.named_parameters():
    print(f"{name:16s} {str(tuple(parameter.shape)):11s} {parameter.numel():6,d}")
print(f"{'total':28s} {count_parameters(network):6,d}")

# %% [markdown]
# An untrained network's Q-values for a few CartPole start states: small numbers near 0,
# nothing like the 1 to 100 they should become. Training (notebook 5) fixes that.

# %%
# NBVAL_CHECK_OUTPUT
q_net, env = QNetwork(), make_env(SEED)
start_states = torch.as_tensor(np.array([env.reset()[0] for _ in range(4)]))
print(q_net(start_states).detach())

# %% [markdown]
# ## 3.2 The greedy policy
#
# Acting greedily means taking $\arg\max_a Q(s, a; \theta)$. Two details matter:
#
# * **No gradients.** Choosing an action is not a training step. Under
#   `torch.no_grad()` PyTorch does not record the operations, which saves memory and
#   time and guarantees that nothing here can leak into a later `backward()`.
# * **The action dimension.** For a batch the Q-values have shape `(B, n_actions)`: the
#   maximum is taken over `dim=1`, one action per row. For a single state of shape
#   `(obs_dim,)` the Q-values have shape `(n_actions,)`.
#
# ### Exercise 3.2: `greedy_action` and `greedy_actions`
#
# * `greedy_action(q_net, state) -> int`: `state` is one observation as the environment
#   gives it (a NumPy array of shape `(obs_dim,)`, maybe float64, or a list); convert it
#   with `torch.as_tensor(state, dtype=torch.float32)`. Return the greedy action as a
#   Python `int` (what `env.step` expects).
# * `greedy_actions(q_net, states) -> torch.Tensor`: `states` is a float32 tensor
#   `(B, obs_dim)`; return the greedy actions as an int64 tensor of shape `(B,)`.
#
# Both call the `q_net` they are given (never a global network) inside `torch.no_grad()`.

# %% exercise="3.2: greedy_action / greedy_actions"
def greedy_action(q_net: nn.Module, state) -> int:
    """The action with the largest Q-value in one state."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        q_values = q_net(torch.as_tensor(state, dtype=torch.float32))
    return int(q_values.argmax())
    ### END SOLUTION


def greedy_actions(q_net: nn.Module, states: torch.Tensor) -> torch.Tensor:
    """The greedy action of every row of a (B, obs_dim) batch, as a (B,) int64 tensor."""
    ### BEGIN SOLUTION
    with torch.no_grad():
        return q_net(states).argmax(dim=1)
    ### END SOLUTION


# %% check="3.2"
# NBVAL_CHECK_OUTPUT
check_greedy(greedy_action, greedy_actions)

# %% [markdown]
# A fresh untrained network, acting greedily. Its behaviour is an accident of the random
# initial weights: some initialisations push one way all the time and fail within about
# ten steps, others happen to balance for dozens of steps. Change `SEED` at the top and
# the lengths change completely: nothing has been learned yet.

# %%
# NBVAL_CHECK_OUTPUT
def greedy_episode_length(env, q_net: nn.Module) -> int:
    """Play one episode with `greedy_action` and return how many steps it lasted."""
    state, _ = env.reset()
    for step in itertools.count(1):
        state, _, terminated, truncated, _ = env.step(greedy_action(q_net, state))
        if terminated or truncated:
            return step


q_net, env = QNetwork(), make_env(SEED)
print("episode lengths:", [greedy_episode_length(env, q_net) for _ in range(10)])
start_states = torch.as_tensor(np.array([env.reset()[0] for _ in range(6)]))
print("greedy actions for a batch of 6 start states:", greedy_actions(q_net, start_states).tolist())

# %% [markdown]
# > **Common pitfall: `argmax` over the wrong dimension.** `q_values.argmax(dim=0)` picks,
# > for each *action*, the row where it is largest: shape `(n_actions,)` instead of `(B,)`.
# > Usually the shape gives it away, but not when $B$ equals the number of actions:
#
# %%
# NBVAL_CHECK_OUTPUT
q_values = torch.tensor([[5.0, 1.0],
                         [7.0, 2.0]])  # two states, two actions: left is better in both
print("argmax(dim=1):", q_values.argmax(dim=1).tolist(), " <- one action per state: correct")
print("argmax(dim=0):", q_values.argmax(dim=0).tolist(), " <- one state per action: wrong, same shape")

# %% [markdown]
# > **Common pitfall: selecting actions with gradient tracking on.** Without
# > `torch.no_grad()` every forward pass builds an autograd graph that nobody uses.
# > The output tells you:

# %%
# NBVAL_CHECK_OUTPUT
q_net, state = QNetwork(), torch.as_tensor(make_env(SEED).reset()[0])
print("without no_grad: requires_grad =", q_net(state).requires_grad)
with torch.no_grad():  # the same forward pass, not recorded
    print("with no_grad:    requires_grad =", q_net(state).requires_grad)

# %% [markdown]
# > **Common pitfall: a float64 state.** NumPy makes float64 arrays by default and the
# > network's weights are float32; `q_net(torch.tensor(np.zeros(4)))` fails with a dtype
# > mismatch. Convert once, at the boundary between environment and network, with
# > `torch.as_tensor(state, dtype=torch.float32)`.
#
# ## Recap
#
# * $Q(s, \cdot\,; \theta)$ is a 4→128→128→2 ReLU network with a linear output:
#   17,410 parameters, all action values in one forward pass.
# * No activation on the output: Q-values are unbounded returns, not probabilities.
# * The greedy action is `argmax` over the action dimension (`dim=1` for a batch), taken
#   under `torch.no_grad()`, returned as an `int` for one state and an int64 `(B,)`
#   tensor for a batch.
#
# **Next:** notebook 4 adds exploration: ε-greedy actions and an ε that decays with the
# number of steps taken.
#
# **References.** V. Mnih et al., "Human-level control through deep reinforcement
# learning", *Nature* 518, 529–533 (2015). R. S. Sutton and A. G. Barto,
# *Reinforcement Learning: An Introduction*, 2nd ed., MIT Press (2018), ch. 9–11.
# H. van Hasselt, Y. Doron, F. Strub, M. Hessel, N. Sonnerat and J. Modayil, "Deep
# reinforcement learning and the deadly triad", arXiv:1812.02648 (2018).
