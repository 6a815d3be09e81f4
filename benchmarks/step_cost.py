"""Cost of one loop step of `utils.dqn.train` against its bare parts.

    python -m benchmarks.step_cost

Times (1) one gradient update (`gradient_step` on a sampled batch) and (2) one action
selection (`epsilon_greedy_action` at the final ε), each alone in a tight loop, then
(3) the training loop per env step with updates on every step and no greedy checks.
Prints the ratio loop / (updates per step × update + action); the course target is ≤ 1.3.
"""
import copy
import dataclasses
import statistics
import time

import numpy as np
import torch

from utils.dqn import DQNConfig, gradient_step, torch_threads, train
from utils.networks import QNetwork
from utils.policies import epsilon_greedy_action
from utils.replay import ReplayMemory
from utils.seeding import make_env, seed_everything

REPEATS = 5


def seconds_per_call(function, calls: int) -> float:
    """Median over REPEATS of the mean time of `calls` calls to `function`."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def bare_costs(config: DQNConfig, calls: int = 1000) -> tuple:
    """(seconds per update, seconds per action) with a memory of random transitions."""
    seed_everything(config.seed)
    q_net = QNetwork(hidden=config.hidden)
    target_net = copy.deepcopy(q_net)
    optimizer = torch.optim.Adam(q_net.parameters(), lr=config.lr, fused=True)
    memory = ReplayMemory(config.buffer_capacity)
    env = make_env(config.seed)
    state, _ = env.reset()
    for _ in range(config.learning_starts):
        action = int(env.action_space.sample())
        next_state, reward, terminated, truncated, _ = env.step(action)
        memory.push(state, action, reward, next_state, terminated)
        state = env.reset()[0] if terminated or truncated else next_state
    rng = np.random.default_rng(config.seed)
    update = seconds_per_call(
        lambda: gradient_step(q_net, target_net, optimizer, memory.sample(config.batch_size), config), calls)
    act = seconds_per_call(lambda: epsilon_greedy_action(q_net, state, config.eps_end, rng), calls)
    return update, act


def loop_cost(config: DQNConfig, steps: int = 3000) -> tuple:
    """(seconds per env step, updates per env step) of `train` without greedy checks."""
    run = dataclasses.replace(config, max_env_steps=config.learning_starts + steps,
                              check_every=10**9, stop_return=None)
    walls, result = [], None
    for _ in range(3):
        result = train(run)
        walls.append(result.wall_s)
    # The collection-only steps before learning_starts are cheap; charge them all to the loop anyway.
    return statistics.median(walls) / result.env_steps, result.updates / result.env_steps


def main() -> None:
    """Measure and print the three costs and the ratio."""
    config = DQNConfig(learning_starts=1_000, eps_decay_steps=1)
    with torch_threads(config.num_threads):
        update, act = bare_costs(config)
    per_step, updates_per_step = loop_cost(config)
    bare = updates_per_step * update + act
    print(f"bare update {update * 1e6:.0f} us, bare action {act * 1e6:.0f} us "
          f"(torch threads: {config.num_threads})")
    print(f"training loop {per_step * 1e6:.0f} us per env step, {updates_per_step:.3f} updates per step")
    print(f"ratio loop / (updates per step x update + action) = {per_step / bare:.2f}  (target <= 1.3)")


if __name__ == "__main__":
    main()
