"""utils.many: N agents trained at once, each exactly as `train` trains it alone; benchmarks.sweep and its results."""
import dataclasses
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.many_vs_single import run_row, summary
from benchmarks.sweep import Sweep, merge_parts, run_sweep
from tools.shard import parse_shard, part_of
from utils.ablation import load_runs
from utils.dqn import DQNConfig, train
from utils.evaluation import REWARD_THRESHOLD, config_record
from utils.many import (PER_AGENT_FIELDS, Agent, AgentBatch, AgentsAdam, CartPoleArrays, VectorEnv, stack_networks,
                        train_many)
from utils.networks import DuelingQNetwork, QNetwork
from utils.seeding import BATCH_CHECK_SEEDS, make_env
from utils.stats import bootstrap_ci
from utils.tasks import exploration_log_for, task_config

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "many_vs_single.jsonl"
COMMITTED_SEEDS = list(BATCH_CHECK_SEEDS)

# Short runs whose greedy checks run and sometimes pass (a mean of 25 is reachable in 1,500 steps).
SHORT = DQNConfig(max_env_steps=1500, learning_starts=300, check_every=400, check_episodes=5, confirm_episodes=5,
                  stop_return=25.0)
VARIANTS = {
    "recipe": {},
    "dueling": {"dueling": True},
    "n-step": {"n_step": 3},
    "prioritized": {"prioritized": True},
    "all three": {"dueling": True, "n_step": 3, "prioritized": True},
    "soft, clipped, mse, plain": {"tau": 0.05, "max_grad_norm": 1.0, "loss": "mse", "double_dqn": False},
}


def run_record(result) -> dict:
    """Everything a run produced: its curves, checks, counts and final weights (as bytes)."""
    record = {name: getattr(result, name) for name in (
        "episode_returns", "episode_lengths", "episode_epsilons", "episode_end_steps", "check_steps",
        "check_returns", "check_values", "env_steps", "updates", "stopped_early")}
    record["weights"] = {name: t.numpy().tobytes() for name, t in result.q_net.state_dict().items()}
    return record


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_one_agent_is_train_bit_for_bit(variant):
    config = dataclasses.replace(SHORT, seed=3, **VARIANTS[variant])
    alone = train(config)
    (batched,) = train_many([config])
    assert run_record(batched) == run_record(alone)
    assert batched.config == config


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["recipe", "all three"])
def test_each_agent_of_a_batch_trains_as_alone_whatever_its_batch(variant):
    # Per-agent learning rates, discounts and ε schedules, as in a sweep; agents stop at different steps.
    base = dataclasses.replace(SHORT, **VARIANTS[variant])
    configs = [dataclasses.replace(base, seed=0), dataclasses.replace(base, seed=1, lr=1e-3, gamma=0.98),
               dataclasses.replace(base, seed=0, eps_start=0.5, eps_decay_steps=500)]
    seen = []
    results = train_many(configs, on_episode=lambda agent, *episode: seen.append((agent, *episode)),
                         on_result=lambda agent, result: seen.append((agent, "result", result.env_steps)))
    assert [run_record(r) for r in results] == [run_record(train(c)) for c in configs]
    assert {r.env_steps for r in results} != {base.max_env_steps}, "no agent stopped early: the test lost its point"
    for agent, result in enumerate(results):
        episodes = [e for e in seen if e[0] == agent and e[1] != "result"]
        assert [e[2] for e in episodes] == result.episode_returns
        assert [e[4] for e in episodes] == result.episode_end_steps
        assert seen.index((agent, "result", result.env_steps)) > seen.index(episodes[-1])


@pytest.mark.slow
def test_a_capstone_batch_keeps_its_bonus_and_exploration_logs():
    configs = [task_config("mountaincar-remedy", seed, max_env_steps=1200, learning_starts=300) for seed in (0, 1)]
    logs = [exploration_log_for(c) for c in configs]
    results = train_many(configs, on_step=logs)
    for config, result, log in zip(configs, results, logs):
        alone_log = exploration_log_for(config)
        assert run_record(result) == run_record(train(config, on_step=alone_log))
        assert log.summary() == alone_log.summary()


@pytest.mark.slow
def test_the_same_seed_list_gives_the_same_weights_twice():
    configs = [dataclasses.replace(SHORT, seed=seed) for seed in (5, 6)]
    first, second = train_many(configs), train_many(configs)
    assert [run_record(r)["weights"] for r in first] == [run_record(r)["weights"] for r in second]
    assert run_record(first[0])["weights"] != run_record(first[1])["weights"]


