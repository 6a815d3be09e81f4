"""The course's DQN job in Stable-Baselines3: config mapping, greedy checks as callbacks, and an adapter.

Notebook 8 trains the same CartPole job with SB3's `DQN`. `CONFIG_TO_SB3` says where each
`DQNConfig` field goes in SB3 (or why it has no equivalent), `sb3_kwargs` does the
conversion, `train_sb3_with_eval` does the course's greedy checks the SB3 way
(`EvalCallback` + `StopTrainingOnRewardThreshold`, keeping the best model), and
`BatchedQ` lets `utils.evaluation.evaluate` score an SB3 model like a course network.
Facts about SB3 cite stable_baselines3 2.9.2's source (dqn/dqn.py, common/callbacks.py).
"""
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import NamedTuple, Optional, Union

import torch
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.monitor import Monitor
from torch import nn

from utils.dqn import MAX_TRAIN_SEED, DQNConfig, torch_threads
from utils.seeding import ENV_ID, make_env


class SB3Equivalent(NamedTuple):
    """Where one DQNConfig field goes in SB3 (None: nowhere) and how it converts, or why it cannot."""

    target: Optional[str]
    how: str


CONFIG_TO_SB3 = {
    "seed": SB3Equivalent("seed", "same integer; SB3 seeds python, numpy, torch and the env with it"),
    "max_env_steps": SB3Equivalent("learn(total_timesteps)", "same number of env steps"),
    "buffer_capacity": SB3Equivalent("buffer_size", "same"),
    "batch_size": SB3Equivalent("batch_size", "same"),
    "learning_starts": SB3Equivalent("learning_starts", "same; SB3 acts uniformly at random until then"),
    "train_every": SB3Equivalent("train_freq", "same, with gradient_steps=1 (one update per train_freq steps)"),
    "gamma": SB3Equivalent("gamma", "same"),
    "lr": SB3Equivalent("learning_rate", "same (Adam with torch's defaults in both)"),
    "loss": SB3Equivalent(None, 'SB3 always uses smooth L1 (= "huber"); it has no "mse"'),
    "double_dqn": SB3Equivalent(None, "SB3's targets are always plain max_a' Q_target(s', a'): no double DQN"),
    "target_update_every": SB3Equivalent(
        "target_update_interval", "same: SB3 counts env.step() calls (interval // n_envs), env steps with one env"),
    "tau": SB3Equivalent("tau", "same (1.0 = hard copy)"),
    "eps_start": SB3Equivalent("exploration_initial_eps", "same"),
    "eps_end": SB3Equivalent("exploration_final_eps", "same"),
    "eps_decay_steps": SB3Equivalent("exploration_fraction", "eps_decay_steps / total_timesteps: SB3 decays over a fraction"),
    "hidden": SB3Equivalent("policy_kwargs", "dict(net_arch=[hidden, hidden]); ReLU in both"),
    "max_grad_norm": SB3Equivalent("max_grad_norm", "same; None → inf, since SB3 always clips (default 10)"),
    "check_every": SB3Equivalent("EvalCallback(eval_freq)", "same; SB3 checks mid-episode, the course at its end"),
    "check_episodes": SB3Equivalent("EvalCallback(n_eval_episodes)", "same; SB3 plays them one after another"),
    "confirm_episodes": SB3Equivalent(None, "EvalCallback has no confirmation round: the first check at threshold stops"),
    "stop_return": SB3Equivalent(
        "StopTrainingOnRewardThreshold(reward_threshold)", "same (None: no stop callback); stops at mean ≥ threshold"),
    "num_threads": SB3Equivalent("torch.set_num_threads", "not a DQN argument: set around learn()"),
    "dueling": SB3Equivalent(None, "neither SB3's DQN nor SB3-contrib has a dueling network"),
    "n_step": SB3Equivalent("n_steps", "same (SB3's NStepReplayBuffer)"),
    "prioritized": SB3Equivalent(None, "neither SB3 nor SB3-contrib has prioritized replay"),
    "per_alpha": SB3Equivalent(None, "prioritized replay only"),
    "per_beta_start": SB3Equivalent(None, "prioritized replay only"),
    "per_eps": SB3Equivalent(None, "prioritized replay only"),
    "env_id": SB3Equivalent("env", "DQN('MlpPolicy', make_env(seed, env_id=env_id))"),
    "count_bonus": SB3Equivalent(None, "SB3's DQN has no exploration bonus (a reward wrapper on the env could add one)"),
    "count_bins": SB3Equivalent(None, "exploration bonus only"),
}
"""Every DQNConfig field: its SB3 counterpart (a DQN(...) argument, or where else it goes) and the conversion."""

