"""Checks of notebook 7: right answers pass, typical mistakes are named, in the notebook and in grading runs."""
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from utils import networks, nstep, prioritized
from utils import stats as course_stats
from utils.checks import (CheckFailed, ExerciseNotDone, check_dueling_network, check_iqm_bootstrap,
                          check_n_step_targets, check_per_weights, check_prioritized_slots, check_sum_tree)
from utils.checks import beyond
from test_checks_core import AlwaysCloseArray, Anything, RegisteredIntegral, RegisteredReal, SneakyFloat, assert_graded, graded

# Some wrong answers below warn as they compute (NaN or infinite values), as they would in the notebook.
WARNS = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# --- 7.1 ------------------------------------------------------------------------------------

class Dueling(nn.Module):
    """A right answer with separate trunk layers; the mistakes below change one thing."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden)
        self.value_head, self.advantage_head = nn.Linear(hidden, 1), nn.Linear(hidden, n_actions)

    def features(self, x):
        return torch.relu(self.fc2(torch.relu(self.fc1(x))))

    def combine(self, v, a):
        return v + a - a.mean(dim=-1, keepdim=True)

    def forward(self, x):
        f = self.features(x)
        return self.combine(self.value_head(f), self.advantage_head(f))


class SequentialTrunk(nn.Module):
    """The course's network as a student might write it in the exercise cell (a Sequential trunk)."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.value_head = nn.Linear(hidden, 1)
        self.advantage_head = nn.Linear(hidden, n_actions)

    def forward(self, states):
        features = self.trunk(states)
        advantages = self.advantage_head(features)
        return self.value_head(features) + advantages - advantages.mean(dim=-1, keepdim=True)


class HeadsFirstSequential(nn.Module):
    """Heads registered before a Sequential trunk with in-place ReLUs; mean then unsqueeze."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.value_head, self.advantage_head = nn.Linear(hidden, 1), nn.Linear(hidden, n_actions)
        self.trunk = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden),
                                   nn.ReLU(inplace=True))

    def forward(self, states):
        features = self.trunk(states)
        advantages = self.advantage_head(features)
        return self.value_head(features).expand_as(advantages) + advantages - advantages.mean(-1).unsqueeze(-1)


class FunctionalRelu(Dueling):
    def features(self, x):
        return F.relu(self.fc2(F.relu(self.fc1(x))))

    def combine(self, v, a):
        return v + (a - torch.mean(a, dim=a.dim() - 1, keepdim=True))


def combining(combine):
    """A Dueling network whose heads are combined by `combine(v, a)`."""
    return type("Combined", (Dueling,), {"combine": lambda self, v, a: combine(v, a)})


def with_features(features):
    """A Dueling network whose trunk output is `features(net, x)`."""
    return type("Trunk", (Dueling,), {"features": features})


class Float64Inside(Dueling):
    """Right: float64 layers inside, float32 states in and Q-values out."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.double()

    def forward(self, x):
        return super().forward(x.double()).float()


def test_a_network_computing_in_float64_inside_passes(capsys):
    check_dueling_network(Float64Inside)  # red team c5: its float64 trunk output crashed the check's comparison
    assert "passed" in capsys.readouterr().out
    assert_graded(check_dueling_network, (Float64Inside,), "passed")


class NoValueBias(Dueling):
    """Wrong: the value head without its bias."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.value_head = nn.Linear(hidden, 1, bias=False)


class AdvantageOne(Dueling):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.advantage_head = nn.Linear(hidden, 1)


class ValuePerAction(Dueling):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.value_head = nn.Linear(hidden, n_actions)


class OtherHeadNames(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden)
        self.value, self.advantage = nn.Linear(hidden, 1), nn.Linear(hidden, n_actions)


class HiddenFixed(Dueling):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, 128)


class ExtraTrunkLayer(Dueling):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.fc3 = nn.Linear(hidden, hidden)


class NoValueHead(Dueling):
    def forward(self, x):
        a = self.advantage_head(self.features(x))
        return a - a.mean(dim=-1, keepdim=True)


class BatchOfOne(Dueling):
    """Works on a batch only: a single state comes back as (1, n_actions)."""

    def forward(self, x):
        return super().forward(x if x.dim() == 2 else x.unsqueeze(0))


class PythonListTrunk(nn.Module):
    """The trunk's layers in a plain list: not registered, so not trained (nor moved by .to())."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.layers = [nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden)]
        self.value_head, self.advantage_head = nn.Linear(hidden, 1), nn.Linear(hidden, n_actions)

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x))
        a = self.advantage_head(x)
        return self.value_head(x) + a - a.mean(dim=-1, keepdim=True)


class NoSuperInit(PythonListTrunk):
    """Forgets super().__init__(): assigning the first layer fails."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        self.trunk = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU())


def centred_in_place(v, a):
    a -= a.mean(dim=-1, keepdim=True)  # changes the advantage head's output tensor itself
    return v + a


class NoGrad(Dueling):
    def forward(self, x):
        with torch.no_grad():
            return super().forward(x)


class DetachedStream(Dueling):
    """Right Q-values, but one head reads the trunk's output detached: its gradient never reaches the trunk."""

    detached = "value_head"

    def forward(self, x):
        f = self.features(x)
        heads = {name: getattr(self, name)(f.detach() if name == self.detached else f)
                 for name in ("value_head", "advantage_head")}
        return self.combine(heads["value_head"], heads["advantage_head"])


class DetachedAdvantage(DetachedStream):
    detached = "advantage_head"


class AllSizesWrittenIn(Dueling):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()


class OnlyDefaults(Dueling):
    def __init__(self):
        super().__init__()


class WithDropout(Dueling):
    """A Dropout after the trunk's first ReLU: the network is random in training mode."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.dropout = nn.Dropout(0.2)

    def features(self, x):
        return torch.relu(self.fc2(self.dropout(torch.relu(self.fc1(x)))))


class RiggedParameter(nn.Parameter):
    """A parameter whose subclass could override torch.allclose through __torch_function__."""


class RiggedDueling(Dueling):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.value_head.bias = RiggedParameter(self.value_head.bias.detach())


class NotDoneDueling(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        raise NotImplementedError("Exercise 7.1: DuelingQNetwork")


class WrapsTheCourse(nn.Module):
    """Builds the course's network inside and answers with it."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.inner = networks.DuelingQNetwork(obs_dim, n_actions, hidden)
        self.value_head, self.advantage_head = self.inner.value_head, self.inner.advantage_head

    def forward(self, states):
        return self.inner(states)


RIGHT_DUELING = (Dueling, SequentialTrunk, HeadsFirstSequential, FunctionalRelu)


def test_right_dueling_networks_pass(capsys):
    for network_class in RIGHT_DUELING:
        check_dueling_network(network_class)
    assert capsys.readouterr().out.count("passed") == 4


def test_advantages_centred_in_place_pass(capsys):
    """Red team b: the gradient probe must not read the head's output after the forward changed it in place."""
    check_dueling_network(combining(centred_in_place))
    assert "passed" in capsys.readouterr().out
    assert_graded(check_dueling_network, (combining(centred_in_place),), "passed")


def test_the_course_dueling_network_is_refused():
    with pytest.raises(CheckFailed, match="course's own `utils.networks.DuelingQNetwork`"):
        check_dueling_network(networks.DuelingQNetwork)


def test_a_network_that_wraps_the_course_network_is_refused():
    with pytest.raises(CheckFailed, match="calls the course's own `utils.networks.DuelingQNetwork`"):
        check_dueling_network(WrapsTheCourse)


def test_an_unfinished_dueling_network_is_not_done():
    with pytest.raises(ExerciseNotDone, match="Exercise 7.1: DuelingQNetwork is not done yet"):
        check_dueling_network(NotDoneDueling)


# hidden set B of issue 18: each mistake named by its kind (also written another way), in notebook and grading runs
DUELING_NAMED = [
    (combining(lambda v, a: v + a - v.mean(dim=-1, keepdim=True)), "the mean of V, not of A, is subtracted"),
    (combining(lambda v, a: v + a - v.mean()), "the mean of V over the batch, not the mean of A, is subtracted"),
    (combining(lambda v, a: torch.relu(v) + torch.relu(a) - torch.relu(a).mean(dim=-1, keepdim=True)),
     "a ReLU on both heads' outputs.*Hint: V and A are linear outputs, no activation"),
    (combining(lambda v, a: v + a - a.max()), r"one number, -?[\d.]+, is subtracted from every Q-value of the batch.*"
                                              r"Hint: subtract each state's own mean advantage"),
    (combining(lambda v, a: v + a - a.min() / 2), "is subtracted from every Q-value of the batch"),
    (combining(lambda v, a: v + a - a.max(dim=0).values), "each action's Q-values have the same number "
                                                          r"subtracted in every state: it is reduced over the batch"),
    (AllSizesWrittenIn, r"built the layers of obs_dim=4, n_actions=2, hidden=128: the sizes are written in, so the "
                        "arguments obs_dim, n_actions, hidden are ignored"),
    (DetachedStream, r"DuelingQNetwork\(\): V's gradient never reaches the shared trunk.*Hint: feed value_head the "
                     r"trunk's output itself: V = self.value_head\(features\), without .detach\(\)"),
    (DetachedAdvantage, "A's gradient never reaches the shared trunk"),
    # red team c: a head without its bias (its Q-values were named as a wrong combination of V and A)
    (NoValueBias, r"DuelingQNetwork\(\) has a linear layer without a bias \(bias=False\), in value_head.*Hint: keep "
                  r"nn.Linear's default bias=True"),
    # red team: super().__init__() forgotten, named by the hint every nn.Module exercise gives
    (NoSuperInit, r"raised AttributeError: cannot assign module before Module.__init__\(\) call.*Hint: an nn.Module "
                  r"subclass must call super\(\).__init__\(\) first in its __init__"),
]


