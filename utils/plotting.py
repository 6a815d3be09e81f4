"""Small matplotlib helpers for the notebooks' figures; each draws one figure and shows it."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch


def pair_scatter(panels: dict, label: str) -> None:
    """One scatter panel per `{title: (x, y)}`, each titled with the correlation of x and y."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4), sharex=True, sharey=True)
    for ax, (title, (x, y)) in zip(np.atleast_1d(axes), panels.items()):
        ax.scatter(x, y, s=5, alpha=0.4)
        ax.set(title=f"{title}\ncorrelation {np.corrcoef(x, y)[0, 1]:.2f}",
               xlabel=f"{label}, row k", ylabel=f"{label}, row k+1")
    fig.tight_layout()
    plt.show()


def line_plot(x, curves: dict, xlabel: str, ylabel: str, title: str = "", hlines: dict | None = None) -> None:
    """Plot every `{label: y}` against `x` on one axis, with dotted horizontal `{label: level}` lines."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for label, y in curves.items():
        ax.plot(x, y, label=label)
    for label, level in (hlines or {}).items():
        ax.axhline(level, linestyle=":", color="grey", label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend()
    fig.tight_layout()
    plt.show()


def learning_curve(episode_end_steps, episode_returns, check_steps=(), check_returns=(), threshold=None,
                   window: int = 20) -> None:
    """Training returns against env steps, their running mean, the greedy checks and the solved line."""
    returns = np.asarray(episode_returns, dtype=float)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(episode_end_steps, returns, color="tab:blue", alpha=0.3, linewidth=0.8, label="training episode (ε-greedy)")
    if len(returns) >= window:
        running = np.convolve(returns, np.ones(window) / window, mode="valid")
        ax.plot(episode_end_steps[window - 1:], running, color="tab:blue", label=f"mean of last {window} episodes")
    if len(check_steps):
        ax.plot(check_steps, check_returns, "o", color="tab:orange", label="greedy check (mean return)")
    if threshold is not None:
        ax.axhline(threshold, linestyle=":", color="grey", label=f"solved ({threshold:g})")
    ax.set(xlabel="environment steps", ylabel="episode return", title="Learning curve")
    ax.legend(loc="upper left")
    fig.tight_layout()
    plt.show()


def return_histograms(runs: dict, threshold=None, max_return: float = 500.0) -> None:
    """Overlaid histograms of `{label: episode returns}` on a common 0..max_return axis."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    bins = np.linspace(0, max_return, 51)
    for label, returns in runs.items():
        ax.hist(np.clip(returns, 0, max_return), bins=bins, alpha=0.6, label=f"{label} (mean {np.mean(returns):.1f})")
    if threshold is not None:
        ax.axvline(threshold, linestyle=":", color="grey", label=f"solved threshold ({threshold:g})")
    ax.set(xlabel="episode return", ylabel="episodes", title="Distribution of greedy returns")
    ax.legend()
    fig.tight_layout()
    plt.show()


TIE_SHADE_ALPHA = 0.5
"""How much `shade_cells` darkens a doomed tie on the action map."""


def q_value_maps(angles, angular_velocities, values, actions, angle_limit=None, visited=None, ties=None) -> None:
    """Two heat maps over (pole angle, angular velocity): max_a Q and the greedy action; see draw_q_value_maps."""
    draw_q_value_maps(angles, angular_velocities, values, actions, angle_limit, visited, ties)
    plt.show()


def draw_q_value_maps(angles, angular_velocities, values, actions, angle_limit=None, visited=None, ties=None):
    """The figure of `q_value_maps`, with its optional overlays; returns it.

    `values` and `actions` are (len(angles), len(angular_velocities)) grids. `angle_limit`
    pales out the terminal angles |θ| > limit; `visited` is an (n, 2) array of (θ, θ̇) a
    policy passed through, drawn as dots; `ties` is a bool grid darkened on the action map.
    """
    extent = (angles[0], angles[-1], angular_velocities[0], angular_velocities[-1])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True, layout="constrained")
    image = left.imshow(np.asarray(values).T, origin="lower", extent=extent, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=left, label=r"$\mathrm{max}_a\, Q(s, a)$")
    right.imshow(np.asarray(actions).T, origin="lower", extent=extent, aspect="auto", cmap="coolwarm", vmin=0, vmax=1)
    handles = [Patch(color=plt.cm.coolwarm(0.0), label="greedy action 0: push left"),
               Patch(color=plt.cm.coolwarm(1.0), label="greedy action 1: push right")]
    if ties is not None:
        handles.append(shade_cells(right, ties, extent))
    for ax, title in ((left, r"learned value $\mathrm{max}_a\, Q$"), (right, "greedy action")):
        # The same overlays on both maps, so one legend entry each is enough.
        overlays = [] if angle_limit is None else grey_out_terminal_angles(ax, angle_limit, extent)
        if visited is not None:
            overlays.append(ax.scatter(*np.asarray(visited).T, s=1, color="black", alpha=0.3,
                                       label=r"states the greedy policy visited (any $x$, $\dot x$)"))
        ax.set(xlim=extent[:2], ylim=extent[2:], xlabel=r"pole angle $\theta$ (rad)",
               title=title + " (cart at rest at 0)")
    left.set_ylabel(r"pole angular velocity $\dot\theta$ (rad/s)")
    fig.legend(handles=handles + overlays, loc="outside lower center", ncol=3, fontsize=8)
    return fig


