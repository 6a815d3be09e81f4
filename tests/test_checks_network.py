"""The Q-network and greedy-selection checks pass right answers and name each typical mistake."""
import numpy as np
import pytest
import torch
from torch import nn

from utils import policies
from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks.network import check_greedy, check_q_network
from utils.networks import QNetwork


class Net(nn.Module):
    """A correct Q-network written as separate layers; the mistakes below change one thing."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, n_actions)

    def hidden_layers(self, x):
        return torch.relu(self.fc2(torch.relu(self.fc1(x))))

    def forward(self, x):
        return self.out(self.hidden_layers(x))


class RegisteredBackwards(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        nn.Module.__init__(self)
        self.out = nn.Linear(hidden, n_actions)
        self.fc2, self.fc1 = nn.Linear(hidden, hidden), nn.Linear(obs_dim, hidden)


class ReluOutput(Net):
    def forward(self, x):
        return torch.relu(super().forward(x))


class SoftmaxOutput(Net):
    def forward(self, x):
        return torch.softmax(super().forward(x), dim=-1)


class SigmoidOutput(Net):
    def forward(self, x):
        return torch.sigmoid(super().forward(x))


class TanhHidden(Net):
    def hidden_layers(self, x):
        return torch.tanh(self.fc2(torch.tanh(self.fc1(x))))


class NoActivation(Net):
    def hidden_layers(self, x):
        return self.fc2(self.fc1(x))


class OneHidden(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))

    def forward(self, x):
        return self.layers(x)


class HardCoded(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()


class NoBias(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.fc1 = nn.Linear(obs_dim, hidden, bias=False)


class PlainList(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.layers = [nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, n_actions)]


class NoSuperInit(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        self.fc1 = nn.Linear(obs_dim, hidden)


class NoGradForward(Net):
    def forward(self, x):
        with torch.no_grad():
            return super().forward(x)


class Float64(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.double()

    def forward(self, x):
        return super().forward(x.double())


class OnlyDefaults(Net):
    def __init__(self):
        super().__init__()


class NotDoneNet(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        raise NotImplementedError("Exercise 3.1: QNetwork")


def test_the_reference_and_an_independent_network_pass(capsys):
    check_q_network(QNetwork)
    check_q_network(Net)
    check_q_network(RegisteredBackwards)
    assert capsys.readouterr().out.count("passed") == 3


def test_an_unfinished_network_is_not_done():
    with pytest.raises(ExerciseNotDone, match="not done yet"):
        check_q_network(NotDoneNet)


@pytest.mark.parametrize("network_class, named", [
    (ReluOutput, "clipped at 0: there is a ReLU after the last layer"),
    (SoftmaxOutput, "softmax on the output"),
    (SigmoidOutput, "squashing activation"),
    (TanhHidden, "not ReLU"),
    (NoActivation, "affine.*no activation between the layers"),
    (OneHidden, "linear layers 4→128→2 \\(898 parameters\\); expected 4→128→128→2 \\(17,410"),
    (HardCoded, "obs_dim=6.*4→128→128→2.*expected 6→32→32→3"),
    (NoBias, "without bias"),
    (PlainList, "no trainable parameters.*plain Python list"),
    (NoSuperInit, "super\\(\\).__init__\\(\\)"),
    (NoGradForward, "does not require grad"),
    (Float64, "dtype torch.float64"),
    (OnlyDefaults, "raised TypeError.*keep the signature"),
])
def test_a_typical_network_mistake_is_named(network_class, named):
    with pytest.raises(CheckFailed, match=named):
        check_q_network(network_class)


def greedy_one(q_net, state):
    with torch.no_grad():
        return int(q_net(torch.as_tensor(state, dtype=torch.float32)).argmax())


def greedy_batch(q_net, states):
    with torch.no_grad():
        return q_net(states).argmax(dim=1)


def test_the_reference_and_independent_greedy_functions_pass(capsys):
    check_greedy(policies.greedy_action, policies.greedy_actions)
    check_greedy(greedy_one, greedy_batch)
    assert capsys.readouterr().out.count("passed") == 2


def test_unfinished_greedy_functions_are_not_done():
    def stub(q_net, state):
        raise NotImplementedError("Exercise 3.2: greedy_action / greedy_actions")

    with pytest.raises(ExerciseNotDone, match="not done yet"):
        check_greedy(stub, stub)


GLOBAL_NET = nn.Linear(4, 3)


def quiet(select):
    """`select` run under torch.no_grad(), so that only the intended mistake is left."""
    return lambda q_net, states: torch.no_grad()(select)(q_net, states)


def as_float32(state):
    return torch.as_tensor(state, dtype=torch.float32)


@pytest.mark.parametrize("one, batch, named", [
    (lambda q, s: int(q(as_float32(s)).argmax()), greedy_batch, "greedy_action called q_net with gradient tracking on"),
    (greedy_one, lambda q, s: q(s).argmax(dim=1), "greedy_actions called q_net with gradient tracking on"),
    (quiet(lambda q, s: int(GLOBAL_NET(as_float32(s)).argmax())), greedy_batch, "never called the q_net"),
    (quiet(lambda q, s: int(q(torch.tensor(s)).argmax())), greedy_batch, "float64 state raised.*torch.as_tensor"),
    (quiet(lambda q, s: int(q(s).argmax())), greedy_batch, "float64 state raised.*torch.as_tensor"),
    (quiet(lambda q, s: int(q(as_float32(s)).argmax(dim=1))), greedy_batch, "IndexError.*last dimension"),
    (quiet(lambda q, s: q(as_float32(s)).argmax()), greedy_batch, "returned a tensor.*expected a Python int"),
    (quiet(lambda q, s: np.int64(q(as_float32(s)).argmax())), greedy_batch, "numpy.int64; expected a Python int"),
    (quiet(lambda q, s: int(q(as_float32(s)).argmin())), greedy_batch, "lowest Q-value.*argmin"),
    (greedy_one, quiet(lambda q, s: q(s).argmax(dim=1, keepdim=True)), r"shape \(5, 1\); expected \(5,\)"),
    (greedy_one, quiet(lambda q, s: q(s).argmax(dim=0)), "argmax over dim 0"),
    (greedy_one, quiet(lambda q, s: q(s).argmax()), "flattened"),
    (greedy_one, quiet(lambda q, s: q(s).max(dim=1).values), "largest Q-values, not the actions"),
    (greedy_one, quiet(lambda q, s: q(s).argmin(dim=1)), "lowest Q-value in each row"),
    (greedy_one, quiet(lambda q, s: q(s).argmax(dim=1).int()), "dtype torch.int32"),
    (greedy_one, quiet(lambda q, s: q(s).argmax(dim=1).numpy()), "NumPy array"),
    (greedy_one, quiet(lambda q, s: q(s).argmax(dim=1).tolist()), "Python list"),
])
def test_a_typical_greedy_mistake_is_named(one, batch, named):
    with pytest.raises(CheckFailed, match=named):
        check_greedy(one, batch)