DUELING_MISTAKES = [
    (combining(lambda v, a: v + a - a.mean(dim=-1, keepdim=True).detach()),
     r"the mean of A is subtracted within the graph.*the mean is cut from the gradient \(\.detach\(\)\)"),
    (combining(lambda v, a: v + a),
     r"^Exercise 7.1 \(DuelingQNetwork\): DuelingQNetwork\(\)'s output is not V \+ A − mean over the actions of "
     r"A .*: the mean advantage is not subtracted \(Q = V \+ A\).* Hint: Q = V \+ A − "
     r"A.mean\(dim=-1, keepdim=True\)\.$"),
    (combining(lambda v, a: v + a - a.max(dim=-1, keepdim=True).values),
     "subtracts the largest advantage, not the mean"),
    (combining(lambda v, a: v + a - a.mean(dim=0, keepdim=True)), r"mean is taken over the batch \(dim 0\)"),
    (combining(lambda v, a: v + a - a.mean(dim=0)), r"mean is taken over the batch \(dim 0\)"),
    (combining(lambda v, a: v + a - a.mean()), "every advantage of the batch at once"),
    (combining(lambda v, a: v + a - a.mean(dim=-1)), r"raised RuntimeError: .*\(line \d+ of your code: .*Hint: keep "
                                                     r"the action dimension"),
    (combining(lambda v, a: v.squeeze(-1) + a - a.mean(dim=-1, keepdim=True)),
     r"raised RuntimeError: .*Hint: keep V's last dimension"),
    (combining(lambda v, a: v + a - a.mean(dim=1, keepdim=True)), r"fails on a single state of shape \(4,\): it raised "
                                                                  r"IndexError.*Hint: take the mean over the last"),
    (combining(lambda v, a: v + a + a.mean(dim=-1, keepdim=True)), "the mean advantage is added, not subtracted"),
    (combining(lambda v, a: v - a + a.mean(dim=-1, keepdim=True)), "the advantages enter with the wrong sign"),
    (combining(lambda v, a: v + a - a.median(dim=-1, keepdim=True).values), "subtracts the median advantage"),
    (combining(lambda v, a: torch.relu(v) + a - a.mean(dim=-1, keepdim=True)), "ReLU on V"),
    (combining(lambda v, a: v + torch.relu(a) - torch.relu(a).mean(dim=-1, keepdim=True)), "ReLU on A"),
    (combining(lambda v, a: torch.relu(v + a - a.mean(dim=-1, keepdim=True))), "a ReLU on the output"),
    (combining(lambda v, a: torch.tanh(v + a - a.mean(dim=-1, keepdim=True))), "a tanh on the output"),
    (combining(lambda v, a: torch.softmax(v + a - a.mean(dim=-1, keepdim=True), dim=-1)), "a softmax on the output"),
    (AdvantageOne, r"advantage_head is Linear\(128, 1\); expected Linear\(128, 2\): one advantage A\(s, a\) per "
                   "action"),
    (ValuePerAction, r"value_head is Linear\(128, 2\); expected Linear\(128, 1\): V\(s\) is one number per state"),
    (with_features(lambda net, x: torch.relu(net.fc2(net.fc1(x)))), "no ReLU between the two trunk layers"),
    (with_features(lambda net, x: net.fc2(torch.relu(net.fc1(x)))), "no ReLU after the trunk's second layer"),
    (OtherHeadNames, r"DuelingQNetwork\(\).value_head is None; expected an nn.Linear.*names the two heads"),
    (HiddenFixed, r"DuelingQNetwork\(obs_dim=6, n_actions=3, hidden=32\) built the layers of hidden=128: the sizes "
                  r"are written in, so the argument hidden is ignored\. Hint: size every layer with the arguments"),
    (ExtraTrunkLayer, r"has the linear layers Linear\(4, 128\), Linear\(128, 128\), Linear\(128, 128\) besides"),
    (NoValueHead, r"forward never calls self.value_head"),
    (BatchOfOne, r"single state of shape \(4,\) returned a tensor of shape \(1, 2\).*; expected shape \(2,\)"),
    (NoGrad, "does not require grad"),
    (WithDropout, "gives other Q-values when called again on the same states.*Dropout"),
    (OnlyDefaults, r"raised TypeError.*keep the signature"),
    (RiggedDueling, r"DuelingQNetwork\(\) holds a parameter that is not an nn.Parameter"),
    # issue 18: a mean written for two actions, and a mean of V + A that cancels V (each written two ways)
    (combining(lambda v, a: v + a - ((a[..., 0] + a[..., 1]) / 2).unsqueeze(-1)),
     r"DuelingQNetwork\(obs_dim=6, n_actions=3, hidden=32\)'s output .*: the mean is written for 2 actions, but this "
     r"network has 3: it averages A\[..., 0\] and A\[..., 1\] only"),
    (combining(lambda v, a: v + a - a.sum(dim=-1, keepdim=True) / 2), "it divides the sum of the advantages by 2"),
    (combining(lambda v, a: (v + a) - (v + a).mean(dim=-1, keepdim=True)),
     r"DuelingQNetwork\(\)'s output .*: it is A − mean A, without V: the mean is subtracted from V \+ A, so V cancels"),
    (combining(lambda v, a: v + a - torch.mean(v + a, -1, keepdim=True)), "so V cancels out"),
    # red team b: layers in a plain list, and V reshaped as if there were always a batch dimension
    (PythonListTrunk, r"DuelingQNetwork\(\).layers is a plain Python list of layers: layers kept in a plain Python "
                      r"list are not registered.*Hint: use nn.ModuleList / nn.Sequential"),
    (combining(lambda v, a: v.view(-1, 1) + a - a.mean(dim=-1, keepdim=True)),
     r"single state of shape \(4,\) returned a tensor of shape \(1, 2\).*; expected shape \(2,\): a batch dimension is "
     r"written in, as when V is reshaped with v.view\(-1, 1\) or v.repeat\(1, n_actions\)"),
    (combining(lambda v, a: v.repeat(1, a.shape[-1]) + a - a.mean(dim=-1, keepdim=True)), "a batch dimension is "
                                                                                           "written in"),
    (combining(lambda v, a: v.expand(-1, a.size(-1)) + a - a.mean(dim=-1, keepdim=True)),
     r"fails on a single state of shape \(4,\): it raised RuntimeError: .*Hint: expand\(-1, n_actions\) \(or "
     r"view\(-1, 1\)\) reshapes V as if there were always a batch dimension"),
] + DUELING_NAMED


@pytest.mark.parametrize("network_class, named", DUELING_MISTAKES)
def test_dueling_mistakes_are_named(network_class, named):
    with pytest.raises(CheckFailed, match=named):
        check_dueling_network(network_class)


@pytest.mark.parametrize("network_class, named", DUELING_NAMED)
def test_dueling_mistakes_are_named_in_grading_runs(network_class, named):
    verdict = graded(check_dueling_network, 3, network_class)
    assert verdict["status"] == "failed" and re.search(named, verdict["message"]), verdict


def notebook_table() -> dict:
    """The right Q-values of every state the notebook's check gives, keyed by the states' bytes."""
    table = {}
    for case in beyond.dueling_inputs(None)["cases"]:
        for states in (case["states"], case["state"]):
            table[states.tobytes()] = beyond._dueling_reference(case, torch.from_numpy(states).reshape(-1, len(
                states.T)))["q"].reshape(*states.shape[:-1], -1)
    return table


NOTEBOOK_Q = notebook_table()


class HardCodedDueling(SequentialTrunk):
    """Right layers, but the forward returns the Q-values the notebook's weights give, looked up."""

    def forward(self, states):
        features = self.trunk(states)
        self.value_head(features), self.advantage_head(features)
        return NOTEBOOK_Q[states.numpy().tobytes()] + 0 * features.sum()  # keeps the graph


def test_dueling_network_in_grading_runs():
    for network_class in (Dueling, SequentialTrunk):
        assert_graded(check_dueling_network, (network_class,), "passed")
    assert_graded(check_dueling_network, (combining(lambda v, a: v + a),), "failed", "mean advantage is not subtracted")
    assert_graded(check_dueling_network, (combining(lambda v, a: v + a - a.sum(dim=-1, keepdim=True) / 2),), "failed",
                  "the mean is written for 2 actions")
    assert_graded(check_dueling_network, (combining(lambda v, a: (v + a) - (v + a).mean(dim=-1, keepdim=True)),),
                  "failed", "so V cancels out")
    assert_graded(check_dueling_network, (with_features(lambda net, x: torch.relu(net.fc2(net.fc1(x)))),), "failed",
                  "no ReLU between the two trunk layers")
    check_dueling_network(HardCodedDueling)  # passes in the notebook
    assert_graded(check_dueling_network, (HardCodedDueling,), "failed")
    verdict = graded(check_dueling_network, 0, WrapsTheCourse)
    assert verdict["flags"] == ["calls the course's own `utils.networks.DuelingQNetwork`"]


def test_dueling_grading_inputs_change_every_size_and_weight():
    first, second = (beyond.dueling_inputs(np.random.default_rng(seed))["cases"][1] for seed in (1, 2))
    notebook = beyond.dueling_inputs(None)["cases"][1]
    assert notebook["sizes"] == beyond.DUELING_SMALL and first["sizes"] != second["sizes"]
    assert all(first["dims"][name] != beyond.DUELING_DEFAULTS[name] for name in first["dims"])


# --- 7.2 ------------------------------------------------------------------------------------

def n_step_loop(rewards, bootstrap_values, terminated, n, gamma):
    """The statement's formula, one start at a time."""
    length, targets = len(rewards), []
    for t in range(length):
        m = min(n, length - t)
        target = sum(gamma ** k * rewards[t + k] for k in range(m))
        if not (terminated and t + m == length):
            target += gamma ** m * bootstrap_values[t + m - 1]
        targets.append(target)
    return np.array(targets)


def n_step_vectorised(rewards, bootstrap_values, terminated, n, gamma):
    """With a matrix of discounts; returns a float32 array."""
    length = len(rewards)
    t, k = np.arange(length)[:, None], np.arange(length)[None, :]
    discounts = np.where((k >= t) & (k < t + n), gamma ** (k - t), 0.0)
    m = np.minimum(n, length - np.arange(length))
    alive = 1.0 - terminated * (np.arange(length) + m == length)
    return (discounts @ rewards + gamma ** m * bootstrap_values[np.arange(length) + m - 1] * alive).astype(np.float32)


def n_step_backwards(rewards, bootstrap_values, terminated, n, gamma):
    """Windows by slicing, collected in a list and returned as an array."""
    length, targets = len(rewards), []
    for t in range(length):
        window = rewards[t:t + n]
        end = t + len(window)
        bootstrap = 0.0 if terminated and end == length else bootstrap_values[end - 1]
        targets.append(float(np.dot(gamma ** np.arange(len(window)), window) + gamma ** len(window) * bootstrap))
    return np.array(targets)


def n_step_with(drops=lambda terminated, t, m, length: terminated and t + m == length, power=lambda m, n: m,
                value_index=lambda t, m: t + m - 1, reward_power=lambda k: k, starts=lambda length, n: length,
                window=lambda n, length, t: min(n, length - t), reversed_discounts=False, dtype=float,
                summed=lambda m: m):
    """n_step_loop with one of its parts done a usual wrong way."""
    def n_step_targets(rewards, bootstrap_values, terminated, n, gamma):
        length, targets = len(rewards), []
        for t in range(starts(length, n)):
            m = window(n, length, t)
            powers = [m - 1 - k if reversed_discounts else reward_power(k) for k in range(summed(m))]
            target = sum(gamma ** power_k * rewards[t + k] for k, power_k in enumerate(powers))
            if not drops(terminated, t, m, length):
                target += gamma ** power(m, n) * bootstrap_values[value_index(t, m)]
            targets.append(target)
        return np.array(targets, dtype=float).astype(dtype)
    return n_step_targets


def window_from_next_reward(rewards, bootstrap_values, terminated, n, gamma):
    """Sums r_(t+1) … r_(t+m), leaving out those past the episode's end."""
    length, targets = len(rewards), np.zeros(len(rewards))
    for t in range(length):
        m = min(n, length - t)
        targets[t] = sum(gamma ** k * rewards[t + k + 1] for k in range(m) if t + k + 1 < length)
        if not (terminated and t + m == length):
            targets[t] += gamma ** m * bootstrap_values[t + m - 1]
    return targets


def truncated_as_it_goes(rewards, bootstrap_values, terminated, n, gamma):
    """Written into an int array: the window's sum is truncated, then the sum with the bootstrap term again."""
    length = len(rewards)
    targets = np.zeros(length, dtype=int)
    for t in range(length):
        m = min(n, length - t)
        targets[t] = sum(gamma ** k * rewards[t + k] for k in range(m))
        if not (terminated and t + m == length):
            targets[t] += gamma ** m * bootstrap_values[t + m - 1]
    return targets


def full_windows(rewards, bootstrap_values, terminated, n, gamma):
    """Reads n rewards whatever the start: crashes past the episode's end."""
    return np.array([sum(gamma ** k * rewards[t + k] for k in range(n)) for t in range(len(rewards))])


def masked_for_every_step(rewards, bootstrap_values, terminated, n, gamma):
    """Vectorised, with the episode's terminated flag applied to every row's bootstrap."""
    length = len(rewards)
    m = np.minimum(n, length - np.arange(length))
    windows = np.array([np.dot(gamma ** np.arange(k), rewards[t:t + k]) for t, k in enumerate(m)])
    return windows + gamma ** m * bootstrap_values[np.arange(length) + m - 1] * (1 - terminated)