def grey_out_terminal_angles(ax, angle_limit: float, extent) -> list:
    """Pale out |θ| > angle_limit (terminal: the network is never trained there); return legend handles."""
    for low, high in ((extent[0], -angle_limit), (angle_limit, extent[1])):
        ax.axvspan(low, high, color="lightgrey", alpha=0.85, linewidth=0)
    label = rf"termination limits $\theta = \pm{angle_limit:.4f}$ rad (beyond, pale: terminal)"
    lines = [ax.axvline(sign * angle_limit, color="black", linestyle=":", label=label) for sign in (-1, 1)]
    return lines[:1]  # both lines are one legend entry


def shade_cells(ax, mask, extent):
    """Darken the grid cells where `mask` (len(angles), len(angular_velocities)) is True; return a legend handle."""
    # An RGBA image with one pixel per grid point: even the thinnest bands of the mask show.
    shade = np.zeros(np.asarray(mask).T.shape + (4,))
    shade[np.asarray(mask).T, 3] = TIE_SHADE_ALPHA
    ax.imshow(shade, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    return Patch(color="black", alpha=TIE_SHADE_ALPHA, label="doomed tie: every action sequence falls on the same step")


def cartpole_diagram(angle: float = 0.1, x_limit: float = 2.4, angle_limit: float = np.radians(12),
                     pole_length: float = 1.0) -> None:
    """CartPole's coordinates, to scale: cart, pole at `angle` (rad), the two actions, the termination limits."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    cart_width, cart_height = 0.5, 0.3
    hinge = np.array([0.0, cart_height])

    def from_hinge(theta: float, length: float) -> np.ndarray:
        """The point `length` from the hinge in direction θ (measured from the vertical, positive to the right)."""
        return hinge + length * np.array([np.sin(theta), np.cos(theta)])

    ax.plot([-x_limit - 0.4, x_limit + 0.4], [0, 0], color="black", linewidth=1)
    ax.add_patch(plt.Rectangle((-cart_width / 2, 0), cart_width, cart_height, color="dimgrey"))
    for sign in (-1, 1):
        ax.axvline(sign * x_limit, color="tab:red", linestyle="--", linewidth=1)
        ax.text(sign * (x_limit - 0.08), 1.45, f"x = {sign * x_limit:+g}\nterminated beyond",
                ha="right" if sign > 0 else "left", va="bottom", color="tab:red", fontsize=9)
        ax.plot(*np.transpose([hinge, from_hinge(sign * angle_limit, 1.3 * pole_length)]), color="tab:red",
                linestyle="--", linewidth=1)
    ax.text(*from_hinge(angle_limit, 1.3 * pole_length), f" θ = ±{np.degrees(angle_limit):.0f}°: terminated beyond",
            color="tab:red", fontsize=9, va="bottom")
    ax.plot(*np.transpose([hinge, from_hinge(0, 1.3 * pole_length)]), color="grey", linestyle=":", linewidth=1)
    ax.plot(*np.transpose([hinge, from_hinge(angle, pole_length)]), color="tab:orange", linewidth=4,
            solid_capstyle="round", gid="pole")
    ax.plot(*np.transpose([from_hinge(theta, 0.75 * pole_length) for theta in np.linspace(0, angle, 20)]),
            color="black", linewidth=1)
    ax.text(*from_hinge(angle, 0.75 * pole_length), "  θ > 0", va="center")
    for sign, name in ((-1, "0: push left"), (1, "1: push right")):
        side = sign * cart_width / 2
        ax.annotate("", xy=(side + sign * 0.6, cart_height / 2), xytext=(side, cart_height / 2),
                    arrowprops={"arrowstyle": "-|>", "color": "tab:blue", "linewidth": 2})
        ax.text(side + sign * 0.35, cart_height / 2 + 0.08, name, ha="center", va="bottom", color="tab:blue")
    ax.annotate("", xy=(1.0, -0.25), xytext=(0, -0.25), arrowprops={"arrowstyle": "-|>"})
    ax.text(0, -0.3, "x = 0", ha="center", va="top")
    ax.text(1.0, -0.3, "x > 0", ha="center", va="top")
    ax.set(xlim=(-x_limit - 0.5, x_limit + 0.5), ylim=(-0.55, 1.9), aspect="equal",
           title="CartPole: x > 0 right of the centre, θ > 0 pole leaning right")
    ax.axis("off")
    fig.tight_layout()
    plt.show()


def ablation_figure(bands: dict, summaries: dict, show_seeds: bool = True) -> None:
    """Notebook 7's three panels for the variants in `summaries`: see draw_ablation_panels."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    draw_ablation_panels(axes, bands, summaries, show_seeds)
    plt.show()


def draw_ablation_panels(axes, bands: dict, summaries: dict, show_seeds: bool = True) -> None:
    """Greedy-check curves (IQM and 95% band), final scores and steps to solve (IQM, 95% interval, each seed).

    `bands` and `summaries` map a variant to `utils.ablation.curve_band` and
    `variant_summary`; single seeds are drawn beside the aggregate when `show_seeds`.
    """
    curves, scores, steps = axes
    colors = dict(zip(summaries, plt.cm.tab10.colors))
    for variant, band in bands.items():
        if variant not in summaries:
            continue
        if show_seeds:
            curves.plot(band["steps"], band["runs"].T, color=colors[variant], alpha=0.15, linewidth=0.7)
        curves.plot(band["steps"], band["iqm"], color=colors[variant], label=variant)
        curves.fill_between(band["steps"], band["low"], band["high"], color=colors[variant], alpha=0.25)
    curves.set(xlabel="environment steps", ylabel="greedy check (mean return)", ylim=(0, 510),
               title="learning curves: IQM over seeds, 95% band")
    curves.legend(fontsize=8, loc="lower right")
    for ax, values, label in ((scores, "scores", "final greedy score (100 held-out episodes)"),
                              (steps, "steps", "env steps to the first confirmed 500")):
        statistic = "score" if values == "scores" else "steps"  # variant_summary's key prefix
        for row, (variant, summary) in enumerate(summaries.items()):
            low, high = summary[f"{statistic}_ci"]
            ax.plot([low, high], [row, row], color=colors[variant], linewidth=6, alpha=0.5, solid_capstyle="butt")
            ax.plot(summary[f"{statistic}_iqm"], row, "|", color="black", markersize=14)
            if show_seeds:
                jitter = np.linspace(-0.25, 0.25, len(summary[values]))  # spread the seeds' dots vertically
                ax.scatter(summary[values], row + jitter, s=10, color=colors[variant], edgecolor="black",
                           linewidth=0.3, zorder=3)
        ax.set_yticks(range(len(summaries)), list(summaries))
        ax.invert_yaxis()
        ax.set(xlabel=label, title="IQM (|), 95% interval (bar)" + (", seeds (dots)" if show_seeds else ""))


def performance_profiles(profiles: dict, xlabel: str = "final greedy score τ",
                         ylabel: str = "fraction of runs scoring above τ") -> None:
    """Fraction of runs better than τ, against τ, with 95% bands: one line per `{variant: profile}`."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for variant, profile in profiles.items():
        line, = ax.plot(profile["thresholds"], profile["fraction"], label=variant, drawstyle="steps-post")
        ax.fill_between(profile["thresholds"], profile["low"], profile["high"], step="post",
                        color=line.get_color(), alpha=0.15)
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(-0.02, 1.02), title="performance profiles (95% bands)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.show()


def coordinate_histograms(rows: dict, xlabel: str, goal: float | None = None) -> None:
    """Where training went: the share of steps in each bin of the first observation coordinate, one panel per run.

    `rows` maps a label to a `utils.tasks.run_task` row (its `coordinate_edges` and
    `coordinate_counts`); `goal` draws the goal's position as a dotted line.
    """
    fig, axes = plt.subplots(1, len(rows), figsize=(5 * len(rows), 3.4), sharey=True, squeeze=False)
    for ax, (label, row) in zip(axes[0], rows.items()):
        edges, counts = np.asarray(row["coordinate_edges"]), np.asarray(row["coordinate_counts"], dtype=float)
        ax.bar(edges[:-1], counts / counts.sum(), width=np.diff(edges), align="edge", edgecolor="white")
        if goal is not None:
            ax.axvline(goal, color="black", linestyle=":", label=f"goal ({goal})")
            ax.legend(fontsize=8)
        ax.set(xlabel=xlabel, title=f"{label}\n{row['goal_episodes']} training episodes reached the goal")
    axes[0][0].set_ylabel("share of training steps")
    fig.tight_layout()
    plt.show()
