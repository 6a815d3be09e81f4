"""Train the checkpoint that ships with the course (notebook 6 loads it), or verify it.

    python -m tools.train_checkpoint            # train with the defaults, write the files
    python -m tools.train_checkpoint --verify   # train again, compare with the shipped files

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



def train_and_save(seed: int, checkpoint: Path) -> Path:
    """Train with the default config on `seed`; write the .pt and its .json; return the .json."""
    result = train(DQNConfig(seed=seed))
    returns = evaluate(result.q_net)
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
        "eval_n_500": int(np.sum(returns == 500.0)),
    }
    summary_path = checkpoint.with_suffix(".json")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary_path


def main(argv=None) -> int:
    """Train (or retrain and compare) the shipped checkpoint."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--out", type=Path, default=SHIPPED_CHECKPOINT, help="checkpoint path (default: the shipped checkpoints/dqn_cartpole.pt)")
    parser.add_argument("--verify", action="store_true", help="retrain and compare with the files at --out")
    args = parser.parse_args(argv)
    if not args.verify:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        print(f"wrote {args.out} and {train_and_save(args.seed, args.out)}")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / args.out.name
        summary = train_and_save(args.seed, fresh)
        same = (fresh.read_bytes() == args.out.read_bytes()
                and summary.read_text() == args.out.with_suffix(".json").read_text())
    print(f"{args.out}: {'identical to a fresh retrain' if same else 'DIFFERS from a fresh retrain'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
