"""Questions answered with CartPole's own simulator rather than with a network.

`certain_fall_step` finds the "doomed ties" of notebook 6: states from which every
sequence of actions ends the episode on the same step, so that every action has the
same true value and a greedy choice between them is arbitrary.
"""
import gymnasium as gym
import numpy as np

from utils.seeding import ENV_ID


def bare_simulator():
    """CartPole's physics without wrappers: no time limit, no order checks, state settable."""
    return gym.make(ENV_ID).unwrapped


def step_from(simulator, state, action: int):
    """CartPole's next state (float64) and whether it ends the episode, after `action` in `state`."""
    simulator.state = np.array(state, dtype=np.float64)
    simulator.steps_beyond_terminated = None  # a fresh step from `state`, not a step after a fall
    terminated = simulator.step(action)[2]
    return simulator.state, terminated


def certain_fall_step(simulator, state, horizon: int = 4) -> int:
    """k if every action sequence from `state` ends the episode on step k (k <= horizon), else 0."""
    frontier = [state]
    for k in range(1, horizon + 1):
        outcomes = [step_from(simulator, s, action) for s in frontier for action in (0, 1)]
        ended = [terminated for _, terminated in outcomes]
        if all(ended):
            return k
        if any(ended):  # some sequences end here and others go on: the actions matter
            return 0
        frontier = [next_state for next_state, _ in outcomes]
    return 0


def certain_fall_steps(states, horizon: int = 4) -> np.ndarray:
    """`certain_fall_step` of every state in an array (..., 4), for states inside the angle limit (0 outside)."""
    simulator = bare_simulator()
    states = np.asarray(states, dtype=np.float64)
    flat = states.reshape(-1, 4)
    inside = np.abs(flat[:, 2]) <= simulator.theta_threshold_radians
    steps = [certain_fall_step(simulator, s, horizon) if ok else 0 for s, ok in zip(flat, inside)]
    return np.array(steps).reshape(states.shape[:-1])
