"""How DQN's values grow with the number of hard target copies, beside value iteration's prediction.

    python -m benchmarks.value_growth [--seed 0] [--copies 50,100,150,200] [--states 100] [--json results/value_growth.json]

Between two hard copies the Q-network is fitted to r + γ·max_a' Q_target(s', a'): one sweep
of value iteration, approximately. Starting from Q ≈ 0, after k sweeps a state from which
the pole can be kept up for ever is worth Σ_{i<k} γ^i = (1 − γ^k)/(1 − γ). The copies made
up to learning_starts copy a network that has not learned yet, so k counts only the later
ones. This script trains the course's DQN without early stopping and prints max_a Q,
averaged over the start states of held-out evaluation episodes (upright, within ±0.05),
after a number of copies.

Each k is its own training run of exactly k·target_update_every steps. Training is
deterministic on one machine, so every run repeats the longer runs' first steps and its
network is the one a single long run holds right after its k-th copy.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from benchmarks.step_cost import machine_description
from utils.dqn import DQNConfig, train
from utils.evaluation import EVAL_SEED
from utils.seeding import make_env

NEVER = 10**9
"""check_every that no run reaches: no greedy check, so `train` returns the final weights, not the best checked ones."""
COPY_EVERY = DQNConfig().target_update_every
"""Environment steps between hard target copies in the course's recipe."""
COPIES_BEFORE_LEARNING = DQNConfig().learning_starts // COPY_EVERY
"""Copies made up to learning_starts (steps 125, ..., 1,000): a network that has not learned (the last after one update)."""


def parse_copies(text: str) -> list:
    """'50,100,150,200' → [50, 100, 150, 200]: positive numbers of target copies."""
    try:
        copies = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad list {text!r}: expected e.g. 50,100,150,200") from None
    if any(k <= 0 for k in copies):
        raise argparse.ArgumentTypeError(f"bad list {text!r}: copies must be positive")
    return copies


def start_states(n_states: int) -> torch.Tensor:
    """The reset states of the first `n_states` evaluation episodes, shape (n_states, 4)."""
    return torch.as_tensor(np.stack([make_env(EVAL_SEED + i).reset()[0] for i in range(n_states)]))


def predicted_value(copies: int, gamma: float) -> float:
    """Value iteration from 0 after `copies` sweeps, for a state that can be held for ever."""
    return (1 - gamma**copies) / (1 - gamma)


def value_after(copies: int, seed: int, states: torch.Tensor) -> float:
    """Mean of max_a Q over `states`, for the network trained up to its `copies`-th target copy."""
    config = DQNConfig(seed=seed, stop_return=None, check_every=NEVER, max_env_steps=copies * COPY_EVERY)
    q_net = train(config).q_net
    with torch.no_grad():
        return float(q_net(states).max(dim=1).values.mean())


def main(argv=None) -> None:
    """Print measured and predicted values after each number of copies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--copies", type=parse_copies, default=[50, 100, 150, 200],
                        help="numbers of target copies to measure after (default 50,100,150,200)")
    parser.add_argument("--states", type=int, default=100, help="evaluation start states to average over")
    parser.add_argument("--json", type=Path, help="also write the rows there, with the machine they were measured on")
    args = parser.parse_args(argv)
    gamma = DQNConfig().gamma
    states = start_states(args.states)
    print(f"seed {args.seed}, γ = {gamma}, max_a Q averaged over {args.states} evaluation start states")
    print(f"{'copies':>6} {'env steps':>9} {'measured':>8} {'predicted (1 - γ^k)/(1 - γ)':>28}  "
          f"(k = copies - {COPIES_BEFORE_LEARNING}, those made before learning starts)")
    rows = []
    for copies in args.copies:
        measured = value_after(copies, args.seed, states)
        predicted = predicted_value(copies - COPIES_BEFORE_LEARNING, gamma)
        print(f"{copies:6d} {copies * COPY_EVERY:9,d} {measured:8.1f} {predicted:28.1f}", flush=True)
        rows.append({"copies": copies, "env_steps": copies * COPY_EVERY, "measured": round(measured, 2),
                     "predicted": round(predicted, 2)})
    if args.json:
        # the measured values depend on the machine's floating-point results, so the record names it
        record = {"machine": machine_description(), "seed": args.seed, "states": args.states,
                  "command": "python -m benchmarks.value_growth " + " ".join(sys.argv[1:] if argv is None else argv),
                  "rows": rows}
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
