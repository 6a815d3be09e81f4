"""Interactive explorers (ipywidgets): move a control, see what changes.

Each explorer is a widget whose `controls` (name → widget) drive a pure function that
computes `state` (a dict of what is shown); a drawing function then renders that state.
Setting a control's `.value` in Python recomputes `state` at once, so every explorer can be
tested without a browser. Figures are plain `matplotlib.figure.Figure`s shown as PNG images:
no pyplot figure stays open, so nothing leaks from one explorer into another.

Where no widget can be seen (see `detect_mode`: nbclient, nbval, nbconvert, a terminal), an
explorer displays as a static snapshot of its first state (a PNG and its text) instead of
widget JSON, so executed notebooks read well on GitHub or as HTML.
"""
import base64
import dataclasses
import html
import io
import math
import os
from typing import Callable

import imageio.v3 as iio
import ipywidgets as widgets
import numpy as np
import torch
from IPython import get_ipython
from IPython.display import Image, clear_output, display
from matplotlib.figure import Figure

from utils.ablation import curve_band, runs_of, variant_summary
from utils.dqn import DQNConfig, train
from utils.mdp import discounted_return
from utils.plotting import draw_ablation_panels

SEED_EPISODE_CLOCK = 500
"""The seed notebook fed ε-greedy `i_episode * 500 + t`: 500 clock ticks per episode."""
SEED_SCHEDULE = {"start": 0.9, "end": 0.05, "decay_steps": 1_000}
"""The seed notebook's EPS_START, EPS_END and EPS_DECAY, for its exponential schedule."""
DECAY_DONE = 0.9
"""The explorer marks where ε has covered this share of the way from ε_start to ε_end."""
FIGURE_DPI = 80
MODE_VARIABLE = "COURSE_FRONTEND"
MODES = ("widget", "text")


# --- Can widgets be seen? --------------------------------------------------------------

def detect_mode(environ, shell) -> str:
    """"widget" if widgets can be seen here, else "text", by this rule:

    the environment variable COURSE_FRONTEND ("widget" or "text") when it is set; otherwise
    "widget" exactly when the code runs in an IPython kernel whose environment has
    JPY_SESSION_NAME, or whose namespace has VS Code's `__vsc_ipynb_file__`. Jupyter Server
    sets that variable for the kernels JupyterLab starts for a notebook (the course pins and
    tests JupyterLab only); nbclient, nbconvert and nbval start kernels without it.
    """
    forced = environ.get(MODE_VARIABLE, "").strip().lower()
    if forced:
        if forced not in MODES:
            raise ValueError(f"{MODE_VARIABLE} must be one of {MODES}, got {forced!r}")
        return forced
    in_kernel = getattr(shell, "kernel", None) is not None
    in_vscode = "__vsc_ipynb_file__" in getattr(shell, "user_ns", {})
    return "widget" if in_kernel and (environ.get("JPY_SESSION_NAME") or in_vscode) else "text"


def resolve_mode(mode: str) -> str:
    """`mode` itself, or for "auto" what `detect_mode` says about this process."""
    if mode == "auto":
        return detect_mode(os.environ, get_ipython())
    if mode not in MODES:
        raise ValueError(f"mode must be 'auto', 'widget' or 'text', got {mode!r}")
    return mode


# --- Shared helpers --------------------------------------------------------------------

def figure_png(fig: Figure) -> bytes:
    """The figure rendered as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


def show_figure(fig: Figure) -> None:
    """Display the figure as a PNG image (the same in every frontend, static or live)."""
    display(Image(data=figure_png(fig)))


def new_figure(n_panels: int = 1, width: float = 5.0, height: float = 3.4):
    """A pyplot-free figure with `n_panels` side-by-side axes; returns (fig, axes list)."""
    fig = Figure(figsize=(width * n_panels, height), dpi=FIGURE_DPI, layout="constrained")
    return fig, list(np.atleast_1d(fig.subplots(1, n_panels)))


def moving_average(values, window: int) -> np.ndarray:
    """Mean of the last `window` values at each position (fewer at the start)."""
    if isinstance(window, bool) or not isinstance(window, int) or window <= 0:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    values = np.asarray(values, dtype=float)
    sums = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def show(figure, text: str) -> None:
    """Display a drawing's figure (if any) and print its text."""
    if figure is not None:
        show_figure(figure)
    print(text)