@pytest.mark.parametrize("network", [QNetwork, DuelingQNetwork])
def test_a_stacked_network_computes_each_agents_numbers_and_gradients(network):
    torch.manual_seed(0)
    own = [network(4, 2, 128) for _ in range(3)]
    stacked = stack_networks(own)
    for rows in (1, 64):  # acting on one state, learning from a minibatch
        states = torch.randn(3, rows, 4)
        alone = [net(s[0] if rows == 1 else s) for net, s in zip(own, states)]
        together = stacked(states.reshape(-1, 4)).reshape(3, rows, 2)
        assert all(torch.equal(together[k].reshape(alone[k].shape), alone[k]) for k in range(3))
    assert_each_agents_gradients(own, stacked, rows=64)
    # Products below SMALL_PRODUCT run agent by agent, with their gradients too.
    small = [network(4, 2, 8) for _ in range(3)]
    assert_each_agents_gradients(small, stack_networks(small), rows=3)


def assert_each_agents_gradients(own: list, stacked, rows: int) -> None:
    """The stacked network's gradient of Σ_k (agent k's loss) is, for each agent, its own network's gradient."""
    states = torch.randn(len(own), rows, 4)
    for net, s in zip(own, states):
        net(s).square().mean().backward()
    stacked(states.reshape(-1, 4)).reshape(len(own), rows, 2).square().mean(dim=(1, 2)).sum().backward()
    for k, net in enumerate(own):
        for (name, param), stacked_param in zip(net.named_parameters(), stacked.parameters()):
            assert torch.equal(stacked_param.grad[k].reshape(param.shape), param.grad), name


def test_agents_adam_gives_each_agent_its_own_adam_and_learning_rate():
    torch.manual_seed(0)
    own = [QNetwork(4, 2, 16) for _ in range(3)]
    lrs = [1e-2, 1e-3, 1e-3]
    stacked = stack_networks(own)
    optimizers = [torch.optim.Adam(net.parameters(), lr=lr, fused=True) for net, lr in zip(own, lrs)]
    adam = AgentsAdam(stacked, lrs, optimizers[0].defaults)
    for _ in range(3):
        grads = [torch.randn_like(p) for p in stacked.parameters()]
        for p, g in zip(stacked.parameters(), grads):
            p.grad = g.clone()
        adam.step()
        for k, (net, optimizer) in enumerate(zip(own, optimizers)):
            for p, g in zip(net.parameters(), grads):
                p.grad = g[k].reshape(p.shape).clone()
            optimizer.step()
    for k, net in enumerate(own):
        for param, stacked_param in zip(net.parameters(), stacked.parameters()):
            assert torch.equal(stacked_param.detach()[k].reshape(param.shape), param.detach())


def test_cartpoles_stepped_as_arrays_give_what_their_vector_env_gives():
    # A time limit of 30 steps, so that episodes end by truncation as well as by falling.
    arrays, vector = ([make_env(seed, max_episode_steps=30) for seed in range(5)] for _ in range(2))
    arrays, vector = CartPoleArrays(arrays), VectorEnv(vector)
    assert np.array_equal(arrays.reset(), vector.reset())
    actions = np.random.default_rng(0).integers(2, size=(400, 5))
    ends = np.zeros(2, dtype=int)
    for step, chosen in enumerate(actions):
        if step == 200:
            arrays.keep([0, 2, 3])
            vector.keep([0, 2, 3])
        chosen = chosen[:arrays.num_envs]
        stepped, expected = arrays.step(chosen), vector.step(chosen)
        for got, want in zip(stepped, expected):
            assert got.dtype == want.dtype and np.array_equal(got, want), step
        ends += [expected[2].sum(), expected[3].sum()]
    assert ends.min() > 10, f"too few episodes ended by falling and by the time limit: {ends}"


