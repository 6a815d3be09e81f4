"""The Q-network and greedy-selection checks pass right answers and name each typical mistake."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import policies
from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks.network import check_greedy, check_q_network
from utils.networks import QNetwork
from test_checks_core import AlwaysCloseTensor, Anything, RegisteredIntegral


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


class CourseCopy(QNetwork):
    """The course's network as a student might retype it in the exercise cell."""


class SequentialInPlace(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, hidden),
                                 nn.ReLU(inplace=True), nn.Linear(hidden, n_actions))

    def forward(self, x):
        return self.net(x)


class FunctionalRelu(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.input_layer, self.hidden_layer = nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden)
        self.output_layer = nn.Linear(hidden, n_actions)

    def forward(self, x):
        return self.output_layer(F.relu(self.hidden_layer(F.relu(self.input_layer(x)))))


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


class NoFirstRelu(Net):
    def hidden_layers(self, x):
        return torch.relu(self.fc2(self.fc1(x)))


class NoSecondRelu(Net):
    def hidden_layers(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class SequentialNoSecondRelu(SequentialInPlace):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        del self.net[3]


class OneHidden(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))

    def forward(self, x):
        return self.layers(x)


class HardCoded(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()


class HiddenFixedAt128(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, 128)


class HiddenFixedAt64(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, 64)


class WrongDefaultHidden(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=64):
        super().__init__(obs_dim, n_actions, hidden)


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


def test_the_reference_and_independent_networks_pass(capsys):
    for network_class in (CourseCopy, Net, RegisteredBackwards, SequentialInPlace, FunctionalRelu):
        check_q_network(network_class)
    assert capsys.readouterr().out.count("passed") == 5


def test_the_course_network_itself_is_refused():
    with pytest.raises(CheckFailed, match="^Exercise 3.1 \\(QNetwork\\): you passed the course's own "
                                          "`utils.networks.QNetwork`; the exercise wants your own code"):
        check_q_network(QNetwork)


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
    (NoFirstRelu, "not Linear, ReLU, Linear, ReLU, Linear of its layers: there is no ReLU between the first linear "
                  "layer \\(4→128\\) and the second"),
    (NoSecondRelu, "no ReLU between the second linear layer \\(128→128\\) and the last \\(128→2\\)"),
    (SequentialNoSecondRelu, "no ReLU between the second linear layer"),
    (HardCoded, "obs_dim=6.*4→128→128→2.*expected 6→32→32→3.*`obs_dim`, `n_actions` and `hidden` arguments "
                "are ignored"),
    (HiddenFixedAt128, r"^Exercise 3.1 \(QNetwork\): QNetwork\(obs_dim=6, n_actions=3, hidden=32\) has linear "
                       r"layers 6→128→128→3 .*expected 6→32→32→3 .*Hint: the `hidden` argument is ignored: size"),
    (HiddenFixedAt64, r"^Exercise 3.1 \(QNetwork\): QNetwork\(\) has linear layers 4→64→64→2 .*the `hidden` "
                      r"argument is ignored \(QNetwork\(obs_dim=4, n_actions=2, hidden=128\) builds 4→64→64→2 too\)"),
    (WrongDefaultHidden, "QNetwork\\(\\) has linear layers 4→64→64→2 .*defaults are wrong"),
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


def greedy_one_by_max(q_net, state):
    with torch.no_grad():
        return q_net(torch.as_tensor(state, dtype=torch.float32)).max(0).indices.item()


def test_the_reference_and_independent_greedy_functions_pass(capsys):
    check_greedy(lambda q_net, state: policies.greedy_action(q_net, state),
                 lambda q_net, states: policies.greedy_actions(q_net, states))
    check_greedy(greedy_one, greedy_batch)
    check_greedy(greedy_one_by_max, greedy_batch)
    assert capsys.readouterr().out.count("passed") == 3


def test_the_course_greedy_functions_themselves_are_refused():
    with pytest.raises(CheckFailed, match="course's own `utils.policies.greedy_actions`"):
        check_greedy(greedy_one, policies.greedy_actions)


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
    (quiet(lambda q, s: q(as_float32(s)).max(0)[0].item()), greedy_batch,
     r"returned 0.9 for Q-values \[0.1, 0.9, -0.3\]: the largest Q-value itself; expected its index, the action 1\. "
     r"Hint: .*argmax\(\)\), or \.max\(0\)\.indices"),
    (quiet(lambda q, s: q(as_float32(s)).max()), greedy_batch, "the largest Q-value itself"),
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


@pytest.mark.parametrize("rigged", [Anything, RegisteredIntegral])
def test_greedy_action_refuses_an_object_posing_as_an_int(rigged):
    with pytest.raises(CheckFailed, match=f"greedy_action returned a Python {rigged.__name__}; expected a Python int"):
        check_greedy(quiet(lambda q, s: (q(torch.as_tensor(s, dtype=torch.float32)), rigged())[1]), greedy_batch)


def test_greedy_actions_refuses_a_tensor_subclass():
    with pytest.raises(CheckFailed, match=r"greedy_actions on a \(5, 4\) batch is a Python AlwaysCloseTensor; "
                                          "expected a tensor of shape"):
        check_greedy(greedy_one, quiet(lambda q, s: q(s).argmax(dim=1).as_subclass(AlwaysCloseTensor)))