def n_discounts_always(rewards, bootstrap_values, terminated, n, gamma):
    """Dots n discounts with the window's rewards: the shapes differ once the window is cut at the episode's end."""
    length = len(rewards)
    targets = np.zeros(length)
    for t in range(length):
        m = min(n, length - t)
        targets[t] = np.dot(gamma ** np.arange(n), rewards[t:t + n])
        if not (terminated and t + m == length):
            targets[t] += gamma ** m * bootstrap_values[t + m - 1]
    return targets


def zeroes_the_last_value(rewards, bootstrap_values, terminated, n, gamma):
    """Right targets, but the terminal bootstrap is dropped by zeroing the caller's last value in place."""
    if terminated:
        bootstrap_values[-1] = 0.0
    return n_step_loop(rewards, bootstrap_values, False, n, gamma)


def scales_the_rewards(rewards, bootstrap_values, terminated, n, gamma):
    """Right targets, from rewards discounted in place (`rewards *= ...` on the caller's array)."""
    original = rewards.copy()
    rewards *= 1.0
    rewards += 1.0
    return n_step_loop(original, bootstrap_values, terminated, n, gamma)


RIGHT_N_STEP = (n_step_loop, n_step_vectorised, n_step_backwards)


@pytest.mark.parametrize("right", RIGHT_N_STEP)
def test_right_n_step_targets_pass(right, capsys):
    check_n_step_targets(right)
    assert "passed" in capsys.readouterr().out


N_STEP_MISTAKES = [
    (n_step_with(drops=lambda d, t, m, length: False),
     r"^Exercise 7.2 \(n_step_targets\): n_step_targets\(\[1.0, -0.5, 2.0, 0.25, 3.0\], .*terminated=True, n=3, "
     r"gamma=0.9\) returned .*, expected .*: it bootstraps after termination.*Hint: drop the bootstrap term"),
    (n_step_with(drops=lambda d, t, m, length: t + m == length), r"terminated=False, n=3.*truncation is treated as "
                                                                  r"termination"),
    (n_step_with(drops=lambda d, t, m, length: not d and t + m == length), "the two endings are swapped"),
    (masked_for_every_step, r"terminated=True, n=3.*terminated drops the bootstrap of every target"),
    (n_step_with(power=lambda m, n: n), r"terminated=False, n=3.*γ\^n.*Hint: γ\^m with m = min\(n, T − t\)"),
    (n_step_with(power=lambda m, n: 1), r"the bootstrap is discounted by γ whatever the window.*Hint: the bootstrap "
                                        r"comes m steps after s_t: γ\^m"),
    (n_step_with(power=lambda m, n: m - 1), r"the bootstrap is discounted by γ\^\(m−1\), one power too few"),
    (n_step_with(value_index=lambda t, m: min(t + m, 4)), "read one step late"),
    (n_step_with(value_index=lambda t, m: t + m), "read one step late"),  # named before it crashes at truncation
    (n_step_with(value_index=lambda t, m: t + m - 2), "read one step early"),
    (n_step_with(reward_power=lambda k: k + 1), r"the first reward is discounted: r_\(t\+k\) gets γ\^\(k\+1\)"),
    (n_step_with(reward_power=lambda k: k + 1, power=lambda m, n: m + 1), "discounted once too often"),
    (n_step_with(reward_power=lambda k: 0), "the rewards in the window are not discounted"),
    (n_step_with(window=lambda n, length, t: length - t), "n is ignored"),
    (n_step_with(reversed_discounts=True), "the discounts of the window are in reverse order"),
    (n_step_with(dtype=int), r"the targets are whole numbers \(int64\): the array they were written into has an "
                             r"integer dtype.*Hint: write them into a float array"),
    (truncated_as_it_goes, r"the targets are whole numbers \(int64\)"),
    (lambda *args: np.trunc(n_step_loop(*args)), r"the targets are whole numbers: the array"),
    (n_step_with(starts=lambda length, n: length - n + 1), r"returned 3 targets for an episode of 5 steps; expected 5"
                                                           r".*Hint: stop the window at the episode's end"),
    (full_windows, r"raised IndexError: .*\(line \d+ of your code: .*reads past the episode's end\. Hint: stop the "
                   r"window at the episode's end: m = min\(n, T − t\)"),
    (lambda r, v, d, n, g: {"targets": n_step_loop(r, v, d, n, g)}, "returned a Python dict; expected a NumPy array"),
    (lambda r, v, d, n, g: n_step_loop(r, v, d, n, g) + 0.5, r"returned \[.*\]; expected \[.*\]\. Hint: y_t = "),
    # issue 18: another container than an array, m − 1 rewards, the one-step value, a window one short, and the
    # bootstrap dropped for windows that do not reach the terminal state
    (lambda r, v, d, n, g: n_step_loop(r, v, d, n, g).tolist(),
     r"returned a Python list; expected a NumPy array of 5 targets, as the statement's -> np.ndarray says"),
    (lambda r, v, d, n, g: torch.from_numpy(n_step_loop(r, v, d, n, g)), "returned a tensor of shape"),
    (n_step_with(summed=lambda m: m - 1), r"only m − 1 rewards are summed: the window's last reward"),
    (n_step_with(value_index=lambda t, m: t), r"the bootstrap value is bootstrap_values\[t\], the value of s_\(t\+1\)"),
    (n_step_with(window=lambda n, length, t: max(1, min(n, length - t - 1))),
     r"the window is one step short near the episode's end: m = max\(1, min\(n, T − t − 1\)\)"),
    (n_step_with(window=lambda n, length, t: min(n, length - t - 1)), r"one step short.*: m = min\(n, T − t − 1\)"),
    (n_step_with(drops=lambda d, t, m, length: d and t + m >= length - 1),
     r"terminated=True, n=3.*: the target of step t = 1 has no bootstrap term, but its window ends at s_4 \(t \+ m = 4 "
     r"< T = 5\), a state with a future\. Hint: drop the bootstrap term only when terminated and t \+ m == T"),
    (n_step_with(drops=lambda d, t, m, length: d and t >= length - 4),
     "the target of step t = 1 has no bootstrap term"),
    # red team c5: every window cut short by the end drops its bootstrap, truncated or not ("t + m = 5 < T = 5" before)
    (n_step_with(drops=lambda d, t, m, length: (d and t + m == length) or t + 3 > length),
     r"terminated=False, .*: the target of step t = 3 has no bootstrap term, but its window ends at s_T, where the "
     r"episode was truncated, not terminated: s_T has a future the time limit cut off \(so does step 4\)\. Hint:"),
    (n_discounts_always, r"raised ValueError: shapes \(3,\) and \(2,\) not aligned.*: near the episode's end a window "
                         r"holds fewer than n rewards.*Hint: stop the window at the episode's end"),  # hidden set C
    # hidden set C: the caller's arrays changed in place, with right targets
    (zeroes_the_last_value, r"n_step_targets\(\[1.0, -0.5, 2.0, 0.25, 3.0\], .*terminated=True, n=3, "
                            r"gamma=0.9\) changed the bootstrap_values it was given to \[.*, 0\]: the caller's array "
                            r"is changed too\. Hint: leave the arguments as they are"),
    (scales_the_rewards, r"changed the rewards it was given to \[2, 0.5, 3, 1.25, 4\]"),
    # red team b: an undiscounted bootstrap, a window one step late, an (n − 1)-step target
    (n_step_with(power=lambda m, n: 0), r"returned \[32.17, 41.5, 4.655, 2.95, 3\], expected \[24.04, 30.66, 4.655, "
                                        r"2.95, 3\]: the bootstrap value is not discounted"),
    (window_from_next_reward, r"returned \[23.37, 33.82, 2.95, 3, 0\], expected .*: the window starts one step late, "
                              r"at r_\(t\+1\)"),
    (n_step_with(window=lambda n, length, t: min(n - 1, length - t)),
     r"returned \[16.75, 25.6, 34.63, 2.95, 3\], expected .*: it is an \(n − 1\)-step target: m = min\(n − 1, T − t\)"),
]


@pytest.mark.parametrize("wrong, named", N_STEP_MISTAKES)
def test_n_step_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_n_step_targets(wrong)


NEW_N_STEP_MISTAKES = {  # issue 18: the wrong power of γ, and the bootstrap dropped for every step
    "γ whatever the window": n_step_with(power=lambda m, n: 1),
    "one power too few": n_step_with(power=lambda m, n: m - 1),
    "drops the bootstrap of every target": masked_for_every_step,
    "the two endings are swapped": n_step_with(drops=lambda d, t, m, length: not d and t + m == length),
    "only m − 1 rewards are summed": n_step_with(summed=lambda m: m - 1),
    "bootstrap_values[t], the value of s_(t+1)": n_step_with(value_index=lambda t, m: t),
    "one step short": n_step_with(window=lambda n, length, t: max(1, min(n, length - t - 1))),
    "has no bootstrap term, but its window ends": n_step_with(drops=lambda d, t, m, length: d and t + m >= length - 1),
    "the bootstrap value is not discounted": n_step_with(power=lambda m, n: 0),  # red team b
    "the window starts one step late": window_from_next_reward,
    "it is an (n − 1)-step target": n_step_with(window=lambda n, length, t: min(n - 1, length - t)),
    "the targets are whole numbers (int64)": truncated_as_it_goes,  # hidden set B
    "changed the bootstrap_values it was given": zeroes_the_last_value,  # hidden set C
}


def test_n_step_targets_in_grading_runs():
    for right in RIGHT_N_STEP:
        assert_graded(check_n_step_targets, (right,), "passed")
    for words, wrong in NEW_N_STEP_MISTAKES.items():
        assert_graded(check_n_step_targets, (wrong,), "failed", words)
    assert_graded(check_n_step_targets, (n_step_with(value_index=lambda t, m: t + m - 2),), "failed",
                  "read one step early")
    notebook = beyond.n_step_inputs(None)
    table = {(n, d): n_step_loop(np.array(notebook["rewards"]), np.array(notebook["values"]), d, n, notebook["gamma"])
             for n, d in notebook["cases"]}
    hard_coded = lambda r, v, d, n, g: table[(n, d)]  # noqa: E731
    check_n_step_targets(hard_coded)  # passes in the notebook
    assert_graded(check_n_step_targets, (hard_coded,), "failed")


def test_n_step_targets_that_call_the_course_code_are_flagged():
    def through_the_course(rewards, bootstrap_values, terminated, n, gamma):
        return np.array([nstep.n_step_return(rewards[t:t + n], gamma) for t in range(len(rewards))])

    verdict = graded(check_n_step_targets, 0, through_the_course)
    assert verdict["status"] == "failed" and verdict["flags"] == ["calls the course's own `utils.nstep.n_step_return`"]
    with pytest.raises(CheckFailed, match="calls the course's own `utils.nstep.n_step_return`"):
        check_n_step_targets(through_the_course)


# --- 7.3 ------------------------------------------------------------------------------------

class SumTree:
    """The statement's skeleton, completed: parents recomputed from their children, an empty right side never taken."""

    def __init__(self, capacity):
        self.capacity = capacity
        self.nodes = np.zeros(2 * capacity)

    def total(self):
        return self.nodes[1]

    def update(self, slot, priority):
        node = slot + self.capacity
        self.nodes[node] = priority
        while node > 1:
            node //= 2
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]

    def find(self, value):
        node = 1
        while node < self.capacity:
            left = 2 * node
            if value < self.nodes[left] or self.nodes[left + 1] == 0:
                node = left
            else:
                value -= self.nodes[left]
                node = left + 1
        return node - self.capacity


class ChangePropagated(SumTree):
    """Ancestors shifted by the change (fancy indexing on the whole path); find written recursively."""

    def update(self, slot, priority):
        leaf = slot + self.capacity
        change = priority - self.nodes[leaf]
        path = leaf >> np.arange(int(np.log2(self.capacity)) + 1)
        self.nodes[path] += change

    def find(self, value, node=1):
        if node >= self.capacity:
            return int(node - self.capacity)
        if value >= self.nodes[2 * node] and self.nodes[2 * node + 1] > 0:
            return self.find(value - self.nodes[2 * node], 2 * node + 1)
        return self.find(value, 2 * node)


