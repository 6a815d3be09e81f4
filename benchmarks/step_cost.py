"""Cost of one loop step of `utils.dqn.train` against its bare parts, and of each of its options.

    python -m benchmarks.step_cost              # the recipe: loop against bare parts
    python -m benchmarks.step_cost --variants   # also dueling, n-step, prioritized, all three
    python -m benchmarks.step_cost --many 10,32 # also N agents at once (utils.many) against single runs
    python -m benchmarks.step_cost --variants --json results/step_cost.json   # the table notebook 7 shows

Times (1) one gradient update (`learn_from_memory`: sampling a batch and `gradient_step`,
and for prioritized replay the priority updates) and (2) one action selection
(`epsilon_greedy_action` at the final ε), each alone in a tight loop, then (3) the
training loop per env step without greedy checks. Prints the ratio
loop / (updates per step × update + action); the course target is ≤ 1.3. With
--variants, prints one row per option with its costs and its loop cost relative to
the recipe's. With --many, trains N agents at once with `utils.many.train_many` (N seeds,
the same loop without greedy checks, one torch thread), taking turns with single runs of
`train`, and prints the cost of one env step per agent against a single run's.
"""
import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from pathlib import Path

from utils.ablation import VARIANTS, loop_costs
from utils.dqn import DQNConfig, learn_from_memory, run_parts, torch_threads, train, transition_writer
from utils.many import train_many
from utils.policies import epsilon_greedy_action

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
    """(seconds per update, seconds per action) with a memory of random transitions, as `train` builds them."""
    env, rng, q_net, target_net, optimizer, memory = run_parts(config)
    remember = transition_writer(memory, config)
    state, _ = env.reset()
    for _ in range(config.learning_starts):
        action = int(env.action_space.sample())
        next_state, reward, terminated, truncated, _ = env.step(action)
        remember(state, action, reward, next_state, terminated, truncated)
        state = env.reset()[0] if terminated or truncated else next_state
    update = seconds_per_call(
        lambda: learn_from_memory(q_net, target_net, optimizer, memory, config, config.learning_starts), calls)
    act = seconds_per_call(lambda: epsilon_greedy_action(q_net, state, config.eps_end, rng), calls)
    return update, act


def variant_table(base: DQNConfig) -> list:
    """One row per VARIANTS entry: (name, µs per update, µs per action, µs per env step, ratio to default)."""
    configs = {name: dataclasses.replace(base, **changes) for name, changes in VARIANTS.items()}
    with torch_threads(base.num_threads):
        bare = {name: bare_costs(config) for name, config in configs.items()}
    loops = loop_costs(configs)
    default_step = loops["default"][0]
    return [(name, bare[name][0] * 1e6, bare[name][1] * 1e6, loops[name][0] * 1e6, loops[name][0] / default_step)
            for name in configs]


def print_variant_table(rows: list) -> None:
    """Print `variant_table`'s rows, aligned."""
    print(f"{'variant':<12} {'update us':>10} {'action us':>10} {'loop us/step':>13} {'x default':>10}")
    for name, update, act, per_step, ratio in rows:
        print(f"{name:<12} {update:>10.0f} {act:>10.0f} {per_step:>13.0f} {ratio:>10.2f}")


def agent_counts(text: str) -> list:
    """'10,32' → [10, 32]."""
    counts = [part.strip() for part in text.split(",")]
    if not all(count.isdigit() and int(count) > 0 for count in counts):
        raise argparse.ArgumentTypeError(f"--many takes agent counts like 10,32, got {text!r}")
    return [int(count) for count in counts]


def many_table(base: DQNConfig, counts: list, steps: int = 3000, repeats: int = 3) -> list:
    """One row per N of `counts`: (N, µs per env step per agent, µs per env step of a single run, single / per agent).

    Greedy checks are off; every run takes `steps` env steps after learning starts. The
    single runs and the batches take turns, so a slowdown of the machine hits all alike.
    """
    config = dataclasses.replace(base, max_env_steps=base.learning_starts + steps, check_every=10**9,
                                 stop_return=None)
    batches = {n: [dataclasses.replace(config, seed=seed) for seed in range(n)] for n in counts}
    single, per_agent = [], {n: [] for n in counts}
    for _ in range(repeats):
        single.append(train(config).wall_s / config.max_env_steps)
        for n, configs in batches.items():
            # Every agent runs to the budget, so the last to stop has the batch's wall time.
            per_agent[n].append(max(r.wall_s for r in train_many(configs)) / (n * config.max_env_steps))
    single_step = statistics.median(single)
    return [(n, statistics.median(per_agent[n]) * 1e6, single_step * 1e6, single_step / statistics.median(per_agent[n]))
            for n in counts]


def print_many_table(rows: list) -> None:
    """Print `many_table`'s rows, aligned."""
    print(f"{'agents':>6} {'us per agent-step':>18} {'single run us/step':>19} {'single / agent':>15}")
    for n, per_agent, single, ratio in rows:
        print(f"{n:>6} {per_agent:>18.0f} {single:>19.0f} {ratio:>14.2f}x")


def machine_description() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one), its logical CPU count and the OS."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
             if line.startswith("model name")] if cpuinfo.is_file() else []
    return f"{names[0] if names else platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, " \
           f"{platform.system()}"


def write_variant_table(path: Path, rows: list) -> None:
    """Save `variant_table`'s rows as JSON, with the machine they were measured on and its load then.

    The load average (runnable processes, over the last minute) says whether the timings
    could be trusted: above the number of CPUs, other programs took turns with these.
    """
    keys = ("variant", "update_us", "action_us", "loop_us_per_step", "x_default")
    record = {"machine": machine_description(), "load_average": round(os.getloadavg()[0], 1),
              "command": "python -m benchmarks.step_cost --variants --json " + str(path),
              "rows": [dict(zip(keys, (name, *map(lambda x: round(x, 3), numbers)))) for name, *numbers in rows]}
    path.write_text(json.dumps(record, indent=1) + "\n")


def main(argv=None) -> None:
    """Measure and print the three costs and the ratio; with --variants, the table of options too."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", action="store_true", help="also time each option of notebook 7")
    parser.add_argument("--many", type=agent_counts, metavar="N,N,...",
                        help="also time N agents trained at once (utils.many) per agent, against single runs")
    parser.add_argument("--json", type=Path, help="with --variants, also write the table to this JSON file")
    args = parser.parse_args(argv)
    if args.json and not args.variants:
        parser.error("--json writes the table of options: add --variants")
    config = DQNConfig(learning_starts=1_000, eps_decay_steps=1)
    with torch_threads(config.num_threads):
        update, act = bare_costs(config)
    per_step, updates_per_step = loop_costs({"default": config})["default"]
    bare = updates_per_step * update + act
    print(f"bare update {update * 1e6:.0f} us, bare action {act * 1e6:.0f} us "
          f"(torch threads: {config.num_threads})")
    print(f"training loop {per_step * 1e6:.0f} us per env step, {updates_per_step:.3f} updates per step")
    print(f"ratio loop / (updates per step x update + action) = {per_step / bare:.2f}  (target <= 1.3)")
    if args.variants:
        print()
        rows = variant_table(config)
        print_variant_table(rows)
        if args.json:
            write_variant_table(args.json, rows)
    if args.many:
        print()
        print_many_table(many_table(config, args.many))


if __name__ == "__main__":
    main()