def snapshot_bundle(figure, text: str) -> dict:
    """A drawing's figure and text as one static MIME bundle (HTML, since a frontend shows one type)."""
    png = figure_png(figure) if figure is not None else None
    return static_bundle(png, f"<pre>{html.escape(text)}</pre>", text)


def static_bundle(png, html_text: str, plain_text: str) -> dict:
    """A MIME bundle of an optional PNG (bytes, or base64 text) above some HTML, with a plain-text fallback."""
    if isinstance(png, (bytes, memoryview)):  # an Image widget holds its value as a memoryview
        png = base64.b64encode(png).decode("ascii")
    image = f'<img src="data:image/png;base64,{png}"/>' if png else ""
    return {"text/html": image + html_text, "text/plain": plain_text}


class StaticWhereNoWidgets:
    """Mixin for a widget: display it as `snapshot()` (a MIME bundle) where widgets cannot be seen."""

    mode = "widget"  # set from resolve_mode("auto") by each explorer when it is made

    def _repr_mimebundle_(self, **kwargs):
        """The live widget in JupyterLab, the static snapshot elsewhere."""
        if self.mode == "widget":
            return super()._repr_mimebundle_(**kwargs)
        return self.snapshot()


class Explorer(StaticWhereNoWidgets, widgets.VBox):
    """Controls above an output area; a change of any control recomputes `state` and redraws."""

    def __init__(self, controls: dict, compute: Callable[..., dict], draw: Callable[[dict], tuple],
                 extra=()):
        """Lay out `controls` (and `extra` widgets), wire them to `compute`, draw once."""
        super().__init__()
        self.mode = resolve_mode("auto")
        self.controls = controls
        self.output = widgets.Output()
        self.state = {}
        self._compute, self._draw = compute, draw
        self.children = [widgets.HBox(list(controls.values()) + list(extra),
                                      layout=widgets.Layout(flex_flow="row wrap")), self.output]
        for control in controls.values():
            control.observe(self.refresh, names="value")
        self.refresh()

    def refresh(self, _change=None) -> None:
        """Recompute `state` from the controls' values and redraw it (where it can be seen)."""
        # Inside the Output, an error shows up under the explorer instead of in a hidden log.
        with self.output:
            self.state = self._compute(**{name: c.value for name, c in self.controls.items()})
            if self.mode == "widget":
                clear_output(wait=True)
                show(*self._draw(self.state))

    def snapshot(self) -> dict:
        """The current state drawn as a static PNG and text."""
        return snapshot_bundle(*self._draw(self.state))


def _slider(kind, description: str, value, low, high, step, **options):
    """A slider whose range always contains `value`, with a description wide enough to read."""
    return kind(value=value, min=min(low, value), max=max(high, value), step=step,
                description=description, style={"description_width": "initial"},
                continuous_update=False, **options)


# --- ε schedule ------------------------------------------------------------------------

def linear_epsilon(steps, start: float, end: float, decay_steps: int) -> np.ndarray:
    """utils.policies.epsilon_schedule for an array of global steps."""
    return start + np.minimum(np.asarray(steps) / decay_steps, 1.0) * (end - start)


def exponential_epsilon(steps, start: float, end: float, decay_steps: int) -> np.ndarray:
    """The seed's schedule: end + (start − end)·exp(−step / decay_steps)."""
    return end + (start - end) * np.exp(-np.asarray(steps) / decay_steps)


SCHEDULES = {"linear": linear_epsilon, "exponential": exponential_epsilon}


def seed_clock(steps, episode_length: int) -> np.ndarray:
    """The seed's clock i_episode·500 + t at each global step, if every episode lasts `episode_length`."""
    if not 1 <= episode_length <= SEED_EPISODE_CLOCK:
        raise ValueError(f"episode_length must be in 1..{SEED_EPISODE_CLOCK}, got {episode_length!r}")
    episodes, t = np.divmod(np.asarray(steps), episode_length)
    return episodes * SEED_EPISODE_CLOCK + t


