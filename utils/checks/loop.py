"""Check for notebook 5's exercise 5.4, the training loop (probe and judge, see protocol).

The probe runs the student's `train_dqn` on a scripted stand-in for CartPole three times: with
plain TD targets, with double DQN and soft updates, and with an `on_episode_end` that asks to
stop. Recording wrappers replace the building blocks the loop calls by name
(`epsilon_greedy_action`, `optimize_step`, `update_target`) and a recording replay memory is
passed in; they note every step's ε, state and action, every transition pushed, when each update
came with its batch, its targets and both networks' weights at that moment, and when and how the
target was updated. The judge rebuilds the scripted episodes, recomputes the reference targets
(TD or double DQN) from the recorded weights and batches in its own process, and names the mistake.
"""
import contextlib
import copy
import inspect

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from utils import dqn
from utils.checks.core import NUMBERS, TENSOR_TYPES, Mistake, expect, name_the_mistake, plain_number, plain_values
from utils.checks.envs import Witness, old_api_crash, reset_pair_check
from utils.checks.protocol import Check, CheckError, crash_text
from utils.checks.wire import Opaque, describe
from utils.networks import QNetwork
from utils.policies import epsilon_schedule
from utils.replay import Batch, ReplayMemory

TIME_LIMIT = 9
EPISODE_LENGTHS = (5, 9, 3, 7, 9, 4)  # 9 = TIME_LIMIT: those episodes are truncated, the rest terminate
LOOP_FIELDS = {"max_env_steps": 120, "learning_starts": 20, "batch_size": 8, "train_every": 2, "gamma": 0.9,
               "loss": "mse", "double_dqn": False, "target_update_every": 10, "tau": 1.0, "eps_start": 1.0,
               "eps_end": 0.1, "eps_decay_steps": 50, "hidden": 8, "max_grad_norm": 5.0, "lr": 2e-3}
SECOND_FIELDS = {"max_env_steps": 60, "double_dqn": True, "tau": 0.5, "lr": 0.05}
"""What the second run changes: double DQN and soft target updates."""
STOP_AT = 3
SPIED = ("epsilon_greedy_action", "optimize_step", "update_target")
MAX_UPDATES_RECORDED = 400  # a loop that updates far more often than it should is wrong long before this
STEP_GUARD = 3  # a loop that runs past STEP_GUARD * max_env_steps steps is stopped


# --- the inputs: scripted episodes and loop configs --------------------------------------------

def loop_inputs(rng) -> dict:
    """The notebook's episodes and configs, or fresh ones on which every named mistake does something else."""
    if rng is None:
        return {"lengths": list(EPISODE_LENGTHS), "time_limit": TIME_LIMIT, "config": dict(LOOP_FIELDS),
                "second": dict(SECOND_FIELDS), "stop_at": STOP_AT, "net_seed": 9, "rng_seed": 0}
    for _ in range(1000):  # a few draws at most
        inputs = _fresh_loop_inputs(rng)
        if _loop_separates(inputs):
            break
    return inputs