class Float32Nodes(SumTree):
    def __init__(self, capacity):
        super().__init__(capacity)
        self.nodes = np.zeros(2 * capacity, dtype=np.float32)  # to save memory


class ChangeSignFlipped(ChangePropagated):
    def update(self, slot, priority):
        leaf = slot + self.capacity
        change = self.nodes[leaf] - priority  # old − new
        self.nodes[leaf] = priority
        node = leaf
        while node > 1:
            node //= 2
            self.nodes[node] += change


class Unguarded(SumTree):
    """The descent with no guard: at the total it goes right into the empty slots."""

    def find(self, value):
        node = 1
        while node < self.capacity:
            left = 2 * node
            if value < self.nodes[left]:
                node = left
            else:
                value -= self.nodes[left]
                node = left + 1
        return node - self.capacity


class ClampedAtTotal(Unguarded):
    """Keeps the value below total(), but rounding deeper down can still lead into the empty slots."""

    def find(self, value):
        return super().find(min(value, np.nextafter(self.total(), 0)))


class FixedMargin(Unguarded):
    """Keeps the value a fixed 1e-12 below total(): enough near 1, lost in rounding near 1e6."""

    def find(self, value):
        return super().find(min(value, self.total() - 1e-12))


def children_at(shift):
    """A tree whose update sums nodes[2k + shift] and nodes[2k + 1 + shift] into node k."""
    class ShiftedChildren(SumTree):
        def update(self, slot, priority):
            node = slot + self.capacity
            self.nodes[node] = priority
            while node > 1:
                node //= 2
                self.nodes[node] = self.nodes[2 * node + shift] + self.nodes[(2 * node + 1 + shift) % len(self.nodes)]
    return ShiftedChildren


class UnguardedChanges(ChangePropagated):
    """Sums shifted by each change, and the descent without the guard."""

    find = Unguarded.find


class RelativeMargin(Unguarded):
    """Keeps the value below total() by a margin relative to it: right, as long as the margin is above rounding."""

    def find(self, value):
        return super().find(min(value, self.total() * (1 - 1e-9)))


class StepsBack(Unguarded):
    """The unguarded descent, then back over empty leaves to the last slot of positive priority."""

    def find(self, value):
        slot = super().find(value)
        while slot > 0 and self.nodes[self.capacity + slot] == 0:
            slot -= 1
        return slot


class AddsToLeaf(SumTree):
    def update(self, slot, priority):
        node = slot + self.capacity
        while node >= 1:
            self.nodes[node] += priority
            node //= 2


class AddsToAncestors(SumTree):
    def update(self, slot, priority):
        node = slot + self.capacity
        self.nodes[node] = priority
        while node > 1:
            node //= 2
            self.nodes[node] += priority


class FloatNode(SumTree):
    """Walks up with node /= 2, a float index (hidden set C)."""

    def update(self, slot, priority):
        node = slot + self.capacity
        self.nodes[node] = priority
        while node > 1:
            node /= 2
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]


def root_left_out(above: int):
    """A tree whose update recomputes ancestors only while the node is above `above`."""
    def update(self, slot, priority):
        node = slot + self.capacity
        self.nodes[node] = priority
        while node > above:
            node //= 2
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]
    return type("RootLeftOut", (SumTree,), {"update": update})


RootLeftOut = root_left_out(3)
RootLeftOutOnTheLeft = root_left_out(2)  # `while node > 2` recomputes the root only for slots in the right half


class LeafOnly(SumTree):
    def update(self, slot, priority):
        self.nodes[slot + self.capacity] = priority


class LeafAtSlot(SumTree):
    def update(self, slot, priority):
        self.nodes[slot] = priority


class LeafOneEarly(SumTree):
    """Leaves counted from 1: slot j at nodes[capacity + j − 1]."""

    def update(self, slot, priority):
        super().update(slot - 1, priority)


class NoSubtraction(SumTree):
    def find(self, value):
        node = 1
        while node < self.capacity:
            node = 2 * node if value < self.nodes[2 * node] else 2 * node + 1
        return node - self.capacity


class LeftOnTies(SumTree):
    def find(self, value):
        node = 1
        while node < self.capacity:
            left = 2 * node
            if value <= self.nodes[left] or self.nodes[left + 1] == 0:
                node = left
            else:
                value -= self.nodes[left]
                node = left + 1
        return node - self.capacity


class ComparesRightChild(SumTree):
    def find(self, value):
        node = 1
        while node < self.capacity:
            left = 2 * node
            if value < self.nodes[left + 1]:
                node = left
            else:
                value -= self.nodes[left]
                node = left + 1
        return node - self.capacity


class SubtractsRight(SumTree):
    def find(self, value):
        node = 1
        while node < self.capacity:
            left = 2 * node
            if value < self.nodes[left] or self.nodes[left + 1] == 0:
                node = left
            else:
                value -= self.nodes[left + 1]
                node = left + 1
        return node - self.capacity


class NodeNumber(SumTree):
    def find(self, value):
        return super().find(value) + self.capacity


class SlotPlusOne(SumTree):
    """Wrong: the slot counted from 1, node − capacity + 1."""

    def find(self, value):
        return super().find(value) + 1


class FloatSlot(SumTree):
    def find(self, value):
        return float(super().find(value))


class WholeTreeRecomputed(SumTree):
    def update(self, slot, priority):
        self.nodes[slot + self.capacity] = priority
        for node in range(self.capacity - 1, 0, -1):
            self.nodes[node] = self.nodes[2 * node] + self.nodes[2 * node + 1]


class LevelsRecomputed(SumTree):
    """Recomputes each level at once with slices: few Python steps, but every node touched."""

    def update(self, slot, priority):
        self.nodes[slot + self.capacity] = priority
        width = self.capacity // 2
        while width >= 1:
            self.nodes[width:2 * width] = self.nodes[2 * width:4 * width:2] + self.nodes[2 * width + 1:4 * width:2]
            width //= 2


class LeavesScanned(SumTree):
    def find(self, value):
        return int(np.searchsorted(np.cumsum(self.nodes[self.capacity:]), value, side="right"))


class WrapsTheCourseTree(SumTree):
    """Keeps the course's tree alongside and asks it."""

    def __init__(self, capacity):
        super().__init__(capacity)
        self.course = prioritized.SumTree(capacity)

    def update(self, slot, priority):
        super().update(slot, priority)
        self.course.set(slot, priority)

    def find(self, value):
        return int(self.course.find([value])[0])


RIGHT_SUM_TREES = (SumTree, ChangePropagated, StepsBack)


@pytest.mark.parametrize("right", (*RIGHT_SUM_TREES, RelativeMargin))
def test_right_sum_trees_pass(right, capsys):
    check_sum_tree(right)
    assert "passed" in capsys.readouterr().out


def test_the_course_sum_tree_is_refused():
    with pytest.raises(CheckFailed, match="course's own `utils.prioritized.SumTree`"):
        check_sum_tree(prioritized.SumTree)


SUM_TREE_MISTAKES = [
    (FloatNode, r"your code raised IndexError: only integers, slices.*Hint: an index became a float: / always gives a "
                r"float in Python 3; use integer division //"),
    (AddsToLeaf, r"^Exercise 7.3 \(SumTree\): after update\(2, 7\) overwrote the priority 4, nodes\[10\] is 11 and "
                 r"total\(\) 30; expected 7 and 26: update adds the new priority to the old one instead of replacing"),
    (AddsToAncestors, r"nodes\[10\] is 7 and total\(\) 30; expected 7 and 26: update adds the new priority to every "
                      "ancestor"),
    (RootLeftOut, r"total\(\) returns 0; expected 23: node 1 \(the root\) holds 0, not the sum of its children 23\. "
                  r"Hint: .*the root \(node 1\) included"),
    (LeafOnly, r"total\(\) returns 0; expected 23: node 4 holds 0, not the sum of its children 4"),
    (LeafAtSlot, r"the leaves nodes\[8:\] hold \[0, 0, 0, 0, 0, 0, 0, 0\].*Hint: slot j is the leaf "
                 r"nodes\[capacity \+ j\]"),
    (LeafOneEarly, r"the leaves nodes\[8:\] hold \[1, 4, 1, 5, 9, 0, 0, 0\].*Hint: slot j is the leaf"),
    (NoSubtraction, "does not subtract the left child's sum"),
    (LeftOnTies, r"find\(3\) returned 0, expected 1: a value equal to the left child's sum goes left"),
    (ComparesRightChild, "it compares the value with the right child's sum"),
    (SubtractsRight, "going right, it subtracts the right child's sum"),
    (NodeNumber, "returns the leaf's node number, not its slot"),
    (SlotPlusOne, r"returned 5, expected 4: the slots are counted from 1: node − capacity \+ 1\. Hint: slot = node − "
                  r"capacity"),  # red team c: was named as a missing subtraction
    (FloatSlot, r"returned a Python float; expected a slot number, an int"),
    (WholeTreeRecomputed, r"at capacity 1024, update\(0, 2\) read or wrote \d{4,} entries of nodes; a leaf and its "
                          r"ancestors are 11 nodes\. Hint: .*O\(log capacity\)"),
    (LevelsRecomputed, r"update\(0, 2\) read or wrote \d{4,} entries"),
    (LeavesScanned, r"at capacity 1024, find\(.*\) read \d{4,} entries of nodes.*not a scan of the leaves"),
    (Unguarded, r"with priorities \[3, 1, 7, 0, 5, 9, 0, 0\], find\(25\), the value at total\(\) itself, returned slot "
                r"7, whose priority is 0.*Hint: go right only if the right child's sum is > 0"),
    (ClampedAtTotal, r"in a tree of 4 slots with the priorities \[0.18, 0.14, 0.51\] \(total\(\) = "
                     r"0.8300000000000001\), find\(0.83\) returned slot 3, whose priority is 0.*Going right at the "
                     r"root leaves 0.83 − 0.32"),
    # issue 18: a fixed margin below the total, lost at large totals; children read one index off
    (FixedMargin, r"in a tree of 4 slots with the priorities \[.*\] \(total\(\) = \d{6}\.\d+\), find\(.*\) returned "
                  r"slot 3, whose priority is 0.*The same edge case with a total of 0.83 found slot 2: a fixed margin, "
                  r"such as min\(value, total − 1e-12\), is lost in rounding at this total, where neighbouring floats "
                  r"are 1.2e-10"),
    (children_at(-1), r"after update\(j, p_j\) for the priorities \[3, 1, 4, 1, 5, 9\], total\(\) returns 18; expected "
                      r"23.*: update sums nodes\[2k − 1\] and nodes\[2k\] into node k, but node k's children are "
                      r"2k and 2k \+ 1"),
    (children_at(1), r"update sums nodes\[2k \+ 1\] and nodes\[2k \+ 2\] into node k"),
    # red team b: float32 nodes (the leaves shown with the digits that tell them apart), the change's sign flipped
    (Float32Nodes, r"the leaves nodes\[4:\] hold \[0.18000001, 0.14, 0.50999999, 0\]; expected \[0.18, 0.14, 0.51, "
                   r"0\]: the nodes are float32.*Hint: keep the nodes float64"),
    (ChangeSignFlipped, r"total\(\) returns -23; expected 23: every sum above the leaves is the negative of what it "
                        r"should be: update changes the ancestors by old − new, the wrong sign"),
]


@pytest.mark.parametrize("wrong, named", SUM_TREE_MISTAKES)
def test_sum_tree_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_sum_tree(wrong)