SB3_FIXED = {"loss": "huber", "double_dqn": False, "confirm_episodes": 0, "dueling": False, "prioritized": False,
             "count_bonus": 0.0}
"""What SB3's DQN always does for the fields it has no argument for."""

SB3_RESULTS = Path(__file__).resolve().parent.parent / "results" / "sb3_compare.jsonl"
"""The committed rows of `python -m benchmarks.sb3_compare` (notebook 8 loads them)."""
RECIPE_VS_SB3 = SB3_RESULTS.with_name("recipe_vs_sb3.jsonl")
"""`python -m benchmarks.sb3_compare --seeds 100-109 --impls course sb3-zoo-es`: the recipe's report beside SB3."""

ZOO_TIMESTEPS = 50_000
ZOO_CARTPOLE_DQN = dict(
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1_000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)
"""rl-baselines3-zoo's published DQN settings for CartPole-v1 (hyperparams/dqn.yml), for ZOO_TIMESTEPS steps."""


def sb3_kwargs(config: DQNConfig, total_timesteps: Optional[int] = None) -> dict:
    """The DQN(...) keyword arguments for `config` trained `total_timesteps` steps (default config.max_env_steps)."""
    total_timesteps = config.max_env_steps if total_timesteps is None else total_timesteps
    return dict(
        seed=config.seed,
        buffer_size=config.buffer_capacity,
        batch_size=config.batch_size,
        learning_starts=config.learning_starts,
        train_freq=config.train_every,
        gradient_steps=1,
        gamma=config.gamma,
        learning_rate=config.lr,
        target_update_interval=config.target_update_every,
        tau=config.tau,
        exploration_initial_eps=config.eps_start,
        exploration_final_eps=config.eps_end,
        # SB3's ε reaches its end value after exploration_fraction · total_timesteps steps.
        exploration_fraction=config.eps_decay_steps / total_timesteps,
        policy_kwargs=dict(net_arch=[config.hidden, config.hidden]),
        max_grad_norm=float("inf") if config.max_grad_norm is None else config.max_grad_norm,
        n_steps=config.n_step,
    )


def not_reproduced(config: DQNConfig) -> list:
    """The fields of `config` whose value SB3's DQN cannot reproduce (it behaves as SB3_FIXED says)."""
    return [name for name, value in SB3_FIXED.items() if getattr(config, name) != value]


def mapping_table() -> str:
    """CONFIG_TO_SB3 as aligned text, one field a line."""
    return "\n".join(f"{field:<20} {target or '—':<48} {how}" for field, (target, how) in CONFIG_TO_SB3.items())


def zoo_settings(total_timesteps: int = ZOO_TIMESTEPS) -> dict:
    """ZOO_CARTPOLE_DQN for a budget of `total_timesteps`, ε still decaying over the zoo's 8,000 steps."""
    decay_steps = ZOO_CARTPOLE_DQN["exploration_fraction"] * ZOO_TIMESTEPS
    return {**ZOO_CARTPOLE_DQN, "exploration_fraction": decay_steps / total_timesteps}


