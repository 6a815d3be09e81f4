"""Measure what the live training view costs: `python -m tools.live_overhead [--steps N]`.

Trains the same seeded run with no view, with the text view and with the widget view
(drawn headless: the PNGs are rendered exactly as in a notebook, only nobody receives
them) and prints the time spent inside the view as a share of the training time. That
share is the figure to trust: on a shared machine the runs' wall times differ by more
than the view costs.
"""
import argparse
import contextlib
import dataclasses
import io

from utils.dqn import DQNConfig, train
from utils.live import LiveTrainingView


def timed_run(config: DQNConfig, mode: str | None) -> tuple:
    """Train once, with a view in `mode` (None: no view); return (result, view)."""
    if mode is None:
        return train(config), None
    # Headless, display() prints the widget's repr: keep the terminal clean.
    with contextlib.redirect_stdout(io.StringIO()):
        view = LiveTrainingView(config.max_env_steps, mode=mode)
        result = train(config, on_episode=view.on_episode)
        view.finish()
    return result, view


def main() -> None:
    """Run the three trainings and print the overhead of each view."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000, help="environment steps per run")
    args = parser.parse_args()
    config = dataclasses.replace(DQNConfig(), max_env_steps=args.steps, stop_return=None)
    timed_run(dataclasses.replace(config, max_env_steps=2_000), None)  # warm-up: the first run pays for loading
    baseline, _ = timed_run(config, None)
    print(f"no view:     {baseline.wall_s:6.1f} s, {len(baseline.episode_returns)} episodes")
    for mode in ("text", "widget"):
        result, view = timed_run(config, mode)
        print(f"{mode + ' view:':12s} {result.wall_s:6.1f} s; inside the view {view.overhead_s:.3f} s = "
              f"{view.overhead_s / result.wall_s:.2%} of training ({view.redraws} redraws)")


if __name__ == "__main__":
    main()