def first_step_below(steps, epsilons, level: float):
    """The first step whose ε is at or below `level` (None if none is)."""
    below = np.flatnonzero(np.asarray(epsilons) <= level)
    return int(np.asarray(steps)[below[0]]) if below.size else None


def epsilon_curves(start: float, end: float, decay_steps: int, episode_length: int,
                   schedule: str = "linear") -> dict:
    """Both shapes and the seed's own schedule; the chosen shape on the global and on the seed's clock."""
    steps = np.arange(int(2.5 * decay_steps) + 1)
    curve = SCHEDULES[schedule]
    global_clock = curve(steps, start, end, decay_steps)
    fake_clock = curve(seed_clock(steps, episode_length), start, end, decay_steps)
    level = start + DECAY_DONE * (end - start)
    return {
        "steps": steps, "schedule": schedule, "episode_length": episode_length, "level": level,
        "linear": linear_epsilon(steps, start, end, decay_steps),
        "exponential": exponential_epsilon(steps, start, end, decay_steps),
        "seed": exponential_epsilon(steps, **SEED_SCHEDULE),
        "global_clock": global_clock, "fake_clock": fake_clock,
        "global_reaches_level": first_step_below(steps, global_clock, level),
        "fake_reaches_level": first_step_below(steps, fake_clock, level),
    }


def draw_epsilon(state: dict) -> tuple:
    """(figure, text): left the two schedule shapes, right the chosen one on the two clocks."""
    fig, (shapes, clocks) = new_figure(2)
    steps = state["steps"]
    for name in SCHEDULES:
        shapes.plot(steps, state[name], label=f"{name}, slider settings")
    seed = SEED_SCHEDULE
    shapes.plot(steps, state["seed"], linestyle="--", color="grey",
                label=f"the seed: exponential, {seed['start']} → {seed['end']}, τ = {seed['decay_steps']:,}")
    shapes.set(xlabel="global step", ylabel="ε", title="schedule shapes", ylim=(0, 1.02))
    clocks.plot(steps, state["global_clock"], label="global step clock")
    clocks.plot(steps, state["fake_clock"], label=f"seed's clock (episodes of {state['episode_length']} steps)")
    clocks.axhline(state["level"], color="grey", linestyle=":", label=f"{DECAY_DONE:.0%} of the decay done")
    clocks.set(xlabel="real environment steps", ylabel="ε", title=f"{state['schedule']} ε, two clocks", ylim=(0, 1.02))
    for ax in (shapes, clocks):
        ax.legend(fontsize=8)
    return fig, epsilon_summary(state)


def epsilon_summary(state: dict) -> str:
    """One sentence comparing when each clock has done 90% of the decay."""
    fake, real = state["fake_reaches_level"], state["global_reaches_level"]
    not_shown = f"not within the {state['steps'][-1]:,} steps shown"
    on_seed_clock = not_shown if fake is None else (
        f"after {fake:,} real steps (episode {fake // state['episode_length'] + 1})")
    on_global_clock = not_shown if real is None else f"after {real:,} steps"
    return (f"ε has done {DECAY_DONE:.0%} of its decay (ε ≤ {state['level']:.3f}) {on_seed_clock} on the "
            f"seed's clock, {on_global_clock} on the global step clock.")


def epsilon_explorer() -> Explorer:
    """Sliders for the ε schedule and a typical episode length → curves on both clocks."""
    controls = {
        "start": _slider(widgets.FloatSlider, "ε start", 1.0, 0.1, 1.0, 0.05),
        "end": _slider(widgets.FloatSlider, "ε end", 0.05, 0.0, 0.5, 0.01),
        "decay_steps": _slider(widgets.IntSlider, "decay steps", 10_000, 500, 50_000, 500),
        "episode_length": _slider(widgets.IntSlider, "episode length", 20, 10, SEED_EPISODE_CLOCK, 10),
        "schedule": widgets.ToggleButtons(options=list(SCHEDULES), value="linear", description="schedule"),
    }
    return Explorer(controls, epsilon_curves, draw_epsilon)