@pytest.mark.parametrize("scale", beyond.ROUNDING_SCALES)
def test_the_rounding_case_trips_every_unguarded_descent(scale):
    for seed in range(10):
        case = beyond._rounding_case(np.random.default_rng(seed), scale)
        for build, guarded in ((Unguarded, False), (UnguardedChanges, False), (SumTree, True), (ChangePropagated, True),
                               (StepsBack, True)):
            tree = build(4)
            for slot, priority in enumerate(case["priorities"]):
                tree.update(slot, priority)
            assert case["value"] < tree.total() and tree.find(case["value"]) == (2 if guarded else 3), (seed, build)
    assert 0.3 * scale < sum(case["priorities"]) < 3 * scale


def test_the_notebook_checks_the_rounding_case_near_one_and_near_a_million():
    cases = beyond.sum_tree_inputs(None)["rounding"]
    assert cases[0] == {"priorities": [0.18, 0.14, 0.51], "value": 0.83}
    assert 5e5 < sum(cases[-1]["priorities"]) and np.spacing(sum(cases[-1]["priorities"])) > 1e-12


def test_the_course_sum_tree_never_finds_an_empty_slot_at_the_total():
    inputs = beyond.sum_tree_inputs(np.random.default_rng(0))
    priorities = beyond._overwritten(inputs["capacity"], inputs["filled"], inputs["overwrites"])
    tree = prioritized.SumTree(inputs["capacity"])
    tree.update(np.arange(inputs["capacity"]), priorities)
    assert tree.find([inputs["at_total"]])[0] == np.flatnonzero(priorities)[-1]


def test_sum_tree_in_grading_runs():
    for right in RIGHT_SUM_TREES:
        assert_graded(check_sum_tree, (right,), "passed")
    assert_graded(check_sum_tree, (Unguarded,), "failed", "the value at total() itself")
    assert_graded(check_sum_tree, (ClampedAtTotal,), "failed", "returned slot 3, whose priority is 0")
    assert_graded(check_sum_tree, (FixedMargin,), "failed", "a fixed margin, such as min(value, total − 1e-12)")
    assert_graded(check_sum_tree, (children_at(-1),), "failed", "node k's children are 2k and 2k + 1")
    assert_graded(check_sum_tree, (RelativeMargin,), "passed")
    assert_graded(check_sum_tree, (AddsToAncestors,), "failed", "update adds the new priority to every ancestor")
    # red team c: with a new priority of 0, a stale root was named as adding to every ancestor
    assert_graded(check_sum_tree, (RootLeftOutOnTheLeft,), "failed", "node 1 (the root) holds")
    assert_graded(check_sum_tree, (LeavesScanned,), "failed", "not a scan of the leaves")
    check_sum_tree(RecordingTree)
    check_sum_tree(HardCodedTree)  # passes in the notebook, with the slots a right tree found there
    assert_graded(check_sum_tree, (HardCodedTree,), "failed")
    verdict = graded(check_sum_tree, 0, WrapsTheCourseTree)
    assert verdict["flags"] == ["calls the course's own `utils.prioritized.SumTree`"]


class RecordingTree(SumTree):
    """A right tree that notes every slot it finds, by its nodes and the value."""

    found = {}

    def find(self, value):
        slot = super().find(value)
        RecordingTree.found[(self.nodes.tobytes(), value)] = slot
        return slot


class HardCodedTree(SumTree):
    """Finds by looking up what a right tree found in the notebook's check."""

    def find(self, value):
        return RecordingTree.found[(self.nodes.tobytes(), value)]


def test_counted_nodes_count_what_is_read_and_written():
    nodes = beyond.CountedNodes(np.arange(16.0))
    nodes[3] += 1.0  # one read, one write
    _ = nodes[8:].sum()  # eight reads
    _ = np.cumsum(nodes)  # sixteen
    assert nodes.accesses[0] == 2 + 8 + 16 and nodes[3] == 4.0


# --- 7.4 ------------------------------------------------------------------------------------

def priorities_from(td_errors, alpha, eps=1e-6):
    return (np.abs(td_errors) + eps) ** alpha


def importance_weights(probabilities, memory_size, beta):
    weights = (memory_size * probabilities) ** -beta
    return weights / weights.max()


def beta_at(step, beta_start, total_steps):
    return beta_start + (1 - beta_start) * min(step / total_steps, 1)


RIGHT_PER = ((priorities_from, importance_weights, beta_at),
             (lambda d, a, eps=1e-6: np.power(np.abs(d) + eps, a), lambda p, n, b: np.min(n * p) ** b / (n * p) ** b,
              lambda s, b0, total: float(np.clip(b0 + (1 - b0) * s / total, b0, 1.0))))


def float32_priorities(td_errors, alpha, eps=1e-6):
    """Right, in float32 through torch: as precise as the networks' own numbers."""
    return torch.as_tensor(td_errors, dtype=torch.float32).abs().add(eps).pow(alpha).numpy()


@pytest.mark.parametrize("right", [float32_priorities, lambda *args: float32_priorities(*args).astype(np.float64)])
def test_float32_priorities_pass_in_the_notebook_and_when_graded(right, capsys):
    check_per_weights(right, importance_weights, beta_at)  # red team c: failed, "returned 0.6597548; ..."
    assert "passed" in capsys.readouterr().out
    assert_graded(check_per_weights, (right, importance_weights, beta_at), "passed")


def test_right_per_functions_pass(capsys):
    for answers in RIGHT_PER:
        check_per_weights(*answers)
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("wrong, named", [
    (lambda d, a, eps=1e-6: np.abs(d) ** a,
     r"^Exercise 7.4 \(priorities_from / importance_weights / beta_at\): priorities_from\(np.array\(\[-2.0, 0.0, 0.5, "
     r"3.0\]\), alpha=0.6\) returned \[1.516, 0, .*eps is missing: a TD error of 0 gives priority 0"),
    (lambda d, a, eps=1e-6: np.abs(d) + eps, "α is missing"),
    (lambda d, a, eps=1e-6: np.abs(d) ** a + eps, "eps is added after the power"),
    pytest.param(lambda d, a, eps=1e-6: (d + eps) ** a, "the sign of δ is kept", marks=WARNS),
    (lambda d, a, eps=1e-6: (d ** 2 + eps) ** a, "it squares δ"),
    (lambda d, a, eps=1e-6: (np.abs(d) + 1e-6) ** a, "the eps argument is ignored"),
    (lambda d, a, eps=1e-5: (np.abs(d) + eps) ** a, "the default eps is 1e-05, not 1e-6"),
    (lambda d, a, eps=1e-6: np.abs(d + eps) ** a, r"eps is added inside the absolute value, \|δ \+ eps\|"),
    (lambda d, a, eps=1e-6: list((np.abs(d) + eps) ** a), "returned a Python list; expected a NumPy array of 4 "
                                                          "priorities"),
    # issue 18: α as a factor, written two ways
    (lambda d, a, eps=1e-6: a * (np.abs(d) + eps), r"returned \[1.2, 6e-07, 0.3, 1.8\].*: α multiplies the error "
                                                   r"instead of being its exponent"),
    (lambda d, a, eps=1e-6: np.abs(d) * a + eps, "α multiplies the error"),
    # red team b: eps to the power α on its own, and eps as a floor (shown with the digits that tell them apart)
    (lambda d, a, eps=1e-6: np.abs(d) ** a + eps ** a,
     r"returned \[1.516, 0.0002512, 0.66, 1.933\], expected \[1.516, 0.0002512, 0.6598, 1.933\]: the power is applied "
     r"to each term, \|δ\|\^α \+ eps\^α: eps is added to \|δ\| before the power"),
    (lambda d, a, eps=1e-6: np.maximum(np.abs(d), eps) ** a,
     r"returned \[1.51572, 0.000251189, 0.659754, 1.93318\], expected \[1.51572, 0.000251189, 0.659755, 1.93318\]: "
     r"eps is a floor, max\(\|δ\|, eps\), instead of being added: eps is added to \|δ\| before the power"),
])
def test_priority_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_per_weights(wrong, importance_weights, beta_at)


@pytest.mark.parametrize("wrong, named", [
    (lambda p, n, b: (n * p) ** -b, "not normalised: the largest is 0.5253, not 1"),
    (lambda p, n, b: (n * p) ** b / ((n * p) ** b).max(), r"the exponent is \+β.*rare ones"),
    (lambda p, n, b: (n * p) ** -b / ((n * p) ** -b).sum(), "divided by their sum"),
    (lambda p, n, b: (n * p) ** -b / ((n * p) ** -b).min(), "divided by their smallest"),
    (lambda p, n, b: (n * p) ** -1.0 / ((n * p) ** -1.0).max(), "β is ignored"),
    (lambda p, n, b: (n * p) ** -b / ((n * p) ** -b)[0], "divided by the first one"),
    (lambda p, n, b: importance_weights(p, n, 0.4), r"with beta=0|beta = 0|β = 0"),
])
def test_weight_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_per_weights(priorities_from, wrong, beta_at)


