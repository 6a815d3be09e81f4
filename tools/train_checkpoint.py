"""Train the checkpoints that ship with the course (notebooks 6 and 8 load them), or verify them.

    python -m tools.train_checkpoint            # train with the defaults, write the files
    python -m tools.train_checkpoint --verify   # train again, compare with the shipped files
    python -m tools.train_checkpoint --task acrobot [--verify]   # notebook 8's Acrobot agent

Writes checkpoints/dqn_cartpole.pt (weights + config, via utils.evaluation.save_checkpoint)
and checkpoints/dqn_cartpole.json (config, training figures, evaluation, SHA-256 of the
.pt). Nothing written depends on the clock, so on the same machine type a retrain gives
byte-identical files.
"""
import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from utils.dqn import DQNConfig, train
from utils.evaluation import SHIPPED_CHECKPOINT, config_record, evaluate, save_checkpoint
from utils.tasks import task_config

SHIPPED = {
    "cartpole": (lambda seed: DQNConfig(seed=seed), SHIPPED_CHECKPOINT),
    "acrobot": (lambda seed: task_config("acrobot", seed), SHIPPED_CHECKPOINT.with_name("dqn_acrobot.pt")),
}
"""Each shipped checkpoint: the config it is trained with (notebooks 6 and 8) and its file."""


def train_and_save(config: DQNConfig, checkpoint: Path) -> Path:
    """Train with `config`; write the .pt and its .json; return the .json."""
    result = train(config)
    returns = evaluate(result.q_net, env_id=config.env_id)
    save_checkpoint(checkpoint, result.q_net, result.config)
    summary = {
        "checkpoint": checkpoint.name,
        "sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest(),
        "torch": torch.__version__,
        "config": config_record(result.config),
        "env_steps": result.env_steps,
        "updates": result.updates,
        "episodes": len(result.episode_returns),
        "stopped_early": result.stopped_early,
        "eval_episodes": int(returns.size),
        "eval_mean": float(returns.mean()),
        "eval_min": float(returns.min()),
    }
    if config == DQNConfig(seed=config.seed):  # CartPole's recipe: how many episodes reached the 500-step limit
        summary["eval_n_500"] = int(np.sum(returns == 500.0))
    summary_path = checkpoint.with_suffix(".json")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary_path


def main(argv=None) -> int:
    """Train (or retrain and compare) the shipped checkpoint."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=list(SHIPPED), default="cartpole", help="which shipped agent (default cartpole)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--out", type=Path, help="checkpoint path (default: the task's shipped file in checkpoints/)")
    parser.add_argument("--verify", action="store_true", help="retrain and compare with the files at --out")
    args = parser.parse_args(argv)
    make_config, shipped = SHIPPED[args.task]
    config, args.out = make_config(args.seed), args.out or shipped
    if not args.verify:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        print(f"wrote {args.out} and {train_and_save(config, args.out)}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / args.out.name
        summary = train_and_save(config, fresh)
        same = (fresh.read_bytes() == args.out.read_bytes()
                and summary.read_text() == args.out.with_suffix(".json").read_text())
    print(f"{args.out}: {'identical to a fresh retrain' if same else 'DIFFERS from a fresh retrain'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