# --- Discount --------------------------------------------------------------------------

def discount_summary(gamma: float, rewards) -> dict:
    """Weights γ^k over the rewards, effective horizon 1/(1−γ), half-life and discounted return."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma!r}")
    horizon = math.inf if gamma == 1.0 else 1.0 / (1.0 - gamma)
    half_life = math.inf if gamma == 1.0 else (0.0 if gamma == 0.0 else math.log(0.5) / math.log(gamma))
    return {
        "gamma": gamma, "rewards": rewards,
        "weights": gamma ** np.arange(len(rewards)),
        "horizon": horizon, "half_life": half_life,
        "discounted_return": discounted_return(rewards, gamma),
        "undiscounted_return": float(np.sum(rewards)),
    }


def draw_discount(state: dict) -> tuple:
    """(figure, text): the weights γ^k with the horizon marked; the horizon and the return."""
    fig, (ax,) = new_figure(1, width=7)
    k = np.arange(len(state["weights"]))
    ax.plot(k, state["weights"], label="weight γ^k")
    if state["horizon"] < len(k):
        ax.axvline(state["horizon"], color="grey", linestyle=":", label=f"1/(1−γ) = {state['horizon']:.0f}")
    ax.set(xlabel="k (steps into the future)", ylabel="γ^k", ylim=(0, 1.05), title=f"γ = {state['gamma']:g}")
    ax.legend()
    return fig, (f"effective horizon 1/(1−γ) = {state['horizon']:.1f} steps; a reward loses half its weight "
                 f"after {state['half_life']:.1f} steps\n"
                 f"discounted return G_0 = {state['discounted_return']:.2f} "
                 f"(undiscounted sum {state['undiscounted_return']:.0f}, {len(state['rewards'])} rewards)")


def discount_explorer(rewards=None) -> Explorer:
    """A γ slider → the weights γ^k, the effective horizon and G_0 of `rewards` (default: 500 × 1)."""
    rewards = [1.0] * 500 if rewards is None else [float(r) for r in rewards]
    if not rewards:
        raise ValueError("rewards must hold at least one reward")
    controls = {"gamma": widgets.FloatSlider(
        value=0.99, min=0.5, max=0.999, step=0.001, readout_format=".3f", description="γ",
        continuous_update=False)}
    return Explorer(controls, lambda gamma: discount_summary(gamma, rewards), draw_discount)


# --- Replay ----------------------------------------------------------------------------

def stored_positions(memory, batch) -> np.ndarray:
    """Buffer position of each transition in `batch`, found by matching its (state, next_state)."""
    size = len(memory)
    stored = torch.cat([memory.states[:size], memory.next_states[:size]], dim=1).numpy()
    drawn = torch.cat([batch.states, batch.next_states], dim=1).numpy()
    where = {row.tobytes(): position for position, row in enumerate(stored)}
    return np.array([where[row.tobytes()] for row in drawn])


def ages(memory, positions) -> np.ndarray:
    """How many transitions ago each position was written (0 = the newest)."""
    newest = (memory.position - 1) % memory.capacity
    return (newest - np.asarray(positions)) % memory.capacity


def lag1_correlation(values) -> float:
    """Correlation between consecutive entries of `values` (row k against row k+1)."""
    values = np.asarray(values, dtype=float)
    return float(np.corrcoef(values[:-1], values[1:])[0, 1])


def replay_draw(memory, batch_size: int, seed: int) -> dict:
    """A seeded batch's positions and pole angles, against the last `batch_size` transitions."""
    # Seeded draws without disturbing the notebook's own torch random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        batch = memory.sample(batch_size)
    positions = stored_positions(memory, batch)
    recent = (memory.position - 1 - np.arange(batch_size)[::-1]) % memory.capacity
    angle = np.degrees(memory.states[:, 2].numpy())
    return {
        "size": len(memory), "batch_size": batch_size, "seed": seed,
        "positions": positions, "ages": ages(memory, positions), "recent_ages": ages(memory, recent),
        "angles": angle[positions], "recent_angles": angle[recent],
        "correlation": lag1_correlation(angle[positions]),
        "recent_correlation": lag1_correlation(angle[recent]),
    }