@pytest.mark.parametrize("wrong, named", [
    (lambda s, b0, total: b0, "β is not annealed"),
    (lambda s, b0, total: b0 + (1 - b0) * s / total, "β goes past 1 after total_steps"),
    (lambda s, b0, total: min(b0 + s / total, 1.0), "β reaches 1 too early"),
    (lambda s, b0, total: float(b0 + (1 - b0) * min(s // total, 1)), "integer division"),
    (lambda s, b0, total: min(s / total, 1.0), "β grows from 0, not from beta_start"),
    (lambda s, b0, total: max(b0 + (1 - b0) * s / total, 1.0), r"max\(…, 1\) keeps β at 1 or more"),
    (lambda s, b0, total: b0 + (0.9 - b0) * min(s / total, 1),
     r"at steps \[0, 250, 750, 1000, 1500\] returned \[0.4, 0.525, 0.775, 0.9, 0.9\]; expected \[0.4, 0.55, 0.85, 1, "
     r"1\]"),
    (lambda s, b0, total: min(max(b0, s / total), 1.0), r"β is max\(beta_start, step / total_steps\)"),  # set C
    (lambda s, b0, total: torch.tensor(beta_at(s, b0, total)), "returned a tensor of shape ().*; expected a float"),
    # red team b: the statement asks for a float, and min(1, x) returns the int 1 (from total_steps on)
    (lambda s, b0, total: min(1, b0 + (1 - b0) * s / total),
     r"beta_at\(step, 0.4, 1000\) at step 1000 returned the int 1; expected a float: min\(1, x\) returns the int 1 "
     r"once step ≥ total_steps\. Hint: use 1.0, not 1"),
])
def test_beta_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_per_weights(priorities_from, importance_weights, wrong)


def test_per_weights_in_grading_runs():
    for answers in RIGHT_PER:
        assert_graded(check_per_weights, answers, "passed")
    assert_graded(check_per_weights, (lambda d, a, eps=1e-6: np.abs(d) ** a, importance_weights, beta_at), "failed",
                  "eps is missing")
    assert_graded(check_per_weights, (priorities_from, lambda p, n, b: (n * p) ** -b, beta_at), "failed",
                  "not normalised")
    assert_graded(check_per_weights, (lambda d, a, eps=1e-6: a * (np.abs(d) + eps), importance_weights, beta_at),
                  "failed", "α multiplies the error")
    assert_graded(check_per_weights, (priorities_from, importance_weights, lambda s, b0, total: min(b0 + s / total,
                                                                                                    1.0)),
                  "failed", "β reaches 1 too early")
    assert_graded(check_per_weights, (lambda d, a, eps=1e-6: np.maximum(np.abs(d), eps) ** a, importance_weights,
                                      beta_at), "failed", "eps is added to |δ| before the power")
    hard_coded_alpha = lambda d, a, eps=1e-6: (np.abs(d) + eps) ** 0.6  # noqa: E731
    check_per_weights(hard_coded_alpha, importance_weights, beta_at)  # passes in the notebook
    assert_graded(check_per_weights, (hard_coded_alpha, importance_weights, beta_at), "failed",
                  seeds=[seed for seed in range(20) if beyond.per_inputs(np.random.default_rng(seed))["alpha"] != 0.6])
    through_the_course = (lambda d, a, eps=1e-6: prioritized.priorities_from_td_errors(d, a, eps), importance_weights,
                          beta_at)
    verdict = graded(check_per_weights, 0, *through_the_course)
    assert verdict["status"] == "passed"
    assert verdict["flags"] == ["calls the course's own `utils.prioritized.priorities_from_td_errors`"]


# --- 7.5 ------------------------------------------------------------------------------------

class PrioritizedSlots:
    """The statement's skeleton, completed with stratified draws."""

    def __init__(self, capacity, alpha, eps=1e-6):
        self.tree = prioritized.SumTree(capacity)
        self.alpha, self.eps = alpha, eps
        self.max_priority = 1.0
        self.size = 0

    def add(self, slot):
        self.tree.set(slot, self.max_priority)
        self.size = min(self.size + 1, self.tree.capacity)

    def values(self, batch_size, rng):
        return (np.arange(batch_size) + rng.random(batch_size)) * self.tree.total / batch_size

    def probabilities(self, slots):
        return self.tree.priorities(slots) / self.tree.total

    def weights(self, slots, beta):
        return importance_weights(self.probabilities(slots), self.size, beta)

    def sample(self, batch_size, beta, rng):
        slots = self.tree.find(self.values(batch_size, rng))
        return slots, self.weights(slots, beta)

    def priorities(self, td_errors):
        return priorities_from(td_errors, self.alpha, self.eps)

    def update(self, slots, td_errors):
        priorities = self.priorities(td_errors)
        self.tree.update(slots, priorities)
        self.max_priority = max(self.max_priority, priorities.max())


class SegmentBounds(PrioritizedSlots):
    """Segments from np.linspace, drawn one at a time in reverse order; size as the highest slot used + 1; weights
    through a loop: all allowed."""

    def add(self, slot):
        self.tree.set(slot, self.max_priority)
        self.size = max(self.size, slot + 1)

    def values(self, batch_size, rng):
        bounds = np.linspace(0.0, self.tree.total, batch_size + 1)
        return np.array([rng.uniform(bounds[i], bounds[i + 1]) for i in reversed(range(batch_size))])

    def weights(self, slots, beta):
        weights = np.array([(self.size * p) ** -beta for p in self.probabilities(slots)])
        return weights / weights.max()


def slots_with(**methods):
    """PrioritizedSlots with some methods replaced (each given as a function of self and its arguments)."""
    return type("Changed", (PrioritizedSlots,), methods)


class OwnTree(PrioritizedSlots):
    def __init__(self, capacity, alpha, eps=1e-6):
        super().__init__(capacity, alpha, eps)
        self.tree = SumTree(capacity)


def no_size(self, slot):
    self.tree.set(slot, self.max_priority)


def adding(priority_of):
    """An add that gives the slot `priority_of(self)` and counts it."""
    def add(self, slot):
        self.tree.set(slot, priority_of(self))
        self.size += 1
    return add


def batch_max(self, slots, td_errors):
    priorities = self.priorities(td_errors)
    self.tree.update(slots, priorities)
    self.max_priority = priorities.max()


def largest_error(self, slots, td_errors):
    PrioritizedSlots.update(self, slots, td_errors)
    self.max_priority = max(self.max_priority, np.abs(td_errors).max())


def sampling_slots(draw):
    """A sample whose slots are `draw(self, batch_size, rng)`, with the right weights."""
    def sample(self, batch_size, beta, rng):
        slots = draw(self, batch_size, rng)
        return slots, self.weights(slots, beta)
    return sample


def proportional_to_powered(self, batch_size, rng):
    powered = self.tree.priorities(np.arange(self.size)) ** self.alpha
    return rng.choice(self.size, batch_size, p=powered / powered.sum())


def memory_normalised(self, slots, beta):
    """Weights divided by the largest weight in the whole memory, that of its smallest priority (Baselines)."""
    smallest = self.tree.priorities(np.arange(self.size)).min() / self.tree.total
    return (self.size * self.probabilities(slots)) ** -beta / (self.size * smallest) ** -beta


class ThroughTheCourse(PrioritizedSlots):
    """Draws its values with the course's own stratified_values."""

    def values(self, batch_size, rng):
        return prioritized.stratified_values(self.tree.total, batch_size, rng)


def max_without_eps(self, slots, td_errors):
    """Right enough: max_priority from |δ|^α, eps left out of the max only (red team b: numerically harmless)."""
    self.tree.update(slots, self.priorities(td_errors))
    self.max_priority = max(self.max_priority, float(np.abs(td_errors).max() ** self.alpha))


RIGHT_SLOTS = (PrioritizedSlots, SegmentBounds, slots_with(update=max_without_eps))
INDEPENDENT_DRAWS = slots_with(values=lambda self, b, rng: rng.uniform(0, self.tree.total, b))
UNBOUNDED_SIZE = slots_with(add=adding(lambda self: self.max_priority))
NO_EPS = slots_with(priorities=lambda self, td_errors: np.abs(td_errors) ** self.alpha)
MEMORY_NORMALISED = slots_with(weights=memory_normalised)
SIGNED_ERRORS = slots_with(priorities=lambda self, td_errors: (td_errors + self.eps) ** self.alpha)
UNSCALED = slots_with(values=lambda self, b, rng: (np.arange(b) + rng.random(b)) / b)


@pytest.mark.parametrize("right", RIGHT_SLOTS)
def test_right_prioritized_slots_pass(right, capsys):
    check_prioritized_slots(right)
    assert "passed" in capsys.readouterr().out


NARROW_SEGMENTS = [  # hidden set B: segments narrower than total / batch_size, never reaching the total
    (slots_with(values=lambda self, b, rng: (np.arange(b) + rng.random(b)) * self.tree.total / (b + 1)),
     r"lie one in each of 64 equal segments, but the segments are total / \(batch_size \+ 1\) = 0.08991 wide, not "
     r"total / batch_size = 0.09131: nothing past 5.754 of \[0, 5.844\) is ever drawn"),
    (slots_with(values=lambda self, b, rng: (np.arange(b) + rng.random(b)) * self.tree.total / (b + 3)),
     r"the segments are at most 0.08\d+ wide, not total / batch_size"),
]
SLOTS_MISTAKES = [
    (OwnTree, r"^Exercise 7.5 \(PrioritizedSlots\): PrioritizedSlots\(...\).tree is a Python SumTree; expected the "
              "course's SumTree"),
    (slots_with(add=adding(lambda self: 0.0)), r"after add\(0\) … add\(4\) the new slots have the priorities "
                                               r"\[0, 0, 0, 0, 0\], expected max_priority = 1: add gives priority 0"),
    (slots_with(add=no_size), r"after add\(0\) … add\(4\) size is 0; expected 5"),
    (slots_with(update=lambda self, slots, td_errors: None), "priorities were not updated after the step"),
    (slots_with(priorities=lambda self, td_errors: np.abs(td_errors) + self.eps), "α is missing"),
    (slots_with(update=lambda self, slots, td: self.tree.update(slots, self.priorities(td))),
     "max_priority was not raised"),
    (slots_with(update=largest_error), r"max_priority is the largest \|δ\|"),
    (slots_with(update=batch_max), "expected it to stay 1.933"),
    (slots_with(add=adding(lambda self: 1.0)), r"after add\(5\) the new slots have the priorities \[1\], expected "
                                               r"max_priority = 1.933: add gives priority 1"),
    (slots_with(add=adding(lambda self: self.max_priority ** self.alpha)), "to the power α again"),
    pytest.param(slots_with(sample=sampling_slots(lambda self, b, rng: rng.integers(0, 8, b))),
                 r"sample returned slot [67], but only slots 0–5 hold transitions \(size = 6\)", marks=WARNS),
    (UNSCALED, r"the values sample looked up with tree.find all lie in \[0, 1\), but the priorities sum to 5.844: "
               "they are not scaled by the total"),
    (slots_with(values=lambda self, b, rng: rng.uniform(0, self.tree.total / b, b)),
     r"all lie in \[0, .*\], the first segment of \[0, 5.844\): the segment's offset i · total / batch_size is "
     "missing"),
    (slots_with(values=lambda self, b, rng: (np.arange(b) + 1 + rng.random(b)) * self.tree.total / b),
     "past the total 5.844"),
    (slots_with(values=lambda self, b, rng: (np.arange(b) + np.random.random(b)) * self.tree.total / b),
     "generators seeded alike sampled different slots"),
    (slots_with(values=lambda self, b, rng: (np.arange(b) + np.random.default_rng(0).random(b)) * self.tree.total / b),
     "generators with different seeds sampled the same slots"),
    (slots_with(sample=sampling_slots(lambda self, b, rng: rng.integers(0, self.size, b))), "the sampling is uniform"),
    (slots_with(sample=sampling_slots(proportional_to_powered)), r"in proportion to p\^α"),
    (slots_with(weights=lambda self, slots, beta: (self.size * self.probabilities(slots)) ** -beta),
     r"for the slots \[0, 1, 2, 3, 4, 5\], sample\(..., beta=0.4, ...\) returned the weights \[.*\], expected "
     r"\[.*\]: the weights are not normalised"),
    (slots_with(weights=lambda self, slots, beta: (self.tree.capacity * self.probabilities(slots)) ** -beta),
     r"N is the capacity \(8\), not the number of slots in use \(6\)"),
    (slots_with(weights=lambda self, slots, beta: np.ones(len(slots))), "the weights are all 1: β is ignored"),
    (slots_with(weights=lambda self, slots, beta: importance_weights(np.full(len(slots), 1 / self.size), self.size,
                                                                     beta)),
     r"the weights are all 1: β is ignored, or P\(i\) is taken as uniform, 1/size, instead of p_i / total"),  # set C
    (slots_with(weights=lambda self, slots, beta: importance_weights(self.probabilities(slots), self.size, -beta)),
     r"the exponent is \+β"),
    (slots_with(update=lambda self, slots, td: (self.tree.update(slots, self.tree.priorities(slots) + self.priorities(
        td)), setattr(self, "max_priority", max(self.max_priority, self.priorities(td).max())))),
     "update adds the new priorities to the old ones"),
    (slots_with(probabilities=lambda self, slots: self.tree.priorities(slots) ** self.alpha / self.tree.total),
     r"P\(i\) is computed from p_i\^α"),
    (slots_with(sample=lambda self, b, beta, rng: PrioritizedSlots.sample(self, b, beta, rng)[::-1]),
     r"returned float slots and integer weights: the pair is \(weights, slots\), swapped"),
    (NO_EPS, r"after update\(\[2, 4\], \[0.0, 1.2\]\) slot 2 has priority 0: a TD error of exactly 0 gives priority 0"),
    (UNBOUNDED_SIZE, r"after add\(6\) … add\(0\) size is 9; expected 8, the capacity: size grows past the capacity"),
    # issue 18: no segments, one offset for every segment, segments counted from 1, β written in as 1
    (INDEPENDENT_DRAWS, r"the 64 values sample\(64, ...\) looked up with tree.find are not one in each of 64 equal "
                        r"segments of \[0, 5.844\): \d+ segments got none.*rng.uniform\(0, total, batch_size\)"),
    (slots_with(values=lambda self, b, rng: np.sort(rng.random(b)) * self.tree.total), "are not one in each of 64"),
    (slots_with(values=lambda self, b, rng: (np.arange(b) + rng.uniform()) * self.tree.total / b),
     r"lie at the same place in each of the 64 segments \(offset .*\): one draw is shared by all segments"),
    (slots_with(values=lambda self, b, rng: (np.arange(b) + np.full(b, rng.random())) * self.tree.total / b),
     "one draw is shared by all segments"),
    (slots_with(values=lambda self, b, rng: np.minimum((np.arange(1, b + 1) + rng.random(b)) * self.tree.total / b,
                                                       self.tree.total * (1 - 1e-12))),
     r"sample\(64, ...\) looked up no value in the first segment \[0, 0.09131\) of \[0, 5.844\) and 2 in the last: the "
     r"segments are counted from 1"),
    *NARROW_SEGMENTS,
    (slots_with(weights=lambda self, slots, beta: importance_weights(self.probabilities(slots), self.size, 1.0)),
     r"the weights are computed with β = 1, not the beta argument \(0.4\)"),
    (slots_with(sample=lambda self, b, beta, rng: PrioritizedSlots.sample(self, b, 1, rng)), "computed with β = 1"),
    (slots_with(sample=lambda self, b, beta, rng: PrioritizedSlots.sample(self, b, 0.4, rng)),
     r"sample\(..., beta=1.0, ...\) returned the weights .*: the weights are those of β = 0.4, whatever the beta "
     r"argument \(1.0\): β is fixed inside sample"),
    # red team b: weights normalised over the whole memory (a batch of 64 always holds its smallest priority, one of
    # 4 often does not), and priorities from the signed TD error (the tree refuses their NaN)
    (slots_with(values=lambda self, b, rng: (np.arange(b) + rng.random(b)) * self.tree.total() / b),
     r"your code raised TypeError: '(numpy.)?float(64)?' object is not callable \(line \d+ of your code: .*\): "
     r"self.tree.total is a number, not a method\. Hint: .*write self.tree.total, without parentheses"),
    (MEMORY_NORMALISED, r"for the slots \[.*\], sample\(..., beta=0.4, ...\) returned the weights \[.*\], expected "
                        r"\[1, .*\]: the weights are normalised by the largest weight in the whole memory, that of "
                        r"the smallest priority \(Baselines' choice\); the course divides by the largest weight in "
                        r"the batch"),
    # red team c: priorities_from(td_errors, self.alpha), its default eps in place of the memory's own
    (slots_with(priorities=lambda self, td_errors: priorities_from(td_errors, self.alpha)),
     r"after update\(\[2, 4\], \[0.0, 1.2\]\) the tree holds .*: a TD error of 0 got the priority of priorities_from's "
     r"default eps, 1e-6, not of this memory's eps, 1e-05: update leaves out self.eps.*Hint: priorities_from\(td_errors, "
     r"self.alpha, self.eps\)"),
    pytest.param(SIGNED_ERRORS, r"update\(\[1, 3\], \[3.0, -0.5\]\) gave the tree a NaN or negative priority, which it "
                                r"refused \(line \d+ of your code: .*\): the priorities come from the signed TD error, "
                                r"and a negative error to the power α is NaN; use its absolute value", marks=WARNS),
]


@pytest.mark.parametrize("wrong, named", SLOTS_MISTAKES)
def test_prioritized_slots_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_prioritized_slots(wrong)


@WARNS
def test_every_grading_run_names_priorities_from_the_signed_error():
    for seed in range(20):
        assert min(error for _, error in beyond.slots_inputs(np.random.default_rng(seed))["first"]) < 0
    assert_graded(check_prioritized_slots, (SIGNED_ERRORS,), "failed", "the priorities come from the signed TD error",
                  seeds=range(6))


def test_prioritized_slots_in_grading_runs():
    for right in RIGHT_SLOTS:
        assert_graded(check_prioritized_slots, (right,), "passed")
    for wrong, words in ((UNBOUNDED_SIZE, "size grows past the capacity"), (NO_EPS, "a TD error of exactly 0"),
                         (UNSCALED, "not scaled by the total"),
                         (INDEPENDENT_DRAWS, "are not one in each of 64 equal segments"),
                         (slots_with(sample=sampling_slots(proportional_to_powered)), "in proportion to p^α"),
                         (NARROW_SEGMENTS[0][0], "the segments are total / (batch_size + 1)"),
                         (MEMORY_NORMALISED, "the largest weight in the whole memory"),
                         (slots_with(priorities=lambda self, td_errors: priorities_from(td_errors, self.alpha)),
                          "update leaves out self.eps")):
        assert_graded(check_prioritized_slots, (wrong,), "failed", words)
    hard_coded_capacity = slots_with(add=lambda self, slot: (self.tree.set(slot, self.max_priority),
                                                             setattr(self, "size", min(self.size + 1, 8))))
    check_prioritized_slots(hard_coded_capacity)  # passes in the notebook
    assert_graded(check_prioritized_slots, (hard_coded_capacity,), "failed", "size", seeds=[
        seed for seed in range(20) if beyond.slots_inputs(np.random.default_rng(seed))["capacity"] != 8])
    verdict = graded(check_prioritized_slots, 0, ThroughTheCourse)
    assert verdict["flags"] == ["calls the course's own `utils.prioritized.stratified_values`"]


# --- 7.6 ------------------------------------------------------------------------------------

def iqm(scores):
    return stats.trim_mean(scores, 0.25)


def iqm_sorted(scores):
    cut = int(0.25 * len(scores))
    return float(np.mean(np.sort(scores)[cut:len(scores) - cut]))


def bootstrap_loop(scores, statistic, n_resamples, rng, confidence=0.95):
    values = [statistic(rng.choice(scores, size=len(scores), replace=True)) for _ in range(n_resamples)]
    return tuple(np.percentile(values, [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]))


def bootstrap_indices(scores, statistic, n_resamples, rng, confidence=0.95):
    """All indices drawn at once, np.quantile, and the point estimate computed on the side."""
    statistic(scores)
    rows = rng.integers(0, len(scores), size=(n_resamples, len(scores)))
    values = np.array([statistic(scores[row]) for row in rows])
    low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def bootstrap_array(scores, statistic, n_resamples, rng, confidence=0.95):
    """Indices as rng.choice(n, ...), the percentiles returned as an array of two."""
    rows = rng.choice(len(scores), size=(n_resamples, len(scores)))
    return np.percentile([statistic(scores[row]) for row in rows], [50 - 50 * confidence, 50 + 50 * confidence])


def bootstrap_scipy(scores, statistic, n_resamples, rng, confidence=0.95):
    result = stats.bootstrap((scores,), statistic, n_resamples=n_resamples, confidence_level=confidence,
                             method="percentile", vectorized=False, rng=rng)
    return result.confidence_interval.low, result.confidence_interval.high


def bootstrap_with(resample=None, levels=None, statistic_used=True, resamples=None):
    """bootstrap_loop with one of its parts done a usual wrong way."""
    def bootstrap_interval(scores, statistic, n_resamples, rng, confidence=0.95):
        draw = resample or (lambda rng, scores: rng.choice(scores, size=len(scores), replace=True))
        samples = [draw(rng, scores) for _ in range(resamples or n_resamples)]
        values = [statistic(sample) if statistic_used else np.mean(sample) for sample in samples]
        return tuple(np.percentile(values, levels or [50 * (1 - confidence), 50 * (1 + confidence)]))
    return bootstrap_interval


def reused_resample(scores, statistic, n_resamples, rng, confidence=0.95):
    sample = rng.choice(scores, size=len(scores))
    return bootstrap_with(resample=lambda rng, scores: sample)(scores, statistic, n_resamples, rng, confidence)


def means_not_statistic(scores, statistic, n_resamples, rng, confidence=0.95):
    """Calls the statistic on every resample, then takes the percentiles of the means."""
    samples = [rng.choice(scores, size=len(scores)) for _ in range(n_resamples)]
    for sample in samples:
        statistic(sample)
    return tuple(np.percentile([np.mean(sample) for sample in samples], [50 * (1 - confidence), 50 * (1 + confidence)]))


def swapped_bounds(scores, statistic, n_resamples, rng, confidence=0.95):
    return bootstrap_loop(scores, statistic, n_resamples, rng, confidence)[::-1]


def bootstrap_order_statistics(scores, statistic, n_resamples, rng, confidence=0.95):
    """The percentiles as sorted values at int(level · n_resamples): the statement does not ask for np.percentile."""
    values = np.sort([statistic(rng.choice(scores, size=len(scores))) for _ in range(n_resamples)])
    return values[int((1 - confidence) / 2 * n_resamples)], values[int((1 + confidence) / 2 * n_resamples) - 1]


def bootstrap_nearest(scores, statistic, n_resamples, rng, confidence=0.95):
    values = [statistic(rng.choice(scores, size=len(scores))) for _ in range(n_resamples)]
    return tuple(np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2], method="nearest"))


RIGHT_STATISTICS = ((iqm, bootstrap_loop), (iqm_sorted, bootstrap_indices), (iqm, bootstrap_array),
                    (iqm, bootstrap_scipy), (iqm, bootstrap_order_statistics), (iqm, bootstrap_nearest))


@pytest.mark.parametrize("right_iqm, right_bootstrap", RIGHT_STATISTICS)
def test_right_iqm_and_bootstrap_pass(right_iqm, right_bootstrap, capsys):
    check_iqm_bootstrap(right_iqm, right_bootstrap)
    assert "passed" in capsys.readouterr().out


def reference_distances(scores: np.ndarray, seeds) -> np.ndarray:
    """How far right 2,000-resample intervals of `scores` lie from the reference, in spreads of the IQM."""
    reference, spread = beyond._reference_interval(tuple(scores.tolist()))
    distances = []
    for seed in seeds:
        rows = np.random.default_rng(seed).integers(0, len(scores), (beyond.RESAMPLES, len(scores)))
        interval = np.percentile(stats.trim_mean(scores[rows], 0.25, axis=1), [2.5, 97.5])
        distances.append(np.abs(interval - reference).max() / spread)
    return np.array(distances)


def test_right_intervals_from_many_seeds_meet_the_reference_tolerance():
    scores = np.array(beyond.RUN_SCORES)
    assert reference_distances(scores, range(200)).max() <= 0.3
    for draw in range(10):  # scores as grading runs draw them
        scores = np.array(beyond.statistics_inputs(np.random.default_rng(draw))["scores"])
        assert reference_distances(scores, range(100 * draw, 100 * draw + 30)).max() <= beyond.REFERENCE_TOLERANCE


def test_an_interval_far_from_the_reference_is_refused():
    scores = np.array(beyond.RUN_SCORES)
    (low, high), spread = beyond._reference_interval(tuple(scores.tolist()))
    beyond._judge_against_reference(low + 0.5 * spread, high, scores)
    with pytest.raises(beyond.Mistake, match="standard deviations of the IQM off the percentile bootstrap's"):
        beyond._judge_against_reference(low + 1.5 * spread, high, scores)


def test_the_recorded_statistic_is_scipy_interquartile_mean():
    rng = np.random.default_rng(0)
    for size in (3, 4, 7, 10, 13):
        sample = rng.normal(size=size)
        assert np.isclose(beyond.RecordedStatistic()(sample), stats.trim_mean(sample, 0.25))


def round_cut_iqm(scores):
    cut = round(len(scores) / 4)  # 1.75 → 2, 2.75 → 3
    return float(np.mean(np.sort(scores)[cut:len(scores) - cut]))


def in_place_iqm(scores):
    scores.sort()
    return iqm(scores)


@pytest.mark.parametrize("wrong, named", [
    (np.median, r"^Exercise 7.6 \(iqm / bootstrap_interval\): iqm\(\[500, 12, 230, .*\]\) returned 270, expected "
                r"278.333: that is the median"),
    (np.mean, "that is the plain mean"),
    (lambda s: stats.trim_mean(s, 0.125), r"cuts 25% of the runs in total \(12.5% from each end\)"),
    (lambda s: float(np.mean(s[len(s) // 4:len(s) - len(s) // 4])), "without sorting first"),
    (lambda s: float(np.mean(np.sort(s)[-(-len(s) // 4):len(s) + len(s) // -4])),
     r"it cuts 3 runs from each end of 10.*Hint: cut floor\(0.25 · n\), here 2"),
    (lambda s: float(np.mean(s[(s >= np.percentile(s, 25)) & (s <= np.percentile(s, 75))])),
     r"it cuts 3 runs from each end of 10: 0.25 · n rounded up \(or the runs kept are those between the 25th"),
    (lambda s: float(np.mean(np.sort(s)[:len(s) - len(s) // 4])), "from the top only"),
    (lambda s: float(np.mean(np.sort(s)[len(s) // 4:3 * len(s) // 4])), r"it keeps sorted\[n // 4 : 3 \* n // 4\]"),
    pytest.param(lambda s: stats.trim_mean(s, 0.5), "returned nan, the mean of no runs at all", marks=WARNS),
    (in_place_iqm, "reordered the array it was given"),
    # red team b: round(0.25 · n); with 7 runs here its mean of the middle 3 is also the median
    (round_cut_iqm, r"iqm\(\[500, 12, 230, 498, 77, 310, 150\]\) returned 230, expected 253: it cuts 2 runs from each "
                    r"end of 7: 0.25 · n rounded up .* round\(0.25 · n\) does that here: it rounds 1.75 to 2\. Hint: "
                    r"cut floor\(0.25 · n\), here 1"),
    (lambda s: np.sort(s)[2:-2], "returned a NumPy array of shape .*; expected one number"),
    # issue 18: a slice ending at -cut, empty when cut is 0
    pytest.param(lambda s: np.sort(s)[len(s) // 4:-(len(s) // 4)].mean(),
                 r"iqm\(\[500, 12, 230\]\) returned nan.*with 3 runs the cut is floor\(0.25 · 3\) = 0, and a slice "
                 r"ordered\[cut:-cut\] is then ordered\[0:0\]", marks=WARNS),
    pytest.param(lambda s: float(np.mean(sorted(s)[int(len(s) / 4):-int(len(s) / 4)])), r"ordered\[0:0\]", marks=WARNS),
])
def test_iqm_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_iqm_bootstrap(wrong, bootstrap_loop)


def normal_interval(z):
    """The mean of the statistic's values ± `z(confidence)` of their standard deviations."""
    def bootstrap_interval(scores, statistic, n_resamples, rng, confidence=0.95):
        values = np.array([statistic(rng.choice(scores, size=len(scores))) for _ in range(n_resamples)])
        return values.mean() - z(confidence) * values.std(ddof=1), values.mean() + z(confidence) * values.std(ddof=1)
    return bootstrap_interval


NAMED_INTERVALS = [  # hidden set B: the quantile levels c/2 and 1 − c/2, and a normal interval (two ways each)
    (lambda s, stat, n, rng, c=0.95: bootstrap_with(levels=[50 * c, 100 - 50 * c])(s, stat, n, rng, c),
     r"those are the quantiles at confidence / 2 and 1 − confidence / 2 \(0.475 and 0.525\).*Hint: np.percentile"),
    (lambda s, stat, n, rng, c=0.95: bootstrap_with(levels=[50 * c, 100 * (1 - c / 2)])(s, stat, n, rng, c),
     "the quantiles at confidence / 2"),
    (normal_interval(lambda c: 1.96), r"the mean of the statistic's values ± 1.96 standard deviations: a normal "
                                      r"interval.*Hint: np.percentile"),
    (normal_interval(lambda c: stats.norm.ppf((1 + c) / 2)), "a normal interval"),
]


@pytest.mark.parametrize("wrong, named", [
    (bootstrap_with(resample=lambda rng, scores: rng.permutation(scores)), "drawn without replacement.*collapses to a "
                                                                            "point"),
    (bootstrap_with(resample=lambda rng, scores: rng.choice(scores, size=len(scores), replace=False)),
     "without replacement"),
    (bootstrap_with(levels=[5, 95]), r"confidence=0.95\) returned .*: that is a 90% interval \(the 5th and 95th "
                                     r"percentiles\), not a 95% one"),
    (bootstrap_with(levels=[10, 90]), r"confidence=0.95\) returned \[.*\]; the percentiles of the statistic's "
                                      r"values on your resamples are \[.*\]\. Hint: np.percentile"),
    (bootstrap_with(levels=[2.5, 97.5]), r"confidence=0.8\) returned .*: that is the 95% interval"),
    (bootstrap_with(levels=[0.025, 0.975]), "np.percentile was given fractions"),
    (lambda s, stat, n, rng, c=0.95: bootstrap_with(levels=[100 * (1 - c), 100 * c])(s, stat, n, rng, c),
     "a 90% interval"),
    *NAMED_INTERVALS,
    (bootstrap_with(levels=[0, 100]), "smallest and largest value"),
    (bootstrap_with(statistic_used=False), "never called the statistic"),
    (means_not_statistic, "percentiles of the resamples' means"),
    (swapped_bounds, r"the bounds are swapped: \(high, low\)"),
    (lambda s, stat, n, rng, c=0.95: tuple(stats.bootstrap((s,), stat, n_resamples=n, confidence_level=c,
                                                           vectorized=False, rng=rng).confidence_interval),
     "leave one run out: scipy.stats.bootstrap's default method, BCa"),
    (bootstrap_with(resample=lambda rng, scores: np.random.choice(scores, size=len(scores))), "seeded alike gave "
                                                                                               "different intervals"),
    (bootstrap_with(resample=lambda rng, scores: np.random.default_rng(0).choice(scores, size=len(scores))),
     "all 2000 resamples are the same one"),
    (lambda s, stat, n, rng, c=0.95: bootstrap_loop(s, stat, n, np.random.default_rng(0), c),
     "different seeds gave the same interval"),
    (bootstrap_with(resample=lambda rng, scores: rng.choice(scores, size=len(scores) - 1)), "the resamples hold 9 "
                                                                                             "runs; expected 10"),
    # issue 18: a resample size written in
    (bootstrap_with(resample=lambda rng, scores: rng.choice(scores, size=10)),
     r"for 7 scores the resamples hold 10 runs; expected 7, as many as the scores\. The size is written in"),
    (bootstrap_with(resample=lambda rng, scores: scores[rng.integers(0, len(scores), 10)]), "The size is written in"),
    (bootstrap_with(resample=lambda rng, scores: scores[rng.integers(0, len(scores) - 1, len(scores))]),
     "the run scoring 405 never appears"),
    (reused_resample, "all 2000 resamples are the same one"),
    (bootstrap_with(resamples=1000), "applied to 1000 resamples for n_resamples=2000"),
    (bootstrap_with(resample=lambda rng, scores: rng.choice(scores, size=len(scores), p=scores / scores.sum())),
     r"the runs are not drawn equally often: over 20,000 draws the run scoring 500 came [\d,]+ times and the run "
     r"scoring 12 came \d+ times"),
    (lambda s, stat, n, rng, c=0.95: [stat(s)], r"returned a Python list; expected a pair \(low, high\)"),
    (lambda s, stat, n, rng, c=0.95: stat(np.stack([s, s])), "statistic was called on a NumPy array of shape "
                                                              r"\(2, 10\).*statistic\(resample\)"),
])
def test_bootstrap_mistakes_are_named(wrong, named):
    with pytest.raises(CheckFailed, match=named):
        check_iqm_bootstrap(iqm, wrong)


def test_every_grading_run_names_the_rounded_cut():
    for seed in range(20):
        sizes = beyond.statistics_inputs(np.random.default_rng(seed))["sizes"]
        assert any(size % 4 == 3 and size > 3 for size in sizes), sizes
    assert_graded(check_iqm_bootstrap, (round_cut_iqm, bootstrap_loop), "failed", "round(0.25 · n) does that here",
                  seeds=range(10))


def test_iqm_and_bootstrap_in_grading_runs():
    for answers in (*RIGHT_STATISTICS[:2], *RIGHT_STATISTICS[-2:]):
        assert_graded(check_iqm_bootstrap, answers, "passed", seeds=range(3))
    assert_graded(check_iqm_bootstrap, (np.median, bootstrap_loop), "failed", "that is the median", seeds=range(3))
    assert_graded(check_iqm_bootstrap, (iqm, bootstrap_with(levels=[2.5, 97.5])), "failed", "that is the 95% interval",
                  seeds=range(3))
    assert_graded(check_iqm_bootstrap, (iqm, swapped_bounds), "failed", "the bounds are swapped", seeds=range(3))
    for wrong, named in NAMED_INTERVALS[::2]:
        assert re.search(named, graded(check_iqm_bootstrap, 1, iqm, wrong)["message"])
    assert_graded(check_iqm_bootstrap, (iqm, bootstrap_with(resample=lambda rng, scores: rng.choice(scores, size=10))),
                  "failed", "the resamples hold 10 runs", seeds=range(3))
    notebook = beyond.statistics_inputs(None)
    table = {size: iqm(np.array(notebook["scores"][:size])) for size in notebook["sizes"]}
    hard_coded = lambda scores: table[len(scores)]  # noqa: E731
    check_iqm_bootstrap(hard_coded, bootstrap_loop)  # passes in the notebook
    assert_graded(check_iqm_bootstrap, (hard_coded, bootstrap_loop), "failed", seeds=range(3))
    verdict = graded(check_iqm_bootstrap, 0, lambda scores: float(course_stats.iqm(scores)), bootstrap_loop)
    assert verdict["flags"] == ["calls the course's own `utils.stats.iqm`"]


# --- objects posing as numbers ----------------------------------------------------------------

@pytest.mark.parametrize("rigged", [Anything, RegisteredIntegral])
def test_sum_tree_find_refuses_an_object_posing_as_a_slot(rigged):
    class RiggedFind(SumTree):
        def find(self, value):
            return rigged()

    with pytest.raises(CheckFailed, match=f"returned a Python {rigged.__name__}; expected a slot number, an int"):
        check_sum_tree(RiggedFind)


@pytest.mark.parametrize("rigged", [Anything, RegisteredReal])
def test_iqm_refuses_an_object_posing_as_a_number(rigged):
    with pytest.raises(CheckFailed, match=f"returned a Python {rigged.__name__}; expected one number"):
        check_iqm_bootstrap(lambda scores: rigged(), bootstrap_loop)


def test_n_step_targets_refuses_objects_posing_as_numbers():
    with pytest.raises(CheckFailed, match="returned a NumPy array of shape \\(5,\\) and dtype object; expected a NumPy "
                                          "array of 5 targets"):
        check_n_step_targets(lambda *args: np.array([Anything() for _ in n_step_loop(*args)], dtype=object))


@pytest.mark.parametrize("rigged_priorities, rigged_beta, named", [
    (lambda d, a, eps=1e-6: priorities_from(d, a, eps).view(AlwaysCloseArray), beta_at,
     "returned a Python AlwaysCloseArray; expected a NumPy array of 4 priorities"),
    (priorities_from, lambda s, b0, total: SneakyFloat(beta_at(s, b0, total)),
     r"beta_at\(step, 0.4, 1000\) returned a Python SneakyFloat; expected a float"),
])
def test_per_weights_refuse_rigged_results(rigged_priorities, rigged_beta, named):
    with pytest.raises(CheckFailed, match=named):
        check_per_weights(rigged_priorities, importance_weights, rigged_beta)


def test_prioritized_slots_refuses_a_size_posing_as_an_int():
    def add(self, slot):
        PrioritizedSlots.add(self, slot)
        self.size = RegisteredIntegral()

    with pytest.raises(CheckFailed, match="size is a Python RegisteredIntegral; expected an int"):
        check_prioritized_slots(slots_with(add=add))