class BatchedQ(nn.Module):
    """Wrap SB3's q_net so it takes one state (obs_dim,) or a batch, like utils' QNetwork."""

    def __init__(self, q_net: nn.Module, obs_dim: int):
        """Keep the SB3 network and the state size."""
        super().__init__()
        self.q_net = q_net
        self.obs_dim = obs_dim

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Q-values with the same leading shape as `states`."""
        # SB3's network flattens from dim 1, so a single state must become a batch of one.
        q_values = self.q_net(states.reshape(-1, self.obs_dim))
        return q_values.reshape(*states.shape[:-1], -1)


def course_q_net(model: DQN) -> BatchedQ:
    """`model`'s Q-network as utils.evaluation.evaluate expects it, in eval mode."""
    return BatchedQ(model.q_net, model.observation_space.shape[0]).eval()


def new_dqn(kwargs: dict, env_id: str = ENV_ID) -> DQN:
    """SB3's DQN with `kwargs` (seed included) on the CPU, training on make_env(seed), logging nowhere."""
    model = DQN("MlpPolicy", make_env(kwargs["seed"], env_id=env_id), device="cpu", verbose=0, **kwargs)
    # Without a logger of its own, every learn() makes an empty folder SB3-<date> in the user's temp folder.
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


@dataclasses.dataclass
class SB3Run:
    """What `train_sb3_with_eval` returns."""

    model: DQN
    """The best evaluated model (the final one if no evaluation ran)."""
    q_net: BatchedQ
    """model's Q-network for utils.evaluation.evaluate."""
    env_steps: int
    """Environment steps taken before training stopped."""
    wall_s: float
    """Wall-clock seconds of model.learn, evaluations included."""
    stopped_early: bool
    """True when an evaluation reached the threshold before the budget ran out."""
    eval_steps: list
    """Env step of each evaluation."""
    eval_returns: list
    """Mean return of each evaluation."""


def train_sb3_with_eval(settings: Union[DQNConfig, dict], seed: int, total_timesteps: int,
                        eval_every: Optional[int] = None, eval_episodes: Optional[int] = None,
                        threshold: Optional[float] = None, num_threads: int = 1) -> SB3Run:
    """Train SB3's DQN with SB3's greedy checks: EvalCallback, stop at `threshold`, keep the best model.

    `settings` is a DQNConfig (converted by `sb3_kwargs`, its seed replaced by `seed`) or
    DQN(...) keyword arguments such as `zoo_settings(total_timesteps)`. The eval
    arguments left at None take the config's check_every, check_episodes and stop_return
    (for keyword arguments, DQNConfig's defaults: every 1,000 steps, 20 episodes, 500).
    """
    if isinstance(settings, DQNConfig):
        config, kwargs = settings, sb3_kwargs(dataclasses.replace(settings, seed=seed), total_timesteps)
    else:
        config, kwargs = DQNConfig(), {**settings, "seed": seed}
    eval_every = config.check_every if eval_every is None else eval_every
    eval_episodes = config.check_episodes if eval_episodes is None else eval_episodes
    threshold = config.stop_return if threshold is None else threshold
    with torch_threads(num_threads), tempfile.TemporaryDirectory() as folder:
        model = new_dqn(kwargs, config.env_id)
        # The eval env's seed is that of the course's first greedy-check env: apart from training and evaluation.
        evaluation = EvalCallback(
            Monitor(make_env(seed + MAX_TRAIN_SEED, env_id=config.env_id)),
            callback_on_new_best=None if threshold is None else StopTrainingOnRewardThreshold(threshold),
            n_eval_episodes=eval_episodes, eval_freq=eval_every,
            best_model_save_path=folder, log_path=folder, verbose=0)
        start = time.perf_counter()
        model.learn(total_timesteps=total_timesteps, callback=evaluation)
        wall_s = time.perf_counter() - start
        model.get_env().close()
        evaluation.eval_env.close()
        best_path = Path(folder) / "best_model.zip"
        best = DQN.load(best_path, device="cpu") if best_path.is_file() else model
    eval_returns = [float(sum(returns) / len(returns)) for returns in evaluation.evaluations_results]
    return SB3Run(model=best, q_net=course_q_net(best), env_steps=int(model.num_timesteps), wall_s=wall_s,
                  stopped_early=threshold is not None and evaluation.best_mean_reward >= threshold,
                  eval_steps=list(evaluation.evaluations_timesteps), eval_returns=eval_returns)