def draw_replay(state: dict) -> tuple:
    """(figure, text): where the batch comes from in the memory, and the pole angles it holds."""
    fig, (where, angles) = new_figure(2)
    bins = np.linspace(0, state["size"], 41)
    where.hist(state["recent_ages"], bins=bins, alpha=0.6, label=f"last {state['batch_size']} transitions")
    where.hist(state["ages"], bins=bins, alpha=0.6, label="random batch")
    where.set(xlabel="age in the memory (transitions ago)", ylabel="transitions", title="what a batch covers")
    angles.scatter(state["recent_ages"], state["recent_angles"], s=8, label="last transitions")
    angles.scatter(state["ages"], state["angles"], s=8, label="random batch")
    angles.set(xlabel="age in the memory (transitions ago)", ylabel="pole angle (°)", title="pole angles")
    for ax in (where, angles):
        ax.legend(fontsize=8)
    return fig, (f"draw with seed {state['seed']}: the batch spans ages {state['ages'].min()}–{state['ages'].max()} "
                 f"of {state['size']} stored; the last {state['batch_size']} span 0–{state['batch_size'] - 1}\n"
                 f"pole angle, row k vs row k+1: correlation {state['correlation']:.2f} in the batch, "
                 f"{state['recent_correlation']:.2f} in the consecutive transitions")


def replay_explorer(memory, batch_size: int = 64, seed: int = 0) -> Explorer:
    """A "draw a batch" button over a filled utils.replay.ReplayMemory; draw n uses seed + n."""
    for attribute in ("sample", "states", "next_states", "position", "capacity"):
        if not hasattr(memory, attribute):
            raise TypeError(f"replay_explorer needs a utils.replay.ReplayMemory; "
                            f"{type(memory).__name__} has no attribute {attribute!r}")
    if len(memory) < 2 * batch_size:
        raise ValueError(f"fill the memory first: it holds {len(memory)} transitions, "
                         f"the explorer needs at least {2 * batch_size}")
    controls = {
        "batch_size": _slider(widgets.IntSlider, "batch size", batch_size, 8, 256, 8),
        "draw": widgets.IntText(value=0, description="draw", disabled=True, layout=widgets.Layout(width="150px")),
    }
    button = widgets.Button(description="draw a batch", icon="random")
    button.on_click(lambda _: setattr(controls["draw"], "value", controls["draw"].value + 1))
    return Explorer(controls, lambda batch_size, draw: replay_draw(memory, batch_size, seed + draw),
                    draw_replay, extra=[button])


# --- Rollout scrubber ------------------------------------------------------------------

STATE_NAMES = ("cart position", "cart velocity", "pole angle (°)", "pole angular velocity (°/s)")
ACTION_NAMES = ("push left", "push right")


def q_values_along(q_net, states) -> np.ndarray:
    """Q-values of every state of a rollout, shape (frames, n_actions)."""
    with torch.no_grad():
        return q_net(torch.as_tensor(np.stack(states), dtype=torch.float32)).numpy()


def frame_state(rollout, step: int, q_values=None) -> dict:
    """What the scrubber shows at frame `step`: the image, the state, the action, the Q-values."""
    if not 0 <= step < len(rollout.frames):
        raise ValueError(f"step must be in 0..{len(rollout.frames) - 1}, got {step}")
    x, x_dot, theta, theta_dot = (float(v) for v in rollout.states[step])
    state = {
        "step": step, "frame": rollout.frames[step],
        "values": dict(zip(STATE_NAMES, (x, x_dot, math.degrees(theta), math.degrees(theta_dot)))),
        "action": rollout.actions[step] if step < rollout.steps else None,
        # A rollout cut at its frame cap stops recording while the episode goes on.
        "episode_over": step == rollout.steps and (rollout.terminated or rollout.truncated),
        "return_so_far": float(sum(rollout.rewards[:step])),
    }
    if q_values is not None:
        state["q_values"] = q_values[step]
        state["greedy_action"] = int(np.argmax(q_values[step]))
    return state