def _fresh_loop_inputs(rng) -> dict:
    """Random episode lengths (two truncated by the time limit) and loop configs."""
    time_limit = int(rng.integers(7, 12))
    lengths = rng.permutation([time_limit, time_limit, *rng.integers(3, time_limit, size=4)]).tolist()
    train_every, batch_size = int(rng.choice([2, 3])), int(rng.integers(4, 11))
    learning_starts = train_every * int(rng.integers(-(-batch_size // train_every), 30 // train_every + 1))
    loss = str(rng.choice(["mse", "huber"]))
    norm = float(rng.choice([1.0, 5.0])) if rng.random() < 0.5 else None  # the other run has the other one
    config = {"max_env_steps": int(rng.integers(100, 141)), "learning_starts": learning_starts,
              "batch_size": batch_size, "train_every": train_every, "gamma": float(rng.choice([0.8, 0.85, 0.95])),
              "loss": loss, "double_dqn": False, "target_update_every": int(rng.integers(6, 16)),
              "tau": float(rng.choice([1.0, 0.7, 0.8])), "eps_start": float(rng.choice([1.0, 0.9])),
              "eps_end": float(rng.choice([0.05, 0.1, 0.2])), "eps_decay_steps": int(rng.integers(30, 90)),
              "hidden": int(rng.choice([6, 8, 10])), "max_grad_norm": norm, "lr": float(rng.choice([2e-3, 5e-3]))}
    second = {"max_env_steps": learning_starts + int(rng.integers(40, 70)), "double_dqn": True,
              "tau": float(rng.choice([0.3, 0.4, 0.6])), "lr": 0.05, "loss": "huber" if loss == "mse" else "mse",
              "max_grad_norm": 5.0 if norm is None else None}
    return {"lengths": [int(n) for n in lengths], "time_limit": time_limit, "config": config, "second": second,
            "stop_at": int(rng.integers(2, 5)), "net_seed": int(rng.integers(2**31)),
            "rng_seed": int(rng.integers(2**31))}


def _loop_separates(inputs: dict) -> bool:
    """Every named mistake gives other ε values, update steps, target-update steps or returns than the right loop."""
    config = dqn.DQNConfig(**inputs["config"])
    episodes = Episodes(inputs, config.max_env_steps)
    updates = expected_updates(config, episodes.steps)
    copies = expected_target_updates(config, episodes.steps)
    families = [  # per kind of outcome: the right one, then every way of writing each slip
        [[expected_epsilons(config, episodes.steps)], *[[v] for v in epsilon_slips(config, episodes).values()]],
        [[updates], *[[v] for v in update_slips(config, episodes).values()]],
        [[copies], *target_update_slips(config, episodes, updates).values()],
        [[episodes.lengths()], *[[v] for v in return_slips(episodes).values()]],
    ]
    distinct = all(not _equal(a, b) for family in families for i, ways in enumerate(family)
                   for other in family[:i] for a in ways for b in other)
    return distinct and (config.tau < 1 or _drifts(updates, copies)) and len(episodes.ends) > inputs["stop_at"]


def _drifts(updates: list, copies: list) -> bool:
    """Does some update come after another one since the last hard copy (so that q_net and target_net differ)?

    The copy of step n comes after that step's update, so it holds it.
    """
    for later in updates:
        last_copy = max((copy for copy in copies if copy < later), default=0)
        if any(last_copy < update < later for update in updates):
            return True
    return False


def _equal(a: list, b: list) -> bool:
    """Two lists of numbers equal (floats up to rounding)."""
    return len(a) == len(b) and np.allclose(np.array(a, dtype=float), np.array(b, dtype=float), atol=1e-6)


# --- the probe's instrumentation -----------------------------------------------------------

class ScriptedEnv:
    """A stand-in CartPole with scripted episode lengths; states encode (episode, step); it records everything."""

    def __init__(self, lengths, time_limit: int, witness: Witness = None, step_limit: int = None):
        """No episode has started yet."""
        self.lengths, self.time_limit, self.step_limit = list(lengths), time_limit, step_limit
        self.witness = witness or Witness()
        self.episode, self.t, self.done, self.seeded_resets = -1, 0, True, 0
        self.steps, self.actions, self.flags, self.observations, self.ends = 0, [], [], [], []
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(4,), dtype=np.float32)

    def state(self) -> np.ndarray:
        """The observation: (episode, step in episode, small values) so every state is unique."""
        return np.array([self.episode % 7, self.t / 10, 0.01 * self.t, -0.02 * self.t], dtype=np.float32)

    def reset(self, seed=None, options=None):
        """Start the next scripted episode; a seed passed again in a later episode's reset is refused."""
        self.seeded_resets += seed is not None
        if self.seeded_resets > 1:
            self.witness.refuse("your loop passed a seed to env.reset() again at the start of a later episode: on a "
                                "real env every episode then starts from the same state, and the agent learns from "
                                "one start state only. Hint: call env.reset() without a seed (make_env seeded the "
                                "env already); a seed belongs at most in the very first reset.")
        self.episode, self.t, self.done = self.episode + 1, 0, False
        return self.state(), {}

    def step(self, action):
        """One step: reward 1; ends by termination, or by truncation at the time limit."""
        if self.done:
            ended = "truncated" if self.flags and self.flags[-1][1] else "terminated"
            self.witness.refuse(f"your loop stepped an episode that had already ended ({ended}). Hint: after "
                                "`terminated or truncated`, record the episode and call env.reset().")
        if self.step_limit is not None and self.steps >= self.step_limit:
            self.witness.refuse(f"your loop went on past {self.steps} environment steps. Hint: count every env.step "
                                "across episodes and stop when the count reaches config.max_env_steps.")
        action = self.witness.number(action, "your loop passed env.step", "a Python int",
                                     "epsilon_greedy_action returns an int: pass it as it is.", types=(int, np.integer))
        self.steps += 1
        self.t += 1
        length = self.lengths[self.episode % len(self.lengths)]
        terminated = self.t == length and length < self.time_limit
        truncated = self.t == self.time_limit
        self.done = terminated or truncated
        self.actions.append(action)
        self.flags.append((terminated, truncated))
        self.observations.append(self.state())
        if self.done:
            self.ends.append(self.steps)
        return self.state(), 1.0, terminated, truncated, {}


class RecordingMemory(ReplayMemory):
    """A replay memory that remembers every push and the size of every sample."""

    def __init__(self, capacity: int, witness: Witness, obs_dim: int = 4):
        """An empty memory with empty records."""
        super().__init__(capacity, obs_dim)
        self.witness, self.pushed, self.sampled = witness, [], []

    def push(self, state, action, reward, next_state, terminated):
        """Record the transition (its numbers checked to be plain ones: they are compared later), then store it."""
        self.witness.check(reset_pair_check, state, "your loop pushed as the state")
        action = self.witness.number(action, "your loop pushed as the action", "a Python int",
                                     "epsilon_greedy_action returns an int: pass it as it is.", types=(int, np.integer))
        reward = self.witness.number(reward, "your loop pushed as the reward", "a number",
                                     "push the reward env.step returned.")
        terminated = self.witness.number(terminated, "your loop pushed as terminated", "a bool",
                                         "push the terminated flag env.step returned.",
                                         types=(bool, np.bool_, *NUMBERS))
        self.pushed.append([np.array(state, dtype=np.float32), action, reward, np.array(next_state, dtype=np.float32),
                            terminated])
        super().push(state, action, reward, next_state, terminated)

    def sample(self, batch_size):
        """Record the batch size, then sample."""
        batch_size = self.witness.number(batch_size, "your loop passed memory.sample a batch size that is", "an int",
                                         "memory.sample(config.batch_size).", types=(int, np.integer))
        self.sampled.append(batch_size)
        if batch_size > len(self):
            self.witness.refuse(f"the loop asked memory.sample for {batch_size!r} transitions when it had pushed "
                                f"{len(self.pushed)} transitions. Hint: push every transition, and learn only after "
                                "config.learning_starts steps (it is at least batch_size).")
        return super().sample(batch_size)


class EpisodeEndSpy:
    """A stand-in for the course's greedy checks: records each call, asks to stop at call `stop_at`."""

    def __init__(self, run, stop_at: int):
        """No call recorded yet."""
        self.run, self.stop_at, self.calls = run, stop_at, []

    def __call__(self, *args, **kwargs):
        """Record (env steps so far, arguments); True on the `stop_at`-th call."""
        self.calls.append({"step": self.run.env.steps, "positional": len(args), "keywords": sorted(kwargs),
                           "values": list(args[:3]), "net": describe(args[3]) if len(args) > 3 else "",
                           "is q_net": len(args) > 3 and args[3] is self.run.q_net})
        return len(self.calls) == self.stop_at


def snapshot(value):
    """A copy of a plain tensor as it is now (requires_grad kept); anything else as it is (it travels as what it is)."""
    if type(value) not in TENSOR_TYPES:
        return value
    copied = value.detach().clone()
    return copied.requires_grad_(value.requires_grad) if copied.is_floating_point() else copied


def bound_arguments(function, args: tuple, kwargs: dict) -> list:
    """The arguments of a call to `function`, defaults filled in, in the order of its parameters.

    A call that does not fit raises the TypeError calling `function` itself would, naming it
    and its parameters (not the spy that stands in for it).
    """
    signature = inspect.signature(function)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        plain = signature.replace(parameters=[parameter.replace(annotation=inspect.Parameter.empty)
                                              for parameter in signature.parameters.values()],
                                  return_annotation=inspect.Signature.empty)
        raise TypeError(f"{function.__name__}{plain}: {error}") from None
    bound.apply_defaults()
    return list(bound.arguments.values())


class LoopRun:
    """One run of the student's loop on the scripted env: the parts it gets, and spies that record what it does."""

    def __init__(self, inputs: dict, fields: dict, stop_at: int = None):
        """Fresh networks, optimiser, recording memory, scripted env and rng, from `inputs` and config `fields`."""
        self.config = dqn.DQNConfig(**fields)
        self.witness = Witness()
        self.env = ScriptedEnv(inputs["lengths"], inputs["time_limit"], self.witness,
                               step_limit=STEP_GUARD * self.config.max_env_steps)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(inputs["net_seed"])
            self.q_net = QNetwork(hidden=self.config.hidden)
        self.target_net = copy.deepcopy(self.q_net)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=self.config.lr)
        self.memory = RecordingMemory(self.config.buffer_capacity, self.witness)
        self.rng = np.random.default_rng(inputs["rng_seed"])
        self.hook = EpisodeEndSpy(self, stop_at) if stop_at else None
        self.acts, self.updates, self.target_updates, self.update_count = [], [], [], 0

    def arguments(self) -> tuple:
        """What train_dqn is called with (on_episode_end aside)."""
        return self.env, self.config, self.q_net, self.target_net, self.optimizer, self.memory, self.rng

    def epsilon_greedy_action(self, original):
        """Record ε, the state, the generator and the action of each choice."""
        def spy(*args, **kwargs):
            q_net, state, epsilon, rng = bound_arguments(original, args, kwargs)[:4]
            epsilon = self.witness.number(epsilon, "your loop passed epsilon_greedy_action an epsilon that is",
                                          "a number (a float)")
            self.witness.check(reset_pair_check, state, "your loop passed epsilon_greedy_action")
            act = {"step": self.env.steps, "epsilon": epsilon, "state": np.array(state, dtype=np.float32),
                   "rng": rng is self.rng, "action": None}
            self.acts.append(act)
            action = original(q_net, state, epsilon, rng)
            act["action"] = self.witness.number(action, "epsilon_greedy_action returned", "a Python int",
                                                "return an int.", types=(int, np.integer))
            return action
        return spy

    def optimize_step(self, original):
        """Record when each update comes, what it gets, and both networks' weights at that moment."""
        def spy(*args, **kwargs):
            self.update_count += 1
            if len(self.updates) < MAX_UPDATES_RECORDED:
                self.updates.append(self.update_record(bound_arguments(original, args, kwargs) + [None] * 6))
            return original(*args, **kwargs)
        return spy

    def update_record(self, arguments: list) -> dict:
        """One update as plain data; `arguments` are q_net, optimizer, batch, targets, loss_kind, max_grad_norm."""
        q_net, optimizer, batch, targets, loss_kind, max_grad_norm = arguments[:6]
        record = {"step": self.env.steps, "q_net": q_net is self.q_net, "optimizer": optimizer is self.optimizer,
                  "loss_kind": loss_kind, "max_grad_norm": max_grad_norm, "batch": isinstance(batch, Batch),
                  "targets": snapshot(targets), "q weights": [snapshot(p) for p in self.q_net.parameters()],
                  "target weights": [snapshot(p) for p in self.target_net.parameters()]}
        if record["batch"]:
            record.update({name: snapshot(getattr(batch, name)) for name in Batch._fields})
        return record

    def update_target(self, original):
        """Record when the target is updated, with which networks and τ."""
        def spy(*args, **kwargs):
            target_net, q_net, tau = (bound_arguments(original, args, kwargs) + [None] * 3)[:3]
            tau = self.witness.number(tau, "your loop passed update_target a tau that is", "a float",
                                      "pass config.tau.")
            self.target_updates.append([self.env.steps, target_net is self.target_net, q_net is self.q_net, tau])
            return original(*args, **kwargs)
        return spy

    @contextlib.contextmanager
    def spying(self, function):
        """Replace the building blocks in the notebook namespace of `function` by this run's recording wrappers."""
        namespace = function.__globals__
        saved = {name: namespace[name] for name in SPIED}
        for name in SPIED:
            namespace[name] = getattr(self, name)(saved[name])
        try:
            yield
        finally:
            namespace.update(saved)

    def record(self) -> dict:
        """Everything the judge reads about this run."""
        memory = self.memory
        return {"steps": self.env.steps, "actions": self.env.actions, "witnessed": self.witness.seen,
                "acts": self.acts, "pushes": memory.pushed, "samples": memory.sampled, "updates": self.updates,
                "update count": self.update_count, "target updates": self.target_updates,
                "target grads": [snapshot(p.grad) for p in self.target_net.parameters()],
                "hook calls": self.hook.calls if self.hook else []}


def missing_names(function) -> list:
    """The building blocks the loop calls by name that its notebook namespace lacks."""
    namespace = getattr(function, "__globals__", {})
    return [name for name in SPIED if not callable(namespace.get(name))]


def probe_loop(rec, inputs: dict, train_dqn) -> None:
    """Run the loop three times (plain targets, double DQN with soft updates, a hook that stops) and record each run."""
    missing = missing_names(train_dqn)
    if missing:  # a stub still says it is not done; anything else cannot be watched
        rec.note("missing", missing)
        rec.call("unspied", train_dqn, *LoopRun(inputs, inputs["config"]).arguments(), expect_error=True)
        return
    for key, fields in (("main", inputs["config"]), ("second", {**inputs["config"], **inputs["second"]})):
        run = LoopRun(inputs, fields)
        with run.spying(train_dqn), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            rec.call(f"{key} returns", train_dqn, *run.arguments(), expect_error=True)
        rec.note(key, run.record())
        if rec.entries[f"{key} returns"].get("raised") or run.witness.seen:
            return
    run = LoopRun(inputs, inputs["config"], stop_at=inputs["stop_at"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        rec.call("hook returns", train_dqn, *run.arguments(), on_episode_end=run.hook, expect_error=True)
    rec.note("hook", run.record())


# --- the judge -----------------------------------------------------------------------------

class Episodes:
    """The scripted episodes of `steps` env steps, rebuilt by the judge: flags, observations, ends, states before."""

    def __init__(self, inputs: dict, steps: int):
        """Play the scripted env for `steps` steps, resetting at each episode's end."""
        env = ScriptedEnv(inputs["lengths"], inputs["time_limit"])
        state, _ = env.reset()
        self.states = []
        for _ in range(steps):
            self.states.append(state)
            state, _, terminated, truncated, _ = env.step(0)
            if terminated or truncated:
                state, _ = env.reset()
        self.steps, self.flags, self.observations, self.ends = steps, env.flags, env.observations, env.ends
        self.starts = [0] + [end for end in self.ends if end < steps]

    def lengths(self) -> list:
        """The finished episodes' lengths, which are their returns."""
        return [float(n) for n in np.diff([0] + self.ends)]


def judge_loop(results, inputs: dict) -> None:
    """Steps, ε, what was stored, updates and their targets, target updates, returns, double DQN, the episode hook."""
    if results.has("missing"):
        crash = results.raised("unspied")
        if crash and crash.get("not_done"):
            results.value("unspied")
        raise Mistake(f"the check cannot find {', '.join(map(str, results.value('missing')))} in your notebook. "
                      "Hint: run the cells of exercises 5.2 and 5.3 and the import cell first; the loop calls the "
                      "building blocks by these names.")
    config = dqn.DQNConfig(**inputs["config"])
    main = _run_record(results.value("main"))
    if results.raised("main returns"):  # a crash inside optimize_step may come from the arguments the loop gave it
        _check_step_arguments(main, config)
    returns = _outcome(results, "main returns", main)
    n = config.max_env_steps
    expect(main["steps"] == n, f"the loop took {main['steps']} environment steps; expected config.max_env_steps = "
           f"{n}.", "count every env.step across episodes and stop when the count reaches config.max_env_steps.")
    episodes = Episodes(inputs, n)
    _check_actions(main, episodes)
    _check_epsilons(main, episodes, config)
    _check_stored(main, episodes)
    _check_own_target(main)
    _check_updates(main, episodes, config)
    _check_target_updates(main, episodes, config)
    expect(all(g is None or (type(g) in TENSOR_TYPES and not g.any()) for g in main["target grads"]),
           "target_net's parameters received gradients.", "compute the targets without gradient (td_targets).")
    _check_returns(returns, episodes)
    _check_double_and_soft(results, dqn.DQNConfig(**{**inputs["config"], **inputs["second"]}))
    _check_episode_end_hook(results, inputs, config)


ANY = object  # a recorded value the student's code chose: checked where it is read
NUMBER = (int, float)  # what the instrumentation records after plain_number
RUN_SHAPE = {"steps": int, "actions": [int], "witnessed": [str], "samples": [int], "update count": int,
             "acts": [{"step": int, "epsilon": NUMBER, "state": np.ndarray, "rng": bool, "action": (int, type(None))}],
             "pushes": [(np.ndarray, int, NUMBER, np.ndarray, (bool, *NUMBER))], "target grads": [ANY],
             "target updates": [(int, bool, bool, NUMBER)],
             "updates": [{"step": int, "q_net": bool, "optimizer": bool, "batch": bool, "loss_kind": ANY,
                          "max_grad_norm": ANY, "targets": ANY, "q weights": [ANY], "target weights": [ANY]}],
             "hook calls": [{"step": int, "positional": int, "keywords": [str], "values": [ANY], "net": str,
                             "is q_net": bool}]}


def _shaped(value, shape) -> bool:
    """Does `value` have `shape`?

    A shape is ANY, a type, a tuple of types (any of them), [the shape of every element], {key: shape}
    for a dict with those keys, or (shape, shape, ...) of a fixed-length list, one shape per element
    (a tuple of shapes rather than of types).
    """
    if shape is ANY:
        return True
    if type(shape) is list:
        return type(value) is list and all(_shaped(item, shape[0]) for item in value)
    if type(shape) is dict:
        return type(value) is dict and all(key in value and _shaped(value[key], s) for key, s in shape.items())
    if type(shape) is tuple and not all(type(s) is type for s in shape):
        return type(value) is list and len(value) == len(shape) and all(map(_shaped, value, shape))
    return type(value) in (shape if type(shape) is tuple else (shape,))


def _run_record(value) -> dict:
    """A run's record, checked to be shaped as the probe writes it (CheckError if not)."""
    if not _shaped(value, RUN_SHAPE):
        raise CheckError("the check's probe recorded a run that is not shaped as the probe writes it")
    return value


def _outcome(results, key: str, run: dict):
    """What the run returned; a Mistake for what the instrumentation saw or the loop raised (the old gym API named)."""
    if run["witnessed"]:
        raise Mistake(str(run["witnessed"][0]))
    crash = results.raised(key)
    if crash and not crash.get("not_done") and not crash.get("mistake"):
        old_api = old_api_crash(crash, after_reset_only=not run["actions"])
        expect(not old_api, old_api)
        message = str(crash.get("message"))
        called_tensor = crash.get("type") == "TypeError" and "'Tensor' object is not callable" in message
        expect(not (called_tensor and "target_net(" in str(crash.get("where"))), f"your code raised "
               f"{crash_text(crash)}: a tensor reached the target_net parameter, so the loop passes td_targets (or "
               "double_dqn_targets) its arguments in another order.", "td_targets(batch.rewards, batch.next_states, "
               "batch.terminated, target_net, config.gamma), in the order of its parameters.")
    return results.value(key)


def _check_actions(run: dict, episodes: Episodes) -> None:
    """One ε-greedy call per step, on the current state, with the rng given, its action sent to the env."""
    acts, steps = run["acts"], run["steps"]
    expect(len(acts) == steps, f"epsilon_greedy_action was called {len(acts)} times in {steps} steps; expected once "
           "per step.", "choose every action with epsilon_greedy_action(q_net, state, epsilon, rng).")
    expect(all(act["rng"] for act in acts), "epsilon_greedy_action got another generator than the rng argument.",
           "pass the loop's rng argument: then one seed reproduces the run.")
    expect(run["actions"] == [act["action"] for act in acts],
           "the actions sent to env.step are not the ones epsilon_greedy_action chose.",
           "action = epsilon_greedy_action(...); then env.step(action).")
    stale = next((k for k, (act, state) in enumerate(zip(acts, episodes.states)) if not _same_state(act["state"], state)),
                 None)
    if stale is not None and stale in episodes.starts and _same_state(acts[stale]["state"],
                                                                      episodes.observations[stale - 1]):
        raise Mistake(f"at step {stale}, the first of a new episode, the action was chosen for the last state of the "
                      "episode before: the state env.reset() returned was not used. Hint: state, _ = env.reset() "
                      "when an episode ends.")
    expect(stale is None, f"at step {stale} the action was chosen for a state that is not the current one.",
           "after each step set state = next_state, and state = env.reset()[0] when an episode ends.")


def expected_epsilons(config, steps: int) -> list:
    """ε of step k (k = steps taken before): epsilon_schedule(k) on the global step clock."""
    return [_epsilon(config, k) for k in range(steps)]


def _epsilon(config, step: int) -> float:
    """The config's ε after `step` global steps."""
    return epsilon_schedule(step, config.eps_start, config.eps_end, config.eps_decay_steps)


def epsilon_slips(config, episodes: Episodes) -> dict:
    """The ε values each typical slip uses at every step, keyed by its message."""
    steps, starts = episodes.steps, episodes.starts
    start_of = [max(s for s in starts if s <= k) for k in range(steps)]
    episode_of = [sum(1 for s in starts[1:] if s <= k) for k in range(steps)]
    return {
        "ε never decays. Hint: epsilon = epsilon_schedule(step, config.eps_start, config.eps_end, "
        "config.eps_decay_steps) with the global step.": [config.eps_start] * steps,
        "ε stays at eps_end from the start: no exploration at all. Hint: start at config.eps_start and decay "
        "with the global step.": [config.eps_end] * steps,
        "ε restarts with every episode: it runs on the step within the episode. Hint: keep one global step "
        "counter across episodes.": [_epsilon(config, k - start_of[k]) for k in range(steps)],
        "ε runs on the seed's fake clock i_episode * 500 + t, which jumps 500 steps per episode (see the pitfall "
        "box). Hint: count the environment steps actually taken.":
            [_epsilon(config, 500 * episode_of[k] + k - start_of[k]) for k in range(steps)],
        "ε is computed once per episode. Hint: compute it before every action.":
            [_epsilon(config, start_of[k]) for k in range(steps)],
        "ε runs on the episode index, so it decays once per episode instead of once per step. Hint: "
        "epsilon_schedule(n - 1, ...) with n the global count of environment steps.":
            [_epsilon(config, episode_of[k]) for k in range(steps)],
        "ε runs one step ahead: the first action used epsilon_schedule(1). Hint: the step passed is the number of "
        "steps taken before this one, 0 for the first.": [_epsilon(config, k + 1) for k in range(steps)],
    }


def _check_epsilons(run: dict, episodes: Episodes, config) -> None:
    """ε of step k must be epsilon_schedule(k) on the global step clock (k = steps taken before)."""
    got = [float(act["epsilon"]) for act in run["acts"]]
    expected = expected_epsilons(config, episodes.steps)
    if _equal(got, expected):
        return
    name_the_mistake(lambda value: _equal(got, value), epsilon_slips(config, episodes),
                     f"the ε values used were {_round(got[:8])}...; expected epsilon_schedule(step, ...) at steps 0, "
                     f"1, 2, ...: {_round(expected[:8])}.... Hint: epsilon = epsilon_schedule(n - 1, config.eps_start, "
                     "config.eps_end, config.eps_decay_steps) before each action, with n the env step counted across "
                     "episodes (a linear schedule, not ε multiplied by a factor).",
                     returned=f"the ε values used were {_round(got[:6])}..., expected {_round(expected[:6])}...: ")


def _check_stored(run: dict, episodes: Episodes) -> None:
    """One push per step, holding (state, action, reward, next_state, terminated) as the env gave them."""
    pushes, steps = run["pushes"], run["steps"]
    expect(len(pushes) == steps, f"the loop pushed {len(pushes)} transitions into the memory it was given in {steps} "
           "steps; expected one per step.", "memory.push(state, action, reward, next_state, terminated) after every "
           "env.step, into the memory argument (not a ReplayMemory the loop makes itself).")
    for k, (state, action, reward, next_state, terminated) in enumerate(pushes):
        flag, cut = episodes.flags[k]
        if bool(terminated) != flag:
            expect(not cut, f"step {k + 1} was truncated at the time limit and the loop stored terminated=True: "
                   "truncation treated as termination, so the target would not bootstrap from a state that still "
                   "has a future.", "store `terminated`, not `terminated or truncated`; end the episode on either.")
            raise Mistake(f"step {k + 1} terminated but the loop stored terminated={terminated!r}. Hint: store the "
                          "`terminated` flag env.step returned.")
        expect(action == run["actions"][k], f"transition {k + 1} stored action {action!r}; the env got "
               f"{run['actions'][k]}.", "store the action you passed to env.step.")
        expect(reward == 1.0, f"transition {k + 1} stored reward {reward!r}; the env gave 1.0.",
               "store the reward env.step returned.")
        expect(_same_state(next_state, episodes.observations[k]), f"transition {k + 1} stored a next_state that is "
               "not the observation env.step returned" + (" (the reset state of the next episode?)" if flag or cut
                                                          else "") + ".",
               "push next_state = what env.step returned, before resetting.")
        expect(_same_state(state, episodes.states[k]), f"transition {k + 1} stored a state that is not the one the "
               "action was taken in.", "push the state before env.step, then move on: state = next_state.")


def _same_state(got, expected: np.ndarray) -> bool:
    """A recorded state array equal to `expected` (4 values)."""
    return type(got) is np.ndarray and got.size == 4 and np.allclose(got.reshape(4), expected)


def expected_updates(config, steps: int) -> list:
    """The env steps after which optimize_step runs: n >= learning_starts and n % train_every == 0."""
    return [n for n in range(1, steps + 1) if n >= config.learning_starts and n % config.train_every == 0]


def update_slips(config, episodes: Episodes) -> dict:
    """The update steps of each typical slip, keyed by its message."""
    steps, starts, every = episodes.steps, config.learning_starts, config.train_every
    return {
        "optimize_step was never called. Hint: after learning_starts steps, one optimize_step every "
        "train_every steps.": [],
        "the loop learns once per episode, at its end. Hint: the update belongs inside the step loop.":
            [n for n in episodes.ends if n >= starts],
        "it updates every step, ignoring config.train_every. Hint: update when step % config.train_every == 0.":
            [n for n in range(1, steps + 1) if n >= starts],
        "it starts learning before config.learning_starts steps. Hint: first collect learning_starts steps.":
            [n for n in range(1, steps + 1) if n % every == 0 and n >= config.batch_size],
        "learning starts one update late: `step > learning_starts` instead of `>=`. Hint: the first update comes "
        "after step learning_starts.": [n for n in range(1, steps + 1) if n > starts and n % every == 0],
        "the step count starts at 0 (for step in range(max_env_steps)), so every update comes one env step early. "
        "Hint: count env steps from 1: n = step + 1 after the step is taken.":
            [n for n in range(1, steps + 1) if n - 1 >= starts and (n - 1) % every == 0],
    }


def _check_updates(run: dict, episodes: Episodes, config) -> None:
    """Updates after step n where n >= learning_starts and n % train_every == 0, each on a fresh batch."""
    got = [update["step"] for update in run["updates"]]
    expected = expected_updates(config, episodes.steps)
    if got != expected or run["update count"] != len(got):
        wrong = update_slips(config, episodes)
        if got and got[0] < config.learning_starts and got == [n for n in range(got[0], episodes.steps + 1)
                                                               if n % config.train_every == 0]:
            wrong = {words: got if "before config.learning_starts" in words else value
                     for words, value in wrong.items()}
        name_the_mistake(lambda value: got == value, wrong, f"optimize_step was called after steps {got[:6]}...; "
                         f"expected after steps {expected[:6]}... (step n counts env steps from 1; update when n >= "
                         "learning_starts and n % train_every == 0).",
                         returned=f"optimize_step was called after steps {got[:6]}..., expected {expected[:6]}...: ")
    expect(run["samples"] != [config.batch_size] * 2 * len(expected), f"memory.sample was called "
           f"{len(run['samples'])} times for {len(expected)} updates, twice per update.", "sample one batch per "
           "update and use it both for the targets and for optimize_step: batch = memory.sample(config.batch_size).")
    expect(run["samples"] == [config.batch_size] * len(expected), f"memory.sample was asked for "
           f"{run['samples'][:4]}... transitions; expected {config.batch_size} per update (config.batch_size).",
           "batch = memory.sample(config.batch_size), a fresh batch for every update.")
    expect(all(update["q_net"] and update["optimizer"] for update in run["updates"]),
           "optimize_step got another network or optimiser than the loop's q_net and optimizer arguments.",
           "optimize_step(q_net, optimizer, batch, targets, ...).")
    _check_step_arguments(run, config)
    _check_targets(run, config)


def _check_own_target(run: dict) -> None:
    """update_target must move the target_net argument: a loop with a target network of its own trains on another."""
    expect(not any(q_right and not target_right for _, target_right, q_right, _ in run["target updates"]),
           "update_target was given a target network other than the loop's target_net argument (with q_net as the "
           "online network): the loop made a target network of its own (target_net = copy.deepcopy(q_net)?), so its "
           "targets do not come from the target_net that train() built and passed in.",
           "use the target_net parameter as it is, for the targets and in update_target(target_net, q_net, "
           "config.tau).")


def _check_step_arguments(run: dict, config) -> None:
    """optimize_step gets the config's loss_kind and max_grad_norm (plain ones: a subclass could say == to anything)."""
    for update in run["updates"]:
        kind, norm = update["loss_kind"], update["max_grad_norm"]
        right_norm = norm is None if config.max_grad_norm is None else (type(norm) in (int, float)
                                                                         and norm == config.max_grad_norm)
        expect(type(kind) is str and kind == config.loss and right_norm,
               f"optimize_step got loss_kind={_shown(kind)}, max_grad_norm={_shown(norm)}; the config says "
               f"{config.loss!r} and {config.max_grad_norm!r}.",
               "pass loss_kind=config.loss and max_grad_norm=config.max_grad_norm.")


def _shown(value) -> str:
    """A recorded value as a message shows it."""
    return repr(value) if type(value) is not Opaque else describe(value)


def _check_targets(run: dict, config, hint: str = "") -> None:
    """The targets of every update must be the TD (or double-DQN) targets of its batch, with the weights of that moment.

    A wrong version is named when it explains every update whose targets are wrong: two versions can
    agree on one batch (double DQN with the roles swapped and plain targets from q_net do, when both
    networks pick the same actions) but not on all of them.
    """
    nets = (QNetwork(hidden=config.hidden), QNetwork(hidden=config.hidden))
    hint = hint or ("targets = td_targets(batch.rewards, batch.next_states, batch.terminated, target_net, "
                    "config.gamma) when config.double_dqn is False.")
    explained = []
    for update in run["updates"]:
        names = _targets_problem(update, nets, config)
        if names:
            explained = [name for name in explained if name in names] or names
        if len(explained) == 1:  # one description left (the generic one, or what is wrong with the arguments)
            break
    expect(not explained, (explained or [""])[0] + ".", hint)


def _targets_problem(update: dict, nets: tuple, config) -> list:
    """[] if the targets are the right ones for the update's batch and weights; else the names of what they are.

    The last name is the generic description; a Mistake for targets that are not plain tensors.
    """
    if not update["batch"]:
        return ["optimize_step did not get a Batch from memory.sample and a targets tensor"]
    given = [(name, update[name]) for name in Batch._fields] + [("targets", update["targets"])]
    odd = next((f"optimize_step got {name} that are {describe(value)}, not a plain tensor" for name, value in given
                if type(value) not in TENSOR_TYPES), "")
    if odd:
        return [odd]
    q_net, target_net = nets
    _load(target_net, update["target weights"], "during the loop target_net")
    _load(q_net, update["q weights"], "during the loop q_net")
    targets = update["targets"]
    if targets.requires_grad:
        return ["the targets passed to optimize_step require grad (gradients would flow into the target network)"]
    generic = (f"the targets passed to optimize_step are not the {'double-DQN' if config.double_dqn else 'TD'} "
               "targets of the batch (with target_net and config.gamma)"
               + ("" if config.double_dqn else "; the loop uses your td_targets: if exercise 5.1 fails, fix it first"))
    try:
        versions = _target_versions(update, q_net, target_net, config)
    except RuntimeError:  # tensors of the wrong shapes or dtypes: the batch did not come from memory.sample
        return ["optimize_step did not get a Batch from memory.sample and a targets tensor"]
    if _close(targets, versions.pop("")):
        return []
    return [words for words, value in versions.items() if value is not None and _close(targets, value)] + [generic]


def _target_versions(update: dict, q_net, target_net, config) -> dict:
    """The right targets of an update (under '') and those of each typical slip, keyed by its description."""
    rewards, states, next_states, terminated = (update[k] for k in ("rewards", "states", "next_states", "terminated"))
    double, gamma = config.double_dqn, config.gamma

    def right(next_states=next_states, gamma=gamma, terminated=terminated):
        if double:
            return dqn.double_dqn_targets(rewards, next_states, terminated, q_net, target_net, gamma)
        return dqn.td_targets(rewards, next_states, terminated, target_net, gamma)

    return {
        "": right(),
        "with config.double_dqn = True the targets were plain TD targets":
            dqn.td_targets(rewards, next_states, terminated, target_net, gamma) if double else None,
        "with config.double_dqn = False the targets were double-DQN targets":
            None if double else dqn.double_dqn_targets(rewards, next_states, terminated, q_net, target_net, gamma),
        "the targets were computed with q_net instead of target_net":
            dqn.td_targets(rewards, next_states, terminated, q_net, gamma),
        "the double-DQN targets have the networks' roles swapped: target_net chose the next action and q_net "
        "scored it (double_dqn_targets(..., q_net, target_net, ...) takes q_net first)":
            dqn.double_dqn_targets(rewards, next_states, terminated, target_net, q_net, gamma) if double else None,
        "the targets use gamma = 0.99, not config.gamma": right(gamma=0.99),
        "the targets were computed from batch.states instead of batch.next_states": right(next_states=states),
        "the targets bootstrap from terminal transitions too: the (1 - batch.terminated) mask is missing, so a "
        "state after the end of an episode still adds gamma * max_a' Q_target(s', a')":
            right(terminated=torch.zeros_like(terminated)) if bool(terminated.any()) else None,
    }


def _load(net: nn.Module, weights: list, call: str) -> None:
    """Copy recorded weights into the judge's own network; a Mistake unless they are plain tensors of its shapes."""
    params = list(net.parameters())
    expect(all(type(w) in TENSOR_TYPES for w in weights), f"{call} holds a parameter that is not an nn.Parameter.",
           "update the networks' parameters in place (optimizer.step, update_target); don't replace them.")
    expect([w.shape for w in weights] == [p.shape for p in params], f"{call} has parameters of other shapes than "
           "the network the loop was given.", "update the networks' parameters in place; don't replace them.")
    with torch.no_grad():
        for param, weight in zip(params, weights):
            param.copy_(weight)


def _close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    """Same shape and values up to float rounding."""
    return got.shape == expected.shape and got.dtype.is_floating_point and torch.allclose(got, expected, atol=1e-5)


def expected_target_updates(config, steps: int) -> list:
    """The env steps after which the target is updated: every target_update_every-th."""
    return list(range(config.target_update_every, steps + 1, config.target_update_every))


UPDATE_CLOCK = ("the target network is updated on the count of gradient updates (optimize_step calls), not of "
                "environment steps. Hint: config.target_update_every counts env steps: update the target when "
                "n % config.target_update_every == 0, with n the env step, independent of learning_starts and "
                "train_every.")


def target_update_slips(config, episodes: Episodes, updates: list) -> dict:
    """The target-update steps of each typical slip (a list of the ways it is written), keyed by its message.

    `updates` are the loop's update steps: a target clock on the update count follows them.
    """
    steps, every = episodes.steps, config.target_update_every
    done_by = [sum(1 for u in updates if u <= n) for n in range(steps + 1)]  # updates done by the end of step n
    return {
        "the target network is never updated. Hint: update_target(target_net, q_net, config.tau) when "
        "step % config.target_update_every == 0.": [[]],
        "the target network is updated once per episode, as in the seed notebook: with a small τ it "
        "then trails hundreds of episodes behind. Hint: count env steps: update when step % "
        "config.target_update_every == 0.": [episodes.ends],
        "the target is updated every step, ignoring config.target_update_every. Hint: update when step % "
        "config.target_update_every == 0.": [list(range(1, steps + 1))],
        "the target is updated only on learning steps. Hint: the target clock is the env step, independent "
        "of train_every and learning_starts.": [[n for n in expected_target_updates(config, steps) if n in updates]],
        "the target is updated only from config.learning_starts on (the copy sits inside `if n >= "
        "learning_starts`). Hint: the target clock is the env step, independent of learning_starts: update when "
        "n % config.target_update_every == 0 from the first step on.":
            [[n for n in expected_target_updates(config, steps) if n >= config.learning_starts]],
        "the target is also updated at the end of every episode (as in the seed notebook), besides every "
        "config.target_update_every env steps. Hint: update it on the env-step clock only.":
            [sorted(expected_target_updates(config, steps) + list(episodes.ends))],
        UPDATE_CLOCK: [[u for k, u in enumerate(updates, 1) if k % every == 0],  # counted in the update block
                       [u for k, u in enumerate(updates) if k % every == 0],  # ... before counting this one
                       [n for n in range(1, steps + 1) if done_by[n] % every == 0],  # tested at every step
                       [n for n in range(1, steps + 1) if done_by[n - 1] % every == 0]],
        "the step count starts at 0 (for step in range(max_env_steps)), so the target is updated one env step "
        "early, the first time after step 1. Hint: count env steps from 1.":
            [[n for n in range(1, steps + 1) if (n - 1) % every == 0]],
        "the target network is updated on the count of episodes, at the end of every "
        f"{every}th episode, not on env steps. Hint: update the target when n % config.target_update_every == 0, "
        "with n the env step.": [[end for k, end in enumerate(episodes.ends, 1) if k % every == 0],
                                 [end for k, end in enumerate(episodes.ends) if k % every == 0]],
    }


def _check_target_updates(run: dict, episodes: Episodes, config) -> None:
    """The target is updated after every target_update_every-th env step, with (target_net, q_net, config.tau)."""
    got = [update[0] for update in run["target updates"]]
    expected = expected_target_updates(config, episodes.steps)
    if got != expected:
        slips = target_update_slips(config, episodes, [update["step"] for update in run["updates"]])
        name_the_mistake(lambda ways: got in ways, slips,
                         f"update_target was called after steps {got[:6]}...; expected after steps {expected[:6]}...",
                         returned=f"update_target was called after steps {got[:6]}..., expected {expected[:6]}...: ")
    _, right_target, right_q, tau = run["target updates"][0]
    expect(right_target and right_q, "update_target got its networks the wrong way round (or other networks).",
           "update_target(target_net, q_net, config.tau): the target moves towards q_net.")
    expect(tau == config.tau, f"update_target got tau={tau!r}; the config says {config.tau!r}.", "pass config.tau.")


def return_slips(episodes: Episodes) -> dict:
    """The returns each typical slip gives, keyed by its message."""
    lengths = episodes.lengths()
    return {
        "the unfinished last episode is included. Hint: record a return only when its episode ends.":
            lengths + [float(episodes.steps - sum(lengths))],
        "the returns are off by one. Hint: add each step's reward, the last one included.": [n - 1.0 for n in lengths],
        "the return is not reset between episodes. Hint: start each episode with episode_return = 0.0.":
            np.cumsum(lengths).tolist(),
    }


def _check_returns(returns, episodes: Episodes) -> None:
    """The list of finished episodes' returns, in order."""
    lengths = episodes.lengths()
    expect(not (type(returns) is list and any(value is None for value in returns)), "train_dqn returned a list holding None; expected a list "
           f"of episode returns {lengths}.", "append each finished episode's return (a number) to a list and return it.")
    got = plain_values(returns, "train_dqn returned", f"a list of episode returns {lengths}",
                       "append each finished episode's return to a list and return it.").tolist()
    if got != lengths:
        name_the_mistake(lambda value: got == value, return_slips(episodes),
                         f"train_dqn returned {got}; the finished episodes had returns {lengths}.",
                         returned=f"train_dqn returned {got}, expected {lengths}: ")


def _check_double_and_soft(results, config) -> None:
    """The second run (double DQN, soft updates, the other loss): the loop must follow those config fields too."""
    second = _run_record(results.value("second"))
    _outcome(results, "second returns", second)
    _check_step_arguments(second, config)
    _check_targets(second, config, "targets = double_dqn_targets(batch.rewards, batch.next_states, batch.terminated, "
                   "q_net, target_net, config.gamma) when config.double_dqn is True.")
    taus = sorted({update[3] for update in second["target updates"]}, key=repr)
    expect(taus == [config.tau], f"with config.tau = {config.tau} update_target got tau = {taus}.", "pass config.tau.")
    got, expected = [update[0] for update in second["target updates"]], expected_target_updates(config, second["steps"])
    every_step = len(got) > len(expected) and got == list(range(1, len(got) + 1))
    expect(got == expected, f"with config.tau = {config.tau} update_target was called after steps {got[:6]}..., "
           f"expected {expected[:6]}...: " + ("with tau < 1 the target is updated at every step, but the loop updates it "
           "every config.target_update_every env steps whatever tau is (a soft update at every step is a config "
           "with target_update_every = 1)." if every_step else "the soft update's clock is not the hard copy's."),
           "if n % config.target_update_every == 0: update_target(target_net, q_net, config.tau), for any tau.")


def _check_episode_end_hook(results, inputs: dict, config) -> None:
    """on_episode_end(n, episode_return, epsilon, q_net) after every episode; stop when it returns True."""
    crash = results.raised("hook returns")
    if crash and crash.get("type") == "TypeError" and "on_episode_end" in str(crash.get("message")):
        raise Mistake("train_dqn has no on_episode_end parameter, so the course's greedy checks cannot run "
                      "inside your loop. Hint: def train_dqn(env, config, q_net, target_net, optimizer, memory, "
                      "rng, on_episode_end=None).")
    run = _run_record(results.value("hook"))
    returns = _outcome(results, "hook returns", run)
    calls, stop_at = run["hook calls"], inputs["stop_at"]
    episodes = Episodes(inputs, config.max_env_steps)
    expect(calls, "on_episode_end was never called.", "when an episode ends, after recording its return: "
           "if on_episode_end is not None and on_episode_end(n, episode_return, epsilon, q_net): return the returns.")
    called_at = [call["step"] for call in calls]
    expect(called_at == episodes.ends[:len(called_at)], f"on_episode_end was called after steps {called_at[:5]}; the "
           f"episodes ended after steps {episodes.ends[:5]}.",
           "call it once per episode, when terminated or truncated.")
    first = calls[0]
    expect(not first["keywords"] and first["positional"] == 4, f"on_episode_end got {first['positional']} positional "
           f"and {len(first['keywords'])} keyword arguments; expected on_episode_end(n, episode_return, epsilon, "
           "q_net).", "pass the four, in that order.")
    if len(first["values"]) != 3:
        raise CheckError("the check's probe recorded a call of on_episode_end without its arguments")
    n, episode_return, epsilon = first["values"]
    passed = "the first call passed on_episode_end"
    n = plain_number(n, passed + " an n that is", "an int, the global step count", types=(int, np.integer))
    episode_return = plain_number(episode_return, passed + " a return that is", "a number")
    epsilon = plain_number(epsilon, passed + " an epsilon that is", "a number (a float)")
    first_length = episodes.ends[0]
    expect(n == first_length and episode_return == float(first_length) and first["is q_net"],
           f"the first call was on_episode_end({n!r}, {episode_return!r}, {epsilon!r}, {first['net']}); "
           f"expected on_episode_end({first_length}, {float(first_length)}, ε, q_net).",
           "n is the global step count, the return is the episode's sum of rewards, then ε and q_net.")
    expect(np.isclose(float(epsilon), _epsilon(config, first_length - 1)),
           f"on_episode_end got epsilon={float(epsilon):.3f}; expected the ε of the episode's last step, "
           f"{_epsilon(config, first_length - 1):.3f}.", "pass the epsilon you just acted with.")
    stop = episodes.ends[stop_at - 1]
    expect(run["steps"] == stop, f"on_episode_end returned True after step {stop} but the loop went on to step "
           f"{run['steps']}.", "if on_episode_end(...) returns True, stop and return the returns so far.")
    count = f"{len(returns)} returns" if type(returns) in (list, tuple, np.ndarray) else describe(returns)
    expect(count == f"{stop_at} returns", f"after stopping at episode {stop_at} train_dqn returned {count}; "
           f"expected the {stop_at} returns.",
           "append the episode's return before calling on_episode_end, then return the list when it says stop.")


def _round(values) -> list:
    """A list as a short list of rounded floats."""
    return [round(float(v), 3) for v in values]


check_train_dqn = Check("5.4", "train_dqn", loop_inputs, probe_loop, judge_loop,
                        references=("utils.dqn.train", "utils.dqn.learn_from_memory", "utils.dqn.gradient_step",
                                    "utils.dqn.compute_targets"))
