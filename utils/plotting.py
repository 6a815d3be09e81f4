"""Small matplotlib helpers for the notebooks' figures; each draws one figure and shows it."""
import matplotlib.pyplot as plt
import numpy as np


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


def q_value_maps(angles, angular_velocities, values, actions, angle_limit=None) -> None:
    """Two heat maps over (pole angle, angular velocity): max_a Q and the greedy action."""
    extent = (angles[0], angles[-1], angular_velocities[0], angular_velocities[-1])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    image = left.imshow(np.asarray(values).T, origin="lower", extent=extent, aspect="auto", cmap="viridis")
    fig.colorbar(image, ax=left, label="max_a Q(s, a)")
    right.imshow(np.asarray(actions).T, origin="lower", extent=extent, aspect="auto", cmap="coolwarm", vmin=0, vmax=1)
    right.plot([], [], "s", color=plt.cm.coolwarm(0.0), label="0: push left")
    right.plot([], [], "s", color=plt.cm.coolwarm(1.0), label="1: push right")
    right.legend(loc="upper right")
    for ax, title in ((left, "learned value max_a Q"), (right, "greedy action")):
        if angle_limit is not None:
            for sign in (-1, 1):
                ax.axvline(sign * angle_limit, color="white", linestyle=":")
        ax.set(xlabel="pole angle (rad)", title=title + " (cart at rest at 0)")
    left.set_ylabel("pole angular velocity (rad/s)")
    fig.tight_layout()
    plt.show()
