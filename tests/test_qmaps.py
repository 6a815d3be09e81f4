"""The Q-value maps of notebook 6: pale terminal angles, labelled limits, visited states, darkened ties."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from utils.cartpole_physics import bare_simulator, certain_fall_step, certain_fall_steps  # noqa: E402
from utils.plotting import draw_q_value_maps, q_value_maps  # noqa: E402

ANGLES = np.linspace(-0.25, 0.25, 11)
VELOCITIES = np.linspace(-2.0, 2.0, 9)
LIMIT = 0.2094


@pytest.fixture
def maps():
    """Value and action grids of the right shape, (angles, velocities)."""
    theta, theta_dot = np.meshgrid(ANGLES, VELOCITIES, indexing="ij")
    return -np.abs(theta + 0.1 * theta_dot), (theta + 0.1 * theta_dot > 0).astype(int)


def legend_labels(fig) -> list:
    """The texts of the figure-level legend."""
    return [text.get_text() for text in fig.legends[0].get_texts()]


def shades(ax) -> list:
    """The RGBA images laid over the map on `ax` (the map itself is the first image)."""
    return [image.get_array() for image in ax.get_images()[1:]]


def test_plain_maps_show_both_panels_and_the_actions(maps):
    fig = draw_q_value_maps(ANGLES, VELOCITIES, *maps)
    left, right = fig.axes[:2]
    assert left.get_images()[0].get_array().shape == (VELOCITIES.size, ANGLES.size)
    assert legend_labels(fig) == ["greedy action 0: push left", "greedy action 1: push right"]
    assert right.get_xlim() == pytest.approx((ANGLES[0], ANGLES[-1]))
    plt.close(fig)


def test_terminal_angles_are_pale_and_the_limits_labelled(maps):
    fig = draw_q_value_maps(ANGLES, VELOCITIES, *maps, angle_limit=LIMIT)
    for ax in fig.axes[:2]:
        spans = [patch for patch in ax.patches if isinstance(patch, Rectangle)]
        covered = sorted((round(span.get_x(), 4), round(span.get_x() + span.get_width(), 4)) for span in spans)
        assert covered == [(-0.25, -LIMIT), (LIMIT, 0.25)]
        assert sorted(line.get_xdata()[0] for line in ax.get_lines()) == pytest.approx([-LIMIT, LIMIT])
    assert sum("termination limits" in label for label in legend_labels(fig)) == 1
    plt.close(fig)


def test_visited_states_are_dots_on_both_maps(maps):
    visited = np.array([[0.01, -0.2], [-0.03, 0.4], [0.0, 0.0]])
    fig = draw_q_value_maps(ANGLES, VELOCITIES, *maps, visited=visited)
    for ax in fig.axes[:2]:
        dots = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(dots) == 1 and np.array_equal(dots[0].get_offsets(), visited)
    assert any("visited" in label for label in legend_labels(fig))
    plt.close(fig)


def test_ties_are_darkened_on_the_action_map_only(maps):
    ties = np.zeros((ANGLES.size, VELOCITIES.size), dtype=bool)
    ties[-3:, -2:] = True
    ties[0, 0] = True  # a single grid point must show too
    fig = draw_q_value_maps(ANGLES, VELOCITIES, *maps, ties=ties)
    left, right = fig.axes[:2]
    assert shades(left) == [] and len(shades(right)) == 1
    alpha = shades(right)[0][..., 3]
    assert alpha.shape == (VELOCITIES.size, ANGLES.size)
    assert np.array_equal(alpha > 0, ties.T) and alpha.max() < 1, "dark but see-through, only on the ties"
    assert any("doomed tie" in label for label in legend_labels(fig))
    plt.close(fig)


def test_q_value_maps_shows_the_figure(maps, monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(plt.gcf()))
    q_value_maps(ANGLES, VELOCITIES, *maps, angle_limit=LIMIT)
    assert len(shown) == 1 and len(shown[0].legends) == 1
    plt.close("all")


def test_doomed_ties_are_found_with_the_simulator():
    states = np.array([[0.0, 0.0, 0.0, 0.0],     # upright at rest: the actions matter
                       [0.0, 0.0, 0.2, 1.0],     # θ + τθ̇ = 0.22 > 0.2094: falls on step 1 whatever is done
                       [0.0, 0.0, 0.3, 0.0]])    # beyond the limit: not a state, reported as 0
    assert certain_fall_steps(states).tolist() == [0, 1, 0]
    simulator = bare_simulator()
    assert certain_fall_step(simulator, [0.0, 0.0, 0.19, 0.9]) >= 1
    assert certain_fall_step(simulator, [0.0, 0.0, 0.19, 0.9], horizon=0) == 0
