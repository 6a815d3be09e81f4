"""The seed notebook's training loop, with only its two training bugs fixed.

Kept as the seed wrote it, on purpose (tuple replay memory rebuilt with `torch.cat`,
exponential ε decay, Adam at lr 1e-4, batch 128, `clip_grad_value_`, soft target update
through `state_dict`), except that (1) ε runs on a global step counter instead of the
fake `i_episode * 500 + t` clock and (2) the soft target update runs after every step
instead of once per episode (see /work/shared/seed/ERRATA.md, bugs 1 and 2).
Training stops once the mean return of the last 10 training episodes reaches the
solved threshold, the seed's own progress measure, or when the step budget runs out.
"""
import math
import random
import time
from collections import deque, namedtuple
from itertools import count

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim

from utils.evaluation import REWARD_THRESHOLD
from utils.seeding import make_env, seed_everything

BATCH_SIZE = 128
GAMMA = 0.99
EPS_START = 0.9
EPS_END = 0.05
EPS_DECAY = 1000
TAU = 0.005
LR = 1e-4
MEMORY_CAPACITY = 10_000

Transition = namedtuple("Transition", ("state", "action", "next_state", "reward"))


class ReplayMemory:
    """The seed's replay memory: a deque of Transition tuples."""

    def __init__(self, capacity):
        """Keep at most `capacity` transitions."""
        self.memory = deque([], maxlen=capacity)

    def push(self, transition):
        """Save a transition."""
        self.memory.append(transition)

    def sample(self, batch_size):
        """Draw `batch_size` transitions with Python's `random`."""
        return random.sample(self.memory, batch_size)

    def __len__(self):
        """Number of stored transitions."""
        return len(self.memory)


class DQN(nn.Module):
    """The seed's Q-network: 3 fully connected layers, 128 units."""

    def __init__(self, n_observations, n_actions):
        """Build the layers."""
        super().__init__()
        self.layer1 = nn.Linear(n_observations, 128)
        self.layer2 = nn.Linear(128, 128)
        self.layer3 = nn.Linear(128, n_actions)

    def forward(self, x):
        """Q-values, ReLU between layers."""
        x = F.relu(self.layer1(x))
        x = F.relu(self.layer2(x))
        return self.layer3(x)


def e_greedy_policy(qnet, state, global_step, n_actions):
    """The seed's ε-greedy with exponential decay, fed the global step (bug 1 fixed)."""
    eps_threshold = EPS_END + (EPS_START - EPS_END) * math.exp(-1.0 * global_step / EPS_DECAY)
    if random.random() > eps_threshold:
        with torch.no_grad():
            return qnet(state).max(1)[1].view(1, 1)
    return torch.tensor([[random.randrange(n_actions)]], dtype=torch.long)


def optimize(q_network, target_network, optimizer, memory):
    """One update on a batch sampled from the tuple memory, as the seed's cell does it."""
    transitions = memory.sample(BATCH_SIZE)
    batch = Transition(*zip(*transitions))
    non_final_mask = torch.tensor(tuple(map(lambda s: s is not None, batch.next_state)), dtype=torch.bool)
    non_final_next_states = torch.cat([s for s in batch.next_state if s is not None])
    state_batch = torch.cat(batch.state)
    action_batch = torch.cat(batch.action)
    reward_batch = torch.cat(batch.reward)
    state_action_values = q_network(state_batch).gather(1, action_batch)
    next_state_values = torch.zeros(BATCH_SIZE)
    with torch.no_grad():
        next_state_values[non_final_mask] = target_network(non_final_next_states).max(1)[0]
    expected_state_action_values = (next_state_values * GAMMA) + reward_batch
    loss = nn.SmoothL1Loss()(state_action_values, expected_state_action_values.unsqueeze(1))
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_(q_network.parameters(), 100)
    optimizer.step()


def soft_update(q_network, target_network):
    """The seed's soft update through state_dict, now called every step (bug 2 fixed)."""
    target_net_state_dict = target_network.state_dict()
    policy_net_state_dict = q_network.state_dict()
    for key in policy_net_state_dict:
        target_net_state_dict[key] = policy_net_state_dict[key] * TAU + target_net_state_dict[key] * (1 - TAU)
    target_network.load_state_dict(target_net_state_dict)


def train_seed_loop(seed: int, max_env_steps: int = 200_000, num_threads: int = 1) -> dict:
    """Train until the last-10 training mean reaches 475 (or the budget ends); return the run."""
    torch.set_num_threads(num_threads)
    seed_everything(seed)
    env = make_env(seed)
    n_actions = env.action_space.n
    q_network = DQN(env.observation_space.shape[0], n_actions)
    target_network = DQN(env.observation_space.shape[0], n_actions)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = optim.Adam(q_network.parameters(), lr=LR)
    memory = ReplayMemory(MEMORY_CAPACITY)
    episode_returns, global_step, updates = [], 0, 0
    start = time.perf_counter()
    while global_step < max_env_steps:
        state, info = env.reset()
        state = torch.tensor(state, dtype=torch.float32).unsqueeze(0)
        total_reward = 0.0
        for t in count():
            action = e_greedy_policy(q_network, state, global_step, n_actions)
            observation, reward, terminated, truncated, _ = env.step(action.item())
            global_step += 1
            total_reward += reward
            reward = torch.tensor([reward])
            next_state = None if terminated else torch.tensor(observation, dtype=torch.float32).unsqueeze(0)
            memory.push(Transition(state, action, next_state, reward))
            state = next_state
            if len(memory) >= BATCH_SIZE:
                optimize(q_network, target_network, optimizer, memory)
                updates += 1
            soft_update(q_network, target_network)
            if terminated or truncated or global_step >= max_env_steps:
                break
        episode_returns.append(total_reward)
        if len(episode_returns) >= 10 and sum(episode_returns[-10:]) / 10 >= REWARD_THRESHOLD:
            break
    env.close()
    return {"q_net": q_network, "env_steps": global_step, "updates": updates,
            "wall_s": time.perf_counter() - start, "episode_returns": episode_returns}
