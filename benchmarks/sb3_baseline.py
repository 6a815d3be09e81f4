"""Stable-Baselines3 DQN with the rl-baselines3-zoo hyperparameters for CartPole-v1, for 50k steps.

The settings are utils.sb3_bridge.ZOO_CARTPOLE_DQN, the zoo's published ones
(rl-baselines3-zoo, hyperparams/dqn.yml, entry CartPole-v1). stable-baselines3 is a
course dependency (requirements.txt).
"""
import time

from utils.dqn import torch_threads

INSTALL_HINT = ("the sb3 baseline needs stable-baselines3, pinned in requirements.txt: "
                "this .venv predates it, run `make setup`")


def sb3_available() -> bool:
    """True when stable_baselines3 can be imported."""
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        return False
    return True


def train_sb3(seed: int, num_threads: int = 1) -> dict:
    """Train SB3 DQN with the zoo settings for 50k steps on make_env(seed); return the run."""
    # Imported here so that solve_rate can say how to install SB3 instead of failing on import.
    from utils.sb3_bridge import ZOO_TIMESTEPS, course_q_net, new_dqn, zoo_settings

    with torch_threads(num_threads):
        model = new_dqn({**zoo_settings(ZOO_TIMESTEPS), "seed": seed})
        start = time.perf_counter()
        model.learn(total_timesteps=ZOO_TIMESTEPS)
        wall_s = time.perf_counter() - start
    return {"q_net": course_q_net(model), "env_steps": int(model.num_timesteps), "updates": int(model._n_updates),
            "wall_s": wall_s}