def test_agents_that_stop_leave_the_networks_the_optimizer_and_the_vector_env():
    configs = [dataclasses.replace(SHORT, seed=seed, lr=lr) for seed, lr in ((0, 1e-3), (1, 2e-3), (2, 3e-3))]
    batch = AgentBatch([Agent(k, config, None, None) for k, config in enumerate(configs)])
    batch.keep([0, 2])
    assert [agent.index for agent in batch.agents] == [0, 2] and batch.envs.num_envs == 2
    assert batch.optimizer.lrs == [1e-3, 3e-3] and batch.states.shape == (2, 4) and batch.gammas.shape == (2 * 64,)
    for k, agent in enumerate(batch.agents):
        for network in (batch.q_net, batch.target_net):
            for param, stacked_param in zip(agent.q_net.parameters(), network.parameters()):
                assert torch.equal(stacked_param.detach()[k].reshape(param.shape), param.detach())
    assert all(m.shape[0] == 2 for m in batch.optimizer.exp_avgs + batch.optimizer.exp_avg_sqs)


def test_train_many_refuses_agents_of_different_recipes_and_bad_input():
    with pytest.raises(ValueError, match="hidden=64 and agent 0 hidden=128"):
        train_many([DQNConfig(), DQNConfig(seed=1, hidden=64)])
    with pytest.raises(ValueError, match="non-empty list of DQNConfig"):
        train_many([])
    with pytest.raises(ValueError, match="non-empty list of DQNConfig"):
        train_many(DQNConfig())
    with pytest.raises(ValueError, match="agent 1: eps_end must be a probability"):
        train_many([DQNConfig(), DQNConfig(eps_end=1.5)])
    with pytest.raises(ValueError, match="one callable .or None. per agent: 2, got 1"):
        train_many([DQNConfig(), DQNConfig(seed=1)], on_step=[None])
    assert set(PER_AGENT_FIELDS) <= {f.name for f in dataclasses.fields(DQNConfig)}


# --- benchmarks.sweep ------------------------------------------------------------------

TINY = DQNConfig(max_env_steps=200, learning_starts=100, check_every=10**6, check_episodes=1, confirm_episodes=0,
                 stop_return=None, hidden=8)


def tiny_config(name: str, seed: int) -> DQNConfig:
    """A run of a few hundred steps; name "big" has wider layers."""
    return dataclasses.replace(TINY, seed=seed, hidden=16 if name == "big" else 8)


def tiny_row(name: str, config: DQNConfig, result, hook) -> dict:
    """The run's name, seed, steps and a hash of its weights."""
    weights = b"".join(t.numpy().tobytes() for t in result.q_net.state_dict().values())
    return {"name": name, "seed": config.seed, "env_steps": result.env_steps,
            "weights": hashlib.sha256(weights).hexdigest()}


def tiny_describe(row: dict) -> str:
    """The run's name and seed."""
    return f"{row['name']} {row['seed']}"


TINY_SWEEP = Sweep(key="name", config=tiny_config, row=tiny_row, describe=tiny_describe)


def test_a_sweep_resumes_splits_into_shards_and_merges(tmp_path):
    whole = tmp_path / "whole.jsonl"
    rows = run_sweep(TINY_SWEEP, whole, ["small", "big"], [0, 1, 2], jobs=1)
    assert sorted((r["name"], r["seed"]) for r in rows) == [(n, s) for n in ("big", "small") for s in (0, 1, 2)]
    assert run_sweep(TINY_SWEEP, whole, ["small", "big"], [0, 1, 2], jobs=1) == rows  # nothing left to train
    parts = [tmp_path / f"part{i}.jsonl" for i in (1, 2)]
    for i, part in enumerate(parts, start=1):
        run_sweep(TINY_SWEEP, part, ["small", "big"], [0, 1, 2], jobs=1, shard=(i, 2))
    assert len(load_runs(parts[0])) == 3 and len(load_runs(parts[1])) == 3
    merged = merge_parts(TINY_SWEEP, tmp_path / "merged.jsonl", parts)
    # Batched differently, the runs are the same runs.
    key = lambda row: (row["name"], row["seed"])  # noqa: E731
    assert sorted(merged, key=key) == sorted(rows, key=key)
    assert merge_parts(TINY_SWEEP, tmp_path / "merged.jsonl", parts) == merged  # nothing new


@pytest.mark.slow
def test_a_sweep_in_two_processes_writes_the_same_rows(tmp_path):
    alone = run_sweep(TINY_SWEEP, tmp_path / "one.jsonl", ["small", "big"], [0, 1], jobs=1)
    together = run_sweep(TINY_SWEEP, tmp_path / "two.jsonl", ["small", "big"], [0, 1], jobs=2)
    key = lambda row: (row["name"], row["seed"])  # noqa: E731
    assert sorted(together, key=key) == sorted(alone, key=key)


