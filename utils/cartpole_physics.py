"""CartPole's own physics, used without stepping an env at a time.

`certain_fall_step` finds the "doomed ties" of notebook 6: states from which every
sequence of actions ends the episode on the same step, so that every action has the
same true value and a greedy choice between them is arbitrary.

`cartpole_greedy_returns` plays greedy episodes of many CartPole envs at once, with
gymnasium's update applied to arrays of states, operation for operation (float64,
elementwise, so each episode's numbers are the ones its env would compute): the same
returns as stepping each env, at a fraction of the cost. Greedy checks and evaluations
spend most of a run's env steps, so every training run gains.
"""
import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker, TimeLimit

from utils.policies import greedy_actions
from utils.seeding import ENV_ID

PLAIN_WRAPPERS = (TimeLimit, OrderEnforcing, PassiveEnvChecker)
"""What `gym.make` puts around CartPoleEnv: none of them changes a step's numbers."""
PHYSICS = ("gravity", "masspole", "total_mass", "length", "polemass_length", "force_mag", "tau", "x_threshold",
           "theta_threshold_radians")


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


def time_limit(env) -> int | None:
    """The step limit of a plain CartPole (`gym.make`'s wrappers around CartPoleEnv, Euler, standard reward);
    None for any other env."""
    layer, limit = env, None
    while isinstance(layer, gym.Wrapper):
        if type(layer) not in PLAIN_WRAPPERS:
            return None
        if isinstance(layer, TimeLimit):
            limit = layer._max_episode_steps
        layer = layer.env
    plain = (type(layer) is CartPoleEnv and layer.kinematics_integrator == "euler"
             and not layer._sutton_barto_reward and layer.render_mode != "human")
    return limit if plain else None


def one_physics(envs: list) -> bool:
    """True when every env of `envs` is a plain CartPole with one time limit and one set of constants."""
    limits = {time_limit(env) for env in envs}
    if len(limits) != 1 or None in limits:
        return False
    return len({tuple(getattr(env.unwrapped, name) for name in PHYSICS) for env in envs}) == 1


def cartpole_steps(states: np.ndarray, pushes_right: np.ndarray, physics: CartPoleEnv) -> tuple:
    """CartPoleEnv.step's Euler update of float64 `states` (n, 4): (the next states, which ended the episode)."""
    x, x_dot, theta, theta_dot = (np.ascontiguousarray(column) for column in states.T)
    p = physics
    # gymnasium's expressions, in its order of operations: every element rounds as its env's step would.
    force = np.where(pushes_right, p.force_mag, -p.force_mag)
    costheta = np.cos(theta)
    sintheta = np.sin(theta)
    temp = (force + p.polemass_length * np.square(theta_dot) * sintheta) / p.total_mass
    thetaacc = (p.gravity * sintheta - costheta * temp) / (
        p.length * (4.0 / 3.0 - p.masspole * np.square(costheta) / p.total_mass))
    xacc = temp - p.polemass_length * thetaacc * costheta / p.total_mass
    x, x_dot = x + p.tau * x_dot, x_dot + p.tau * xacc
    theta, theta_dot = theta + p.tau * theta_dot, theta_dot + p.tau * thetaacc
    ended = (x < -p.x_threshold) | (x > p.x_threshold) | (theta < -p.theta_threshold_radians) | (
        theta > p.theta_threshold_radians)
    return np.stack([x, x_dot, theta, theta_dot], axis=1), ended


def cartpole_greedy_returns(q_net, envs: list) -> np.ndarray:
    """`utils.evaluation.greedy_returns` for plain CartPoles (`one_physics`): each env reset, its episode then
    stepped as arrays; the same returns. The envs are left as their reset made them."""
    observations = np.stack([env.reset()[0] for env in envs])
    states = np.array([env.unwrapped.state for env in envs], dtype=np.float64)
    physics, limit = envs[0].unwrapped, time_limit(envs[0])
    returns = np.zeros(len(envs))
    running = np.arange(len(envs))
    for _ in range(limit):
        # One forward pass over every env's last observation, as greedy_returns makes it.
        actions = greedy_actions(q_net, torch.as_tensor(observations)).numpy()[running]
        next_states, ended = cartpole_steps(states[running], actions == 1, physics)
        states[running] = next_states
        observations[running] = next_states.astype(np.float32)
        returns[running] += 1.0  # CartPole pays 1 for every step, the one that ends the episode included
        running = running[~ended]
        if running.size == 0:
            break
    return returns
