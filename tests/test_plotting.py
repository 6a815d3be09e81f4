"""The cart-pole diagram draws gymnasium's sign convention and limits."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.plotting import cartpole_diagram
from utils.seeding import make_env


@pytest.fixture()
def shown(monkeypatch):
    """The figures the plotting helpers show, instead of showing them."""
    figures = []
    monkeypatch.setattr(plt, "show", lambda: figures.append(plt.gcf()))
    yield figures
    plt.close("all")


def test_diagram_leans_the_pole_right_for_a_positive_angle_as_gymnasium_does(shown):
    # gymnasium: from the upright rest state, pushing right (action 1) tips the pole left (θ' < 0).
    env = make_env(0)
    env.unwrapped.state = np.zeros(4)
    _, x_velocity, _, angular_velocity = env.step(1)[0]
    assert x_velocity > 0 > angular_velocity
    cartpole_diagram(angle=0.1)
    (pole,) = [line for line in shown[0].axes[0].get_lines() if line.get_gid() == "pole"]
    (hinge_x, tip_x), (hinge_y, tip_y) = pole.get_xdata(), pole.get_ydata()
    assert tip_x - hinge_x == pytest.approx(np.sin(0.1)) and tip_y > hinge_y


def test_diagram_marks_the_environment_limits_and_actions(shown):
    env = make_env(0).unwrapped
    cartpole_diagram(x_limit=env.x_threshold, angle_limit=env.theta_threshold_radians)
    ax = shown[0].axes[0]
    texts = " ".join(text.get_text() for text in ax.texts)
    assert all(label in texts for label in ("0: push left", "1: push right", "x = +2.4", "x = -2.4", "±12°", "θ > 0"))
    verticals = {line.get_xdata()[0] for line in ax.get_lines() if list(line.get_xdata()) == [line.get_xdata()[0]] * 2}
    assert {-2.4, 2.4} <= verticals