def frame_png(frame: np.ndarray) -> bytes:
    """An RGB frame as PNG bytes."""
    return iio.imwrite("<bytes>", frame, extension=".png")


def action_taken(state: dict) -> str:
    """The action taken at this frame, or why there is none."""
    if state["action"] is not None:
        return ACTION_NAMES[state["action"]]
    return "— (episode over)" if state["episode_over"] else "— (recording stops here)"


def state_table(state: dict, last_step: int) -> str:
    """The state, action and Q-values at one frame as a small HTML table."""
    rows = [("frame", f"{state['step']} of {last_step}"), ("return so far", f"{state['return_so_far']:.0f}")]
    rows += [(name, f"{value:+.3f}") for name, value in state["values"].items()]
    rows.append(("action taken", action_taken(state)))
    if "q_values" in state:
        rows += [(f"Q(s, {name})", f"{q:.2f}") for name, q in zip(ACTION_NAMES, state["q_values"])]
        rows.append(("greedy action", ACTION_NAMES[state["greedy_action"]]))
    cells = "".join(f"<tr><td>{name}</td><td style='text-align:right'>{value}</td></tr>" for name, value in rows)
    return f"<table>{cells}</table>"


class RolloutScrubber(StaticWhereNoWidgets, widgets.VBox):
    """A slider (and play button) over a rollout's frames, with the state beside the frame."""

    def __init__(self, rollout, q_net=None):
        """Show frame 0; with `q_net`, also its Q-values and greedy action at every frame."""
        super().__init__()
        self.mode = resolve_mode("auto")
        if not getattr(rollout, "frames", None):
            raise ValueError("rollout_scrubber needs a utils.video.Rollout with at least one frame")
        self.rollout = rollout
        self.q_values = None if q_net is None else q_values_along(q_net, rollout.states)
        last = len(rollout.frames) - 1
        self.controls = {"step": widgets.IntSlider(value=0, min=0, max=last, description="frame")}
        play = widgets.Play(min=0, max=last, interval=100, description="play")
        widgets.jslink((play, "value"), (self.controls["step"], "value"))
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="450px"))
        self.table = widgets.HTML()
        self.children = [widgets.HBox([play, self.controls["step"]]), widgets.HBox([self.image, self.table])]
        self.controls["step"].observe(self.refresh, names="value")
        self.refresh()

    def refresh(self, _change=None) -> None:
        """Show the frame and the state at the slider's step."""
        self.state = frame_state(self.rollout, self.controls["step"].value, self.q_values)
        self.image.value = frame_png(self.state["frame"])
        self.table.value = state_table(self.state, len(self.rollout.frames) - 1)

    def snapshot(self) -> dict:
        """The current frame as a PNG and the state table as HTML."""
        return static_bundle(self.image.value, self.table.value,
                             f"frame {self.state['step']} of a {self.rollout.steps}-step rollout")


def rollout_scrubber(rollout, q_net=None) -> RolloutScrubber:
    """Scrub through a recorded rollout; with `q_net`, see its Q-values and greedy action."""
    return RolloutScrubber(rollout, q_net)


# --- Hyperparameter playground ---------------------------------------------------------

TARGET_UPDATES = {
    "hard copy every 125 steps": (125, 1.0),
    "hard copy every 500 steps": (500, 1.0),
    "hard copy every 1000 steps": (1000, 1.0),
    "soft, τ = 0.005 every step": (1, 0.005),
    "soft, τ = 0.05 every step": (1, 0.05),
}
PLAYGROUND_FIELDS = ("lr", "target_update_every", "tau", "eps_decay_steps", "buffer_capacity", "max_env_steps")
CURVE_WINDOW = 10


def playground_config(base, lr: float, target_update, eps_decay_steps: int, buffer_capacity: int,
                      max_env_steps: int):
    """`base` with the playground's settings; `target_update` is (target_update_every, tau)."""
    every, tau = target_update
    return dataclasses.replace(base, lr=lr, target_update_every=every, tau=tau, eps_decay_steps=eps_decay_steps,
                               buffer_capacity=buffer_capacity, max_env_steps=max_env_steps)


