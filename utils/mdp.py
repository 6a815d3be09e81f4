"""Tabular MDPs: discounted returns, Bellman backups and value iteration (notebook 1)."""
import numpy as np


def discounted_return(rewards, gamma: float) -> float:
    """G_0 = sum_k gamma^k r_k for a finite reward sequence."""
    total = 0.0
    for reward in reversed(list(rewards)):
        total = float(reward) + gamma * total
    return total


def bellman_optimality_backup(Q, P, R, terminal, gamma: float) -> np.ndarray:
    """One backup Q'(s,a) = R(s,a) + gamma * sum_s' P(s'|s,a) (1 - terminal(s')) max_a' Q(s',a')."""
    best_next = np.where(terminal, 0.0, Q.max(axis=1))
    return R + gamma * P @ best_next


def value_iteration(P, R, terminal, gamma: float, backup=bellman_optimality_backup, tolerance: float = 1e-10, max_sweeps: int = 10_000):
    """Apply `backup` from Q = 0 until no entry moves by more than `tolerance`; return (Q, sweeps)."""
    Q = np.zeros(R.shape)
    for sweep in range(1, max_sweeps + 1):
        new_Q = np.asarray(backup(Q, P, R, terminal, gamma), dtype=float)
        if np.max(np.abs(new_Q - Q)) <= tolerance:
            return new_Q, sweep
        Q = new_Q
    raise RuntimeError(f"value iteration did not converge in {max_sweeps} sweeps")


def corridor_mdp(length: int = 4, slip: float = 0.0):
    """A corridor of `length` cells; actions 0=left, 1=right; reaching the right end pays 1 and ends.

    With probability `slip` the move fails and the agent stays put. Returns (P, R, terminal)
    with shapes (S, 2, S), (S, 2) and (S,).
    """
    goal = length - 1
    P = np.zeros((length, 2, length))
    R = np.zeros((length, 2))
    for s in range(goal):
        for action, move in ((0, -1), (1, +1)):
            target = min(max(s + move, 0), goal)
            P[s, action, target] += 1.0 - slip
            P[s, action, s] += slip
            R[s, action] = (1.0 - slip) * (target == goal)
    P[goal, :, goal] = 1.0  # the goal is absorbing; its value is masked out anyway
    terminal = np.arange(length) == goal
    return P, R, terminal