# A sweep whose two worker processes each note their pid in the folder given, then wait 5 minutes.
WAITING_SWEEP = """
import os, sys, time
from pathlib import Path
from benchmarks.sweep import run_in_processes


def note_pid_and_wait(folder, lock=None):
    (Path(folder) / f"{os.getpid()}.pid").touch()
    time.sleep(300)


if __name__ == "__main__":
    run_in_processes([(note_pid_and_wait, (sys.argv[1],))] * 2, Path(sys.argv[1]) / "rows.jsonl")
"""


def worker_pids(folder: Path) -> list[int]:
    """The pids the waiting sweep's workers noted."""
    return [int(path.stem) for path in folder.glob("*.pid")]


def running(pid: int) -> bool:
    """Whether process `pid` exists and has not ended (a zombie has ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_sweep_stopped_by_a_plain_kill_stops_its_worker_processes(tmp_path):
    script = tmp_path / "waiting_sweep.py"
    script.write_text(WAITING_SWEEP)
    sweep = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(worker_pids(tmp_path)) < 2:
            assert sweep.poll() is None and time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        sweep.terminate()  # SIGTERM, as `kill PID` sends
        assert sweep.wait(timeout=60) != 0
        deadline = time.monotonic() + 10
        while any(map(running, worker_pids(tmp_path))) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(running, worker_pids(tmp_path))), "a worker went on after its sweep was killed"
        assert "stopped by signal 15" in sweep.stderr.read().decode()
    finally:
        sweep.kill()
        for pid in filter(running, worker_pids(tmp_path)):
            os.kill(pid, 9)


def test_shards_cover_the_grid_once():
    grid = list(range(10))
    assert sorted(sum((part_of(grid, (i, 3)) for i in (1, 2, 3)), [])) == grid
    assert part_of(grid, (2, 3)) == [1, 4, 7]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2-4"):
        with pytest.raises(Exception, match="i/n"):
            parse_shard(bad)


# --- The committed comparison, seeds 300-319 -------------------------------------------

ROWS = load_runs(RESULTS)


def test_the_committed_comparison_is_complete():
    assert sorted((r["impl"], r["seed"]) for r in ROWS) == [(i, s) for i in ("many", "single") for s in COMMITTED_SEEDS]
    assert {r["agents"] for r in ROWS if r["impl"] == "many"} == {len(COMMITTED_SEEDS)}
    # Every run is the recipe as it stands: a change of its defaults (its stop, say) asks for a rerun.
    stale = [(r["impl"], r["seed"]) for r in ROWS if r["config"] != config_record(DQNConfig(seed=r["seed"]))]
    assert not stale, f"runs of another recipe than today's DQNConfig: {stale}; rerun benchmarks.many_vs_single"


def test_many_solves_as_often_as_single_runs_in_as_many_steps():
    table = summary(ROWS, COMMITTED_SEEDS)
    single = [r for r in ROWS if r["impl"] == "single"]
    many = [r for r in ROWS if r["impl"] == "many"]
    assert table["many"]["solved"] == table["single"]["solved"] == sum(r["eval_mean"] >= REWARD_THRESHOLD
                                                                       for r in single)
    low, high = bootstrap_ci([r["env_steps"] for r in single], statistic=np.median)
    assert low <= np.median([r["env_steps"] for r in many]) <= high
    # Stronger than the statistics: every seed gave the very same run both ways.
    assert table["same_weights"] == COMMITTED_SEEDS


@pytest.mark.slow
def test_a_committed_run_begins_in_a_batch_of_its_own_as_it_began():
    committed = min((r for r in ROWS if r["impl"] == "many"), key=lambda r: r["env_steps"])
    (fresh,) = train_many([DQNConfig(seed=committed["seed"], max_env_steps=3_000)])
    checks = len(fresh.check_steps)
    assert checks >= 2
    assert (fresh.check_steps, fresh.check_returns) == (committed["check_steps"][:checks],
                                                        committed["check_returns"][:checks])


@pytest.mark.reproduce
def test_a_committed_run_is_reproduced_in_a_batch_of_its_own():
    committed = min((r for r in ROWS if r["impl"] == "many"), key=lambda r: r["env_steps"])
    config = DQNConfig(**committed["config"])  # the recipe as it ran then (its stop had 100 confirmation episodes)
    fresh = run_row("many", config, train_many([config])[0], agents=committed["agents"])
    assert {k: v for k, v in fresh.items() if k != "wall_s"} == {k: v for k, v in committed.items() if k != "wall_s"}