def run_label(config, base) -> str:
    """The settings in which `config` differs from `base`, e.g. "lr=0.0003, tau=0.005"."""
    changed = [f"{name}={getattr(config, name):.3g}" for name in PLAYGROUND_FIELDS
               if getattr(config, name) != getattr(base, name)]
    return ", ".join(changed) or "base settings"


def run_summary(result, label: str) -> dict:
    """One finished run: its label, smoothed learning curve and totals."""
    return {
        "label": label, "steps": np.asarray(result.episode_end_steps),
        "curve": moving_average(result.episode_returns, CURVE_WINDOW),
        "episodes": len(result.episode_returns), "env_steps": result.env_steps,
        "best_check": max(result.check_returns, default=None), "wall_s": result.wall_s,
    }


def draw_runs(runs: list, config) -> tuple:
    """(figure, text): the runs' learning curves and a line per run; before any run, empty axes and `config`."""
    fig, (ax,) = new_figure(1, width=8, height=3.8)
    for number, run in enumerate(runs, 1):
        ax.plot(run["steps"], run["curve"], label=f"{number}: {run['label']}")
    ax.set(xlabel="environment steps", ylabel=f"return (mean of last {CURVE_WINDOW} episodes)", ylim=(0, 510))
    if runs:
        ax.legend(fontsize=8)
        return fig, "\n".join(run_line(number, run) for number, run in enumerate(runs, 1))
    ax.set_xlim(0, config.max_env_steps)
    ax.text(0.5, 0.5, "no run yet: press train", transform=ax.transAxes, ha="center", va="center", color="gray")
    return fig, f"No run yet: pick settings and press train (in JupyterLab). Settings: {settings_line(config)}."


def settings_line(config) -> str:
    """The playground's settings in `config`, in words."""
    update = (f"a hard target copy every {config.target_update_every:,} steps" if config.tau == 1
              else f"soft target updates, τ = {config.tau:g} every {config.target_update_every:,} steps")
    return (f"lr {config.lr:.1e}, {update}, ε decay over {config.eps_decay_steps:,} steps, "
            f"a {config.buffer_capacity:,}-transition memory, a {config.max_env_steps:,}-step budget")


def run_line(number: int, run: dict) -> str:
    """One line about one run."""
    check = "no greedy check ran" if run["best_check"] is None else f"best greedy check {run['best_check']:.0f}"
    return (f"{number}: {run['label']}: {run['episodes']} episodes, {run['env_steps']} steps, "
            f"{check}, {run['wall_s']:.0f} s")


class HyperparameterPlayground(StaticWhereNoWidgets, widgets.VBox):
    """Pick a few settings, train a short run, compare its learning curve with the earlier ones."""

    def __init__(self, base_config=None):
        """Controls start at `base_config` (default: a 10,000-step version of the course's recipe)."""
        super().__init__()
        self.mode = resolve_mode("auto")
        self.base = dataclasses.replace(DQNConfig(), max_env_steps=10_000) if base_config is None else base_config
        base = self.base
        base_update = (base.target_update_every, base.tau)
        options = dict(TARGET_UPDATES)
        if base_update not in options.values():
            options[f"base: every {base_update[0]} steps, τ = {base_update[1]:g}"] = base_update
        self.controls = {
            "lr": widgets.FloatLogSlider(value=base.lr, base=10, min=-4.5, max=-2, step=0.25, description="lr",
                                         readout_format=".1e", continuous_update=False),
            "target_update": widgets.Dropdown(options=list(options.items()), value=base_update,
                                              description="target update", style={"description_width": "initial"}),
            "eps_decay_steps": _slider(widgets.IntSlider, "ε decay steps", base.eps_decay_steps, 500, 20_000, 500),
            "buffer_capacity": widgets.Dropdown(options=sorted({1_000, 10_000, 50_000, base.buffer_capacity}),
                                                value=base.buffer_capacity, description="buffer",
                                                style={"description_width": "initial"}),
            "max_env_steps": _slider(widgets.IntSlider, "step budget", base.max_env_steps, 2_000, 30_000, 1_000),
        }
        self.train_button = widgets.Button(description="train", icon="play", button_style="primary")
        self.clear_button = widgets.Button(description="clear runs")
        self.progress = widgets.IntProgress(value=0, max=1, description="steps")
        self.output = widgets.Output()
        self.runs = []
        self.train_button.on_click(lambda _: self.train())
        self.clear_button.on_click(lambda _: self.clear())
        self.children = [widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
                         widgets.HBox([self.train_button, self.clear_button, self.progress]), self.output]
        self.redraw()

    def config(self):
        """The configuration the controls describe."""
        return playground_config(self.base, **{name: c.value for name, c in self.controls.items()})

    def train(self) -> None:
        """Train one run with the current settings and add its curve to the comparison."""
        with self.output:
            config = self.config()
            self.progress.value, self.progress.max = 0, config.max_env_steps
            self.train_button.disabled = True
            try:
                result = train(config, on_episode=self._advance)
            finally:
                self.train_button.disabled = False
            self.progress.value = self.progress.max
            self.runs.append(run_summary(result, run_label(config, self.base)))
        self.redraw()

    def _advance(self, episode_index: int, episode_return: float, epsilon: float, env_steps: int) -> None:
        """on_episode callback: move the progress bar."""
        self.progress.value = env_steps

    def snapshot(self) -> dict:
        """The runs so far (none in a freshly executed notebook), as a static PNG and text."""
        return snapshot_bundle(*draw_runs(self.runs, self.config()))

    def clear(self) -> None:
        """Forget every run."""
        self.runs = []
        self.redraw()

    def redraw(self) -> None:
        """Draw every run so far (where it can be seen)."""
        if self.mode == "widget":
            with self.output:
                clear_output(wait=True)
                show(*draw_runs(self.runs, self.config()))


