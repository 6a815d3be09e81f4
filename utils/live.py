"""A live view of a training run: a progress bar and a learning curve that update while it runs.

    view = LiveTrainingView(config.max_env_steps)
    result = train(config, on_episode=view.on_episode)
    view.finish()

Where widgets can be seen it shows a progress bar, a status line and a plot of the episode
returns, their moving average and ε. Elsewhere (nbval, nbconvert, CI, a terminal) it prints
a few plain lines instead, so executed notebooks hold no widget JSON. Both print the closing
summary as plain text.

Which of the two (the `mode`): "widget" or "text" when asked for; with "auto" (the default),
the rule of `utils.widgets.detect_mode`, the same that makes the explorers static.
"""
import time

import imageio.v3 as iio
import ipywidgets as widgets
import numpy as np
from IPython.display import display
from matplotlib.backends.backend_agg import FigureCanvasAgg

from utils.widgets import moving_average, new_figure, resolve_mode

SOLVED_RETURN = 475.0  # CartPole-v1's reward threshold, drawn as a guide line
BAR_INTERVAL_S = 0.25
"""At most this often the progress bar and status line are sent to the browser."""


class LiveTrainingView:
    """Pass `on_episode` to `utils.dqn.train`; call `finish()` after it (or use `with`)."""

    def __init__(self, total_steps: int, mode: str = "auto", window: int = 20, text_lines: int = 10,
                 min_redraw_s: float = 1.0, draw_budget: float = 0.02):
        """Show progress over `total_steps` env steps; the plot redraws at most every
        `min_redraw_s` seconds and, by waiting longer if drawing is slow, takes at most
        `draw_budget` of the time. Text mode prints about `text_lines` lines."""
        for name, value in (("total_steps", total_steps), ("window", window), ("text_lines", text_lines)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 < draw_budget < 1.0:
            raise ValueError(f"draw_budget must be a fraction in (0, 1), got {draw_budget!r}")
        self.mode = resolve_mode(mode)
        self.total_steps, self.window = total_steps, window
        self.min_redraw_s, self.draw_budget = min_redraw_s, draw_budget
        self.returns, self.epsilons, self.steps = [], [], []
        self.overhead_s = 0.0  # seconds spent inside the view, to compare with the training time
        self.redraws = 0
        self.verdict = ""
        self._line_interval = total_steps / text_lines
        self._next_line_step = self._line_interval
        self._started = time.perf_counter()
        self._last_bar = self._last_draw = -np.inf
        self._draw_cost = 0.0
        if self.mode == "widget":
            self._build_widgets()
            display(self.widget)

    def on_episode(self, episode_index: int, episode_return: float, epsilon: float, env_steps: int) -> None:
        """utils.dqn.train's per-episode callback: record the episode, update the view if due."""
        began = time.perf_counter()
        self.returns.append(float(episode_return))
        self.epsilons.append(float(epsilon))
        self.steps.append(int(env_steps))
        if self.mode == "text":
            self._print_if_due()
        else:
            self._update_widgets(began, final=False)
        self.overhead_s += time.perf_counter() - began

    def finish(self, verdict: str = "") -> None:
        """Show the final state: the complete plot (widget mode) and the summary line; `verdict`
        (e.g. the greedy checks' `TrainResult.verdict`) replaces the summary and fills the bar,
        since a run that stops early is finished, not 52% done.

        The summary is printed in both modes: a widget's output is gone when a notebook is
        reopened without its widget state, printed text never is.
        """
        began = time.perf_counter()
        self.verdict = verdict
        if self.mode == "widget":
            self._update_widgets(began, final=True)
        print(self.label.value if self.mode == "widget" else self.summary())  # the same line as the widget's
        self.overhead_s += time.perf_counter() - began

    def __enter__(self):
        """`with LiveTrainingView(...) as view:` calls `finish()` at the end of the block."""
        return self

    def __exit__(self, *exc_info):
        """Finish the view, whether or not training raised."""
        self.finish()

    # --- What is shown -----------------------------------------------------------------

    def status(self) -> str:
        """One line: episode, steps, last return, moving average and ε."""
        if not self.returns:
            return f"no episode finished yet (budget {self.total_steps:,} steps)"
        average = np.mean(self.returns[-self.window:])
        return (f"episode {len(self.returns)} · step {self.steps[-1]:,} / {self.total_steps:,} · "
                f"return {self.returns[-1]:.0f} · mean of last {self.window} {average:.1f} · "
                f"ε {self.epsilons[-1]:.2f}")

    def summary(self) -> str:
        """The closing line: the verdict if one was given, else how far training went."""
        elapsed = time.perf_counter() - self._started
        if self.verdict:
            return f"finished after {len(self.returns)} episodes in {elapsed:.1f} s: {self.verdict}"
        if not self.returns:
            return f"finished after {elapsed:.1f} s without completing an episode"
        best = moving_average(self.returns, self.window).max()
        return (f"finished: {len(self.returns)} episodes completed by step {self.steps[-1]:,} in "
                f"{elapsed:.1f} s; best mean of {self.window} consecutive training (ε-greedy) returns {best:.1f}")

    def _print_if_due(self) -> None:
        """Text mode: one line each time another 1/text_lines of the budget has passed."""
        if self.steps[-1] >= self._next_line_step:
            print(f"[{self.steps[-1] / self.total_steps:4.0%}] {self.status()}", flush=True)
            passed = self.steps[-1] // self._line_interval + 1
            self._next_line_step = passed * self._line_interval

    def _build_widgets(self) -> None:
        """The progress bar, the status line, and the plot (its axes drawn once, see `_redraw`)."""
        self.bar = widgets.IntProgress(value=0, min=0, max=self.total_steps, description="steps")
        self.label = widgets.HTML(self.status())
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="720px"))
        self.widget = widgets.VBox([widgets.HBox([self.bar, self.label]), self.image])
        figure, (ax,) = new_figure(1, width=9, height=3.2)
        epsilon_axis = ax.twinx()
        # Animated lines are left out of canvas.draw(): the background is drawn once, without them.
        self.lines = {
            "return": ax.plot([], [], ".", markersize=3, alpha=0.4, label="episode return", animated=True)[0],
            "average": ax.plot([], [], label=f"mean of last {self.window}", animated=True)[0],
            "epsilon": epsilon_axis.plot([], [], color="tab:green", alpha=0.7, label="ε", animated=True)[0],
        }
        solved = ax.axhline(SOLVED_RETURN, color="grey", linestyle=":", label=f"solved ({SOLVED_RETURN:.0f})")
        ax.set(xlim=(0, self.total_steps), ylim=(0, 510), xlabel="environment steps", ylabel="return")
        epsilon_axis.set(ylim=(0, 1.02), ylabel="ε")
        # Above the axes, so that no line is drawn over it.
        legend = ax.legend(handles=[*self.lines.values(), solved], loc="lower center", bbox_to_anchor=(0.5, 1.0),
                           ncol=4, fontsize=8, frameon=False)
        for handle in legend.legend_handles:
            handle.set_animated(False)
        self.canvas = FigureCanvasAgg(figure)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(figure.bbox)

    def _update_widgets(self, now: float, final: bool) -> None:
        """Widget mode: send the bar and status if due, redraw the plot if its turn has come."""
        if final or now - self._last_bar >= BAR_INTERVAL_S:
            self._last_bar = now
            self.bar.value = self.steps[-1] if self.steps else 0
            self.label.value = self.summary() if final else self.status()
            if final:
                self.bar.bar_style = "success"
                if self.verdict and self.steps:
                    self.bar.max, self.bar.description = self.steps[-1], "done"
        # Wait longer between redraws when drawing is slow, so it stays within the budget.
        if final or now - self._last_draw >= max(self.min_redraw_s, self._draw_cost / self.draw_budget):
            self._redraw()
            self._last_draw = time.perf_counter()
            self._draw_cost = self._last_draw - now

    def _redraw(self) -> None:
        """Draw the episodes' lines over the saved background and send the result as a PNG.

        Only the lines are drawn: the axes, ticks and labels (most of the cost of a full
        matplotlib draw) never change, since the axis limits are fixed.
        """
        self.lines["return"].set_data(self.steps, self.returns)
        self.lines["average"].set_data(self.steps, moving_average(self.returns, self.window))
        self.lines["epsilon"].set_data(self.steps, self.epsilons)
        self.canvas.restore_region(self.background)
        for line in self.lines.values():
            line.axes.draw_artist(line)
        self.image.value = iio.imwrite("<bytes>", np.asarray(self.canvas.buffer_rgba()), extension=".png")
        self.redraws += 1
