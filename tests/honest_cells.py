"""Honest exercise cells, written as students write them: helpers, imports inside the cell, debug
prints, type hints, dataclasses, functools, reshapes written several ways, seeding calls.

Each is a right answer. The grader must flag none of them (tests/test_grade_honest.py), and each
passes its exercise's check. The three lines an instructor review found flagged by an earlier
grader (`torch.backends.cudnn.deterministic = True`, `print(vars(config))`,
`from IPython.display import clear_output`) are among them.
"""

HONEST_CELLS = [
    # --- 1.1 discounted_return
    ("01_mdp", "1.1", """\
def discounted_return(rewards, gamma):
    total = 0.0
    for k, r in enumerate(rewards):
        total += gamma ** k * r
    return total
"""),
    ("01_mdp", "1.1", """\
import math
from typing import Sequence


def discounted_return(rewards: Sequence[float], gamma: float) -> float:
    weights = [math.pow(gamma, k) for k in range(len(rewards))]
    print("weights:", weights[:3])  # debugging
    return float(sum(w * r for w, r in zip(weights, rewards)))
"""),
    ("01_mdp", "1.1", """\
import functools


def discounted_return(rewards, gamma):
    return functools.reduce(lambda acc, r: r + gamma * acc, reversed(list(rewards)), 0.0)
"""),
    ("01_mdp", "1.1", """\
def discounted_return(rewards, gamma):
    rewards = np.asarray(rewards, dtype=float)
    return float(np.dot(gamma ** np.arange(rewards.size), rewards)) if rewards.size else 0.0
"""),
    # --- 1.2 bellman_optimality_backup
    ("01_mdp", "1.2", """\
def bellman_optimality_backup(Q, P, R, terminal, gamma):
    v = Q.max(axis=1) * (1 - terminal)
    return R + gamma * np.einsum("sat,t->sa", P, v)
"""),
    ("01_mdp", "1.2", """\
def _state_values(Q, terminal):
    \"\"\"max_a Q(s, a), zero at terminal states.\"\"\"
    values = Q.max(axis=1).copy()
    values[terminal] = 0.0
    return values


def bellman_optimality_backup(Q, P, R, terminal, gamma):
    new_Q = np.empty_like(R, dtype=float)
    v = _state_values(Q, terminal)
    for s in range(R.shape[0]):
        for a in range(R.shape[1]):
            new_Q[s, a] = R[s, a] + gamma * P[s, a] @ v
    return new_Q
"""),
    ("01_mdp", "1.2", """\
import random

np.random.seed(0)  # seeding out of habit
random.seed(0)


def bellman_optimality_backup(Q, P, R, terminal, gamma):
    return R + gamma * (P * np.where(terminal, 0, Q.max(1))[None, None, :]).sum(axis=-1)
"""),
    # --- 2.1 ReplayMemory
    ("02_replay", "2.1", """\
class ReplayMemory:
    \"\"\"A ring buffer in preallocated tensors.\"\"\"

    def __init__(self, capacity: int, obs_dim: int = 4):
        self.capacity, self.index, self.count = capacity, 0, 0
        self.states = torch.zeros(capacity, obs_dim)
        self.actions = torch.zeros(capacity, dtype=torch.long)
        self.rewards = torch.zeros(capacity)
        self.next_states = torch.zeros(capacity, obs_dim)
        self.terminated = torch.zeros(capacity)

    def push(self, state, action, reward, next_state, terminated) -> None:
        i = self.index
        self.states[i] = torch.tensor(state, dtype=torch.float32)
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_states[i] = torch.tensor(next_state, dtype=torch.float32)
        self.terminated[i] = 1.0 if terminated else 0.0
        self.index = (i + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def sample(self, batch_size: int) -> Batch:
        if batch_size > len(self):
            raise ValueError(f"only {len(self)} transitions stored")
        idx = torch.randperm(len(self))[:batch_size]
        return Batch(self.states[idx], self.actions[idx], self.rewards[idx], self.next_states[idx],
                     self.terminated[idx])

    def __len__(self) -> int:
        return self.count
"""),
    ("02_replay", "2.1", """\
from dataclasses import dataclass, field


@dataclass
class ReplayMemory:
    capacity: int
    obs_dim: int = 4
    position: int = 0
    size: int = 0
    storage: dict = field(default_factory=dict)

    def __post_init__(self):
        shapes = {"states": (self.capacity, self.obs_dim), "next_states": (self.capacity, self.obs_dim)}
        for name in Batch._fields:
            dtype = torch.int64 if name == "actions" else torch.float32
            self.storage[name] = torch.zeros(shapes.get(name, (self.capacity,)), dtype=dtype)

    def push(self, state, action, reward, next_state, terminated):
        values = (state, action, reward, next_state, float(terminated))
        for name, value in zip(Batch._fields, values):
            self.storage[name][self.position] = torch.as_tensor(value, dtype=self.storage[name].dtype)
        self.position = (self.position + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size):
        if batch_size > self.size:
            raise ValueError("not enough transitions")
        rows = torch.randperm(self.size)[:batch_size]
        return Batch(*(self.storage[name][rows] for name in Batch._fields))

    def __len__(self):
        return self.size
"""),
    ("02_replay", "2.1", """\
import torch as T


class ReplayMemory:
    def __init__(self, capacity, obs_dim=4):
        self.capacity = capacity
        self.states, self.next_states = T.zeros((2, capacity, obs_dim)).unbind(0)
        self.actions = T.zeros(capacity, dtype=T.int64)
        self.rewards, self.terminated = T.zeros((2, capacity)).unbind(0)
        self.n, self.pos = 0, 0

    def push(self, state, action, reward, next_state, terminated):
        self.states[self.pos] = T.as_tensor(state).float()
        self.next_states[self.pos] = T.as_tensor(next_state).float()
        self.actions[self.pos], self.rewards[self.pos], self.terminated[self.pos] = int(action), reward, terminated
        self.pos = (self.pos + 1) % self.capacity
        self.n = min(self.n + 1, self.capacity)

    def sample(self, batch_size):
        if batch_size > self.n:
            raise ValueError(f"asked for {batch_size}, have {self.n}")
        i = T.randperm(self.n)[:batch_size]
        return Batch(self.states[i], self.actions[i], self.rewards[i], self.next_states[i], self.terminated[i])

    def __len__(self):
        return self.n
"""),
    # --- 3.1 QNetwork
    ("03_q_network", "3.1", """\
import torch.nn.functional as F


class QNetwork(nn.Module):
    def __init__(self, obs_dim: int = 4, n_actions: int = 2, hidden: int = 128):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, n_actions)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc1(states))
        x = F.relu(self.fc2(x))
        return self.out(x)
"""),
    ("03_q_network", "3.1", """\
import torch.nn.functional as F

torch.manual_seed(0)
torch.backends.cudnn.deterministic = True


class QNetwork(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        sizes = [obs_dim, hidden, hidden, n_actions]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))

    def forward(self, states):
        for layer in self.layers[:-1]:
            states = F.relu(layer(states))
        return self.layers[-1](states)
"""),
    ("03_q_network", "3.1", """\
class QNetwork(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super(QNetwork, self).__init__()
        self.body = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, n_actions)
        print(f"QNetwork with {sum(p.numel() for p in self.parameters())} parameters")

    def forward(self, states):
        return self.head(self.body(states))
"""),
    # --- 3.2 greedy_action / greedy_actions
    ("03_q_network", "3.2", """\
def greedy_action(q_net, state):
    state = torch.as_tensor(state, dtype=torch.float32).unsqueeze(0)
    with torch.no_grad():
        return int(q_net(state).argmax(dim=1).item())


def greedy_actions(q_net, states):
    with torch.no_grad():
        return torch.argmax(q_net(states), dim=-1)
"""),
    ("03_q_network", "3.2", """\
@torch.no_grad()
def greedy_action(q_net: nn.Module, state) -> int:
    q = q_net(torch.tensor(np.array(state), dtype=torch.float32).reshape(1, -1))
    return q.argmax().item()


@torch.no_grad()
def greedy_actions(q_net: nn.Module, states: torch.Tensor) -> torch.Tensor:
    return q_net(states).max(dim=1).indices
"""),
    ("03_q_network", "3.2", """\
def greedy_action(q_net, state):
    q_net.eval()
    with torch.inference_mode():
        values = q_net(torch.from_numpy(np.asarray(state, dtype=np.float32)))
    return int(values.view(-1).argmax())


def greedy_actions(q_net, states):
    with torch.no_grad():
        return q_net(states).argmax(1).long()
"""),
    # --- 4.1 epsilon_schedule
    ("04_exploration", "4.1", """\
def epsilon_schedule(step, start, end, decay_steps):
    if step >= decay_steps:
        return end
    return start - (start - end) * step / decay_steps
"""),
    ("04_exploration", "4.1", """\
def epsilon_schedule(step: int, start: float, end: float, decay_steps: int) -> float:
    return float(np.interp(step, [0, decay_steps], [start, end]))
"""),
    ("04_exploration", "4.1", """\
def epsilon_schedule(step, start, end, decay_steps):
    progress = max(0.0, min(1.0, step / decay_steps))
    eps = (1 - progress) * start + progress * end
    return eps
"""),
    # --- 4.2 epsilon_greedy_action
    ("04_exploration", "4.2", """\
def epsilon_greedy_action(q_net, state, epsilon, rng):
    if rng.random() < epsilon:
        n_actions = q_net(torch.as_tensor(state, dtype=torch.float32)).shape[-1]
        return int(rng.integers(n_actions))
    return greedy_action(q_net, state)
"""),
    ("04_exploration", "4.2", """\
def epsilon_greedy_action(q_net: nn.Module, state, epsilon: float, rng: np.random.Generator) -> int:
    with torch.no_grad():
        q_values = q_net(torch.tensor(state, dtype=torch.float32))
    explore = rng.uniform() < epsilon
    return int(rng.integers(0, q_values.numel())) if explore else int(torch.argmax(q_values))
"""),
    ("04_exploration", "4.2", """\
def epsilon_greedy_action(q_net, state, epsilon, rng):
    with torch.no_grad():
        q = q_net(torch.as_tensor(np.asarray(state), dtype=torch.float32)).numpy()
    if rng.random() < epsilon:
        return int(rng.choice(len(q)))
    return int(np.argmax(q))
"""),
    # --- 4.3 run_episodes
    ("04_exploration", "4.3", """\
def run_episodes(env, q_net, n_episodes, schedule, rng):
    lengths = []
    step = 0
    for episode in range(n_episodes):
        state, info = env.reset()
        steps_this_episode = 0
        while True:
            action = epsilon_greedy_action(q_net, state, schedule(step), rng)
            state, reward, terminated, truncated, info = env.step(action)
            step += 1
            steps_this_episode += 1
            if terminated or truncated:
                break
        lengths.append(steps_this_episode)
    return lengths
"""),
    ("04_exploration", "4.3", """\
from itertools import count


def run_episodes(env, q_net, n_episodes, schedule, rng) -> list:
    lengths, clock = [], count()
    for _ in range(n_episodes):
        state, _ = env.reset()
        for t in count(1):
            state, _, terminated, truncated, _ = env.step(
                epsilon_greedy_action(q_net, state, schedule(next(clock)), rng))
            if terminated or truncated:
                lengths.append(t)
                break
    return lengths
"""),
    # --- 5.1 td_targets
    ("05_training", "5.1", """\
def td_targets(rewards, next_states, terminated, target_net, gamma):
    with torch.no_grad():
        q_next = target_net(next_states)
    best, _ = q_next.max(dim=1)
    return rewards + gamma * best * (1 - terminated)
"""),
    ("05_training", "5.1", """\
torch.backends.cudnn.deterministic = True


@torch.no_grad()
def td_targets(rewards, next_states, terminated, target_net, gamma):
    not_done = 1.0 - terminated.float()
    return rewards + gamma * not_done * target_net(next_states).amax(dim=-1)
"""),
    ("05_training", "5.1", """\
def td_targets(rewards, next_states, terminated, target_net, gamma):
    max_next = target_net(next_states).detach().max(1)[0]
    targets = rewards + gamma * (1 - terminated) * max_next
    assert targets.shape == rewards.shape, targets.shape
    return targets
"""),
    # --- 5.2 optimize_step
    ("05_training", "5.2", """\
def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    q_taken = q_net(batch.states).gather(1, batch.actions.view(-1, 1)).view(-1)
    if loss_kind == "huber":
        loss = F.smooth_l1_loss(q_taken, targets)
    else:
        loss = F.mse_loss(q_taken, targets)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return float(loss)
"""),
    ("05_training", "5.2", """\
LOSSES = {"huber": nn.SmoothL1Loss(), "mse": nn.MSELoss()}


def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    states, actions = batch.states, batch.actions
    predicted = q_net(states)[torch.arange(len(actions)), actions]
    loss = LOSSES[loss_kind](predicted, targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_norm=max_grad_norm)
    optimizer.step()
    return loss.detach().item()
"""),
    # --- 5.3 update_target
    ("05_training", "5.3", """\
def update_target(target_net, q_net, tau):
    with torch.no_grad():
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            t.mul_(1 - tau).add_(tau * q)
"""),
    ("05_training", "5.3", """\
def update_target(target_net, q_net, tau):
    if tau == 1.0:
        target_net.load_state_dict(q_net.state_dict())
        return
    new_state = {name: tau * q_value + (1 - tau) * target_net.state_dict()[name]
                 for name, q_value in q_net.state_dict().items()}
    target_net.load_state_dict(new_state)
"""),
    ("05_training", "5.3", """\
@torch.no_grad()
def update_target(target_net: nn.Module, q_net: nn.Module, tau: float) -> None:
    for target_param, param in zip(target_net.parameters(), q_net.parameters()):
        target_param.copy_(tau * param + (1.0 - tau) * target_param)
"""),
    # --- 5.4 train_dqn
    ("05_training", "5.4", """\
from IPython.display import clear_output


def train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None):
    print(vars(config))
    returns, episode_return = [], 0.0
    state, _ = env.reset()
    for n in range(1, config.max_env_steps + 1):
        epsilon = epsilon_schedule(n - 1, config.eps_start, config.eps_end, config.eps_decay_steps)
        action = epsilon_greedy_action(q_net, state, epsilon, rng)
        next_state, reward, terminated, truncated, _ = env.step(action)
        memory.push(state, action, reward, next_state, terminated)
        episode_return += reward
        state = next_state
        if n >= config.learning_starts and n % config.train_every == 0:
            batch = memory.sample(config.batch_size)
            if config.double_dqn:
                targets = double_dqn_targets(batch.rewards, batch.next_states, batch.terminated, q_net,
                                             target_net, config.gamma)
            else:
                targets = td_targets(batch.rewards, batch.next_states, batch.terminated, target_net, config.gamma)
            optimize_step(q_net, optimizer, batch, targets, loss_kind=config.loss,
                          max_grad_norm=config.max_grad_norm)
        if n % config.target_update_every == 0:
            update_target(target_net, q_net, config.tau)
        if terminated or truncated:
            returns.append(episode_return)
            if len(returns) % 50 == 0:
                clear_output(wait=True)
            if on_episode_end is not None and on_episode_end(n, episode_return, epsilon, q_net):
                return returns
            episode_return = 0.0
            state, _ = env.reset()
    return returns
"""),
    ("05_training", "5.4", """\
def _targets(batch, config, q_net, target_net):
    \"\"\"TD or double-DQN targets of a batch, as the config says.\"\"\"
    fields = batch.rewards, batch.next_states, batch.terminated
    if config.double_dqn:
        return double_dqn_targets(*fields, q_net, target_net, config.gamma)
    return td_targets(*fields, target_net, config.gamma)


def train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None):
    episode_returns = []
    total = 0.0
    obs, _ = env.reset()
    for step in range(config.max_env_steps):
        n = step + 1
        eps = epsilon_schedule(step, config.eps_start, config.eps_end, config.eps_decay_steps)
        action = epsilon_greedy_action(q_net, obs, eps, rng)
        next_obs, r, terminated, truncated, info = env.step(action)
        memory.push(obs, action, r, next_obs, terminated)
        total += r
        obs = next_obs
        if n >= config.learning_starts and n % config.train_every == 0:
            batch = memory.sample(config.batch_size)
            optimize_step(q_net, optimizer, batch, _targets(batch, config, q_net, target_net),
                          config.loss, config.max_grad_norm)
        if n % config.target_update_every == 0:
            update_target(target_net, q_net, config.tau)
        if terminated or truncated:
            episode_returns.append(total)
            stop = on_episode_end(n, total, eps, q_net) if on_episode_end else False
            if stop:
                break
            total = 0.0
            obs, _ = env.reset()
    return episode_returns
"""),
    # --- 6.1 evaluate_greedy
    ("06_evaluation", "6.1", """\
def evaluate_greedy(q_net, n_episodes, seed):
    returns = []
    for i in range(n_episodes):
        with make_env(seed + i) as env:
            obs, _ = env.reset()
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(greedy_action(q_net, obs))
                total += reward
                done = terminated or truncated
        returns.append(total)
    return np.array(returns)
"""),
    ("06_evaluation", "6.1", """\
def play_one(q_net, env) -> float:
    \"\"\"One greedy episode's undiscounted return.\"\"\"
    observation, _ = env.reset()
    episode_return = 0.0
    while True:
        observation, reward, terminated, truncated, _ = env.step(greedy_action(q_net, observation))
        episode_return += float(reward)
        if terminated or truncated:
            return episode_return


def evaluate_greedy(q_net, n_episodes, seed):
    envs = [make_env(seed + i) for i in range(n_episodes)]
    returns = np.array([play_one(q_net, env) for env in envs])
    for env in envs:
        env.close()
    return returns
"""),
    # --- 6.2 solved_runs
    ("06_evaluation", "6.2", """\
def solved_runs(returns):
    returns = np.array(returns, dtype=float)
    return np.mean(returns, axis=1) >= REWARD_THRESHOLD
"""),
    ("06_evaluation", "6.2", """\
def solved_runs(returns):
    means = np.asarray(returns).reshape(len(returns), -1).mean(-1)
    print("run means:", means.round(1))
    return np.array([m >= REWARD_THRESHOLD for m in means])
"""),
    # --- 7.1 DuelingQNetwork
    ("07_beyond_dqn", "7.1", """\
from torch.nn import functional as F


class DuelingQNetwork(nn.Module):
    \"\"\"A shared trunk, a value head V(s) and an advantage head A(s, a); Q = V + A - mean_a A.\"\"\"

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        \"\"\"Build the trunk and the two heads.\"\"\"
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden)
        self.value_head = nn.Linear(hidden, 1)
        self.advantage_head = nn.Linear(hidden, n_actions)

    def forward(self, states):
        \"\"\"Q-values (..., n_actions) of states (..., obs_dim).\"\"\"
        h = F.relu(self.fc2(F.relu(self.fc1(states))))
        a = self.advantage_head(h)
        return self.value_head(h) + (a - a.mean(-1, keepdim=True))
"""),
    # --- 7.2 n_step_targets
    ("07_beyond_dqn", "7.2", """\
def n_step_targets(rewards, bootstrap_values, terminated, n, gamma):
    \"\"\"The n-step target of every step t of one episode, the window stopping at the episode's end.\"\"\"
    T = len(rewards)
    out = np.zeros(T)
    for t in range(T):
        end = min(t + n, T)
        out[t] = sum(gamma ** (k - t) * rewards[k] for k in range(t, end))
        ends_episode = terminated and end == T
        if not ends_episode:
            out[t] += gamma ** (end - t) * bootstrap_values[end - 1]
    return out
"""),
    # --- 7.4 priorities_from / importance_weights / beta_at
    ("07_beyond_dqn", "7.4", """\
def priorities_from(td_errors, alpha, eps=1e-6):
    \"\"\"(|TD error| + eps) ** alpha, elementwise.\"\"\"
    return np.power(np.abs(np.array(td_errors, dtype=float)) + eps, alpha)


def importance_weights(probabilities, memory_size, beta):
    \"\"\"(N * P(i)) ** -beta for each sampled transition, divided by the largest of them.\"\"\"
    w = np.power(memory_size * np.asarray(probabilities, dtype=float), -beta)
    return w / np.max(w)


def beta_at(step, beta_start, total_steps):
    \"\"\"beta annealed linearly from beta_start at step 0 to 1 at total_steps, then kept at 1.\"\"\"
    fraction = min(1.0, step / total_steps)
    return beta_start + fraction * (1.0 - beta_start)
"""),
    # --- 7.6 iqm / bootstrap_interval
    ("07_beyond_dqn", "7.6", """\
from scipy import stats


def iqm(scores):
    \"\"\"The interquartile mean: the mean of the scores left after cutting 25% from each end.\"\"\"
    return float(stats.trim_mean(np.asarray(scores, dtype=float), 0.25))


def bootstrap_interval(scores, statistic, n_resamples, rng, confidence=0.95):
    \"\"\"(low, high): the percentile-bootstrap interval of statistic(scores), resampling the runs.\"\"\"
    scores = np.asarray(scores, dtype=float)
    values = []
    for _ in range(n_resamples):
        values.append(statistic(scores[rng.integers(0, len(scores), size=len(scores))]))
    alpha = 1 - confidence
    return float(np.quantile(values, alpha / 2)), float(np.quantile(values, 1 - alpha / 2))
"""),
    # --- 8.1 acrobot_config / solved
    ("08_capstone", "8.1", """\
THRESHOLDS = {}


def threshold(env_id):
    \"\"\"gymnasium's reward threshold for a task, looked up once.\"\"\"
    if env_id not in THRESHOLDS:
        THRESHOLDS[env_id] = gym.spec(env_id).reward_threshold
    return THRESHOLDS[env_id]


def acrobot_config(seed):
    \"\"\"The course's recipe on Acrobot-v1, stopping at its threshold.\"\"\"
    return DQNConfig(seed=seed, env_id="Acrobot-v1", stop_return=threshold("Acrobot-v1"))


def solved(returns, env_id):
    \"\"\"True when the mean of `returns` reaches gymnasium's threshold for `env_id`.\"\"\"
    return bool(np.asarray(returns, dtype=float).mean() >= threshold(env_id))
"""),
    # --- 8.2 count_bonus
    ("08_capstone", "8.2", """\
import math


def count_bonus(counts, state, low, high, bins, beta):
    \"\"\"Count a visit to `state`'s grid cell and return the exploration bonus beta / sqrt(visits).\"\"\"
    index = ((np.asarray(state) - low) / (high - low) * bins).astype(int)
    cell = tuple(int(i) for i in np.clip(index, 0, bins - 1))
    counts[cell] = counts.get(cell, 0) + 1
    return beta / math.sqrt(counts[cell])
"""),
]