def hyperparameter_playground(base_config=None) -> HyperparameterPlayground:
    """Change lr, target update, ε decay, buffer size and budget; train short runs; compare curves."""
    return HyperparameterPlayground(base_config)


# --- Ablation over seeds (notebook 7) ----------------------------------------------------

ABLATION_GRID = np.arange(1_000, 100_001, 1_000)
"""Environment steps at which the greedy-check curves of the ablation are compared."""


def ablation_state(summaries: dict, bands: dict, variants, seeds: bool) -> dict:
    """The chosen variants' summaries and curve bands, and whether single seeds are drawn."""
    chosen = [v for v in summaries if v in variants]
    return {"summaries": {v: summaries[v] for v in chosen}, "bands": {v: bands[v] for v in chosen},
            "show_seeds": seeds}


def draw_ablation(state: dict) -> tuple:
    """(figure, text): curves with bands, final-score and steps-to-solve intervals, and a table of them."""
    if not state["summaries"]:
        return None, "pick at least one variant"
    fig, axes = new_figure(3, width=5.0, height=3.8)
    draw_ablation_panels(axes, state["bands"], state["summaries"], state["show_seeds"])
    lines = [f"{v:<12} solved {s['solved']}/{s['runs']}  final score IQM {s['score_iqm']:.1f} "
             f"[{s['score_ci'][0]:.1f}, {s['score_ci'][1]:.1f}]  steps to solve IQM {s['steps_iqm']:,.0f} "
             f"[{s['steps_ci'][0]:,.0f}, {s['steps_ci'][1]:,.0f}]" for v, s in state["summaries"].items()]
    return fig, "\n".join(lines)


def ablation_explorer(rows: list) -> Explorer:
    """Pick variants of the ablation (and single seeds or not): their curves and 95% intervals redraw."""
    variants = list(dict.fromkeys(row["variant"] for row in rows))
    if not variants:
        raise ValueError("no ablation runs to explore: run `make ablation` first")
    summaries = {v: variant_summary(runs_of(rows, v)) for v in variants}
    bands = {v: curve_band(runs_of(rows, v), ABLATION_GRID) for v in variants}
    controls = {
        "variants": widgets.SelectMultiple(options=variants, value=tuple(variants), rows=len(variants),
                                           description="variants"),
        "seeds": widgets.Checkbox(value=True, description="show single seeds"),
    }
    return Explorer(controls, lambda variants, seeds: ablation_state(summaries, bands, variants, seeds),
                    draw_ablation)
