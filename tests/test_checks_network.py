"""The Q-network and greedy-selection checks pass right answers and name each typical mistake."""
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import policies
from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks.network import check_greedy, check_q_network
from utils.networks import QNetwork
from test_checks_core import AlwaysCloseTensor, Anything, RegisteredIntegral, own_copy, graded, own_class


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


CourseCopy = own_class(QNetwork)  # the course's network as a student might retype it in the exercise cell


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
    check_greedy(own_copy(policies.greedy_action), own_copy(policies.greedy_actions))
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


# --- issue 18: dropout, other activations, the argument order, and the largest Q-value as an int ----

class DropoutBetween(SequentialInPlace):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.net = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, n_actions))


class FunctionalDropout(Net):
    def hidden_layers(self, x):
        return F.dropout(super().hidden_layers(x), p=0.1, training=self.training)


class LeakyHidden(Net):
    def hidden_layers(self, x):
        return F.leaky_relu(self.fc2(F.leaky_relu(self.fc1(x))))


class EluHidden(Net):
    def hidden_layers(self, x):
        return F.elu(self.fc2(F.elu(self.fc1(x))))


class LogSoftmaxOutput(Net):
    def forward(self, x):
        return F.log_softmax(super().forward(x), dim=-1)


class SwappedArguments(Net):
    def __init__(self, n_actions=2, obs_dim=4, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)


class KeywordOnly(Net):
    def __init__(self, *, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)


class BatchNormHidden(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        self.norm = nn.BatchNorm1d(hidden)

    def hidden_layers(self, x):
        return torch.relu(self.fc2(self.norm(torch.relu(self.fc1(x)))))


class ZeroInit(Net):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        for layer in (self.fc1, self.fc2, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)


class ZeroOutputLayer(Net):
    """Right: only the output layer starts at zero (its rows get different gradients, one per action)."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)


class LayersInForward(nn.Module):
    """Makes its layers in forward: new, untrained ones at every call, and none registered."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.sizes = obs_dim, n_actions, hidden

    def forward(self, x):
        obs_dim, n_actions, hidden = self.sizes
        x = torch.relu(nn.Linear(obs_dim, hidden)(x))
        return nn.Linear(hidden, n_actions)(torch.relu(nn.Linear(hidden, hidden)(x)))


class ViewsWithFour(Net):
    def forward(self, x):
        return super().forward(x.view(-1, 4))


class AlwaysUnsqueezes(Net):
    def forward(self, x):
        return super().forward(x.unsqueeze(0))


class SkipsMiddle(Net):
    def hidden_layers(self, x):
        return torch.relu(self.fc1(x))


class MiddleTwice(Net):
    def hidden_layers(self, x):
        return torch.relu(self.fc2(torch.relu(self.fc2(torch.relu(self.fc1(x))))))


class DetachedOutput(Net):
    def forward(self, x):
        return super().forward(x).detach()


class DetachedHidden(Net):
    """Detaches the first hidden activation: the first layer never gets a gradient."""

    def forward(self, x):
        return self.out(torch.relu(self.fc2(torch.relu(self.fc1(x)).detach())))


class ModuleListNet(nn.Module):
    """Correct: the layers in an nn.ModuleList, applied in a loop."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(obs_dim, hidden), nn.Linear(hidden, hidden),
                                     nn.Linear(hidden, n_actions)])

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class OrthogonalInit(Net):
    """Correct: another random initialisation, and the input cast to float."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__(obs_dim, n_actions, hidden)
        for layer in (self.fc1, self.fc2, self.out):
            nn.init.orthogonal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        return super().forward(x.float())


class HardCodedSmallSizes(Net):
    """Builds the notebook's other sizes whatever it is asked for (passes only on the notebook's inputs)."""

    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        if (obs_dim, n_actions, hidden) != (4, 2, 128):
            obs_dim, n_actions, hidden = 6, 3, 32
        super().__init__(obs_dim, n_actions, hidden)


class ArgmaxOutput(Net):
    """Returns each state's greedy action instead of its Q-values."""

    def forward(self, x):
        return super().forward(x).argmax(dim=-1)


class ReshapesByBatchSize(Net):
    """Wrong: flattens with states.size(0), a batch's first dimension: one state of shape (4,) becomes (4, 1)."""

    def forward(self, x):
        return super().forward(x.view(x.size(0), -1))


class WrapsCourseNetwork(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2, hidden=128):
        super().__init__()
        self.inner = QNetwork(obs_dim, n_actions, hidden)

    def forward(self, x):
        return self.inner(x)


NEW_NETWORK_MISTAKES = [
    (DropoutBetween, "two calls of QNetwork\\(\\) on the same batch gave different Q-values: the network holds "
                     "nn.Dropout.*never switches the network to eval mode.*no dropout"),
    (FunctionalDropout, "different Q-values: its forward is random.*no dropout"),
    (LeakyHidden, "the activation between the layers is LeakyReLU, not ReLU"),
    (EluHidden, "the activation between the layers is ELU, not ReLU"),
    (LogSoftmaxOutput, "log_softmax on the output"),
    (SwappedArguments, r"QNetwork\(6, 3, 32\) \(the sizes by position.*builds linear layers 3→32→32→6; expected "
                       r"6→32→32→3: the arguments are in another order"),
    (KeywordOnly, r"QNetwork\(6, 3, 32\) \(the sizes by position.*raised TypeError"),
    (BatchNormHidden, "17,666 trainable parameters; expected 17,410: it also holds BatchNorm1d"),
    (ZeroInit, "every weight of the linear layer 4→128 is 0: with equal weights all hidden units"),
    (SkipsMiddle, "the second hidden layer \\(128→128\\) is never used in forward"),
    (LayersInForward, "has no trainable parameters: its layers are made in forward"),
    (ViewsWithFour, r"QNetwork\(obs_dim=6, n_actions=3, hidden=32\) raised RuntimeError: shape '\[-1, 4\]' is invalid.*"
                    r"forward reshapes with a fixed size"),
    (AlwaysUnsqueezes, r"has shape \(1, 5, 2\): forward adds a batch dimension \(unsqueeze\(0\)\)"),
    (MiddleTwice, "the second hidden layer \\(128→128\\) is applied twice"),
    (DetachedOutput, "does not require grad"),
    (DetachedHidden, "no gradient reaches the linear layer 4→128: forward cuts it off the output"),
    (ArgmaxOutput, "is an integer tensor of shape \\(5,\\): one action index per state \\(an argmax\\), not the 2 "
                   "Q-values"),
    # red team c: greedy_action, in this notebook and after, gives the network one state at a time
    (ReshapesByBatchSize, r"for one state, shape \(4,\), the network raised RuntimeError: .*greedy_action gives the "
                          r"network one state at a time.*Hint: "),
]


def test_more_correct_networks_pass(capsys):
    for network_class in (ModuleListNet, OrthogonalInit, FunctionalRelu, ZeroOutputLayer):
        check_q_network(network_class)
    assert capsys.readouterr().out.count("passed") == 4


@pytest.mark.parametrize("network_class, named", NEW_NETWORK_MISTAKES)
def test_a_realistic_network_mistake_is_named(network_class, named):
    with pytest.raises(CheckFailed, match=named):
        check_q_network(network_class)


SEEDS = (1, 2, 3)


@pytest.mark.parametrize("seed", SEEDS)
def test_grading_passes_correct_networks(seed):
    for network_class in (CourseCopy, Net, SequentialInPlace, ModuleListNet, OrthogonalInit):
        assert graded(check_q_network, seed, network_class)["status"] == "passed", network_class


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("network_class, named", [
    (DropoutBetween, "holds nn.Dropout"), (NoSecondRelu, "no ReLU between the second"), (SwappedArguments, "order"),
    (HiddenFixedAt128, "the `hidden` argument is ignored"), (ReluOutput, "clipped at 0"),
    (ArgmaxOutput, "one action index per state"), (DetachedHidden, r"no gradient reaches the linear layer \d+→\d+:"),
])
def test_grading_names_network_mistakes_on_fresh_inputs(network_class, named, seed):
    verdict = graded(check_q_network, seed, network_class)
    assert verdict["status"] == "failed" and re.search(named, verdict["message"]), verdict


def test_grading_fails_a_network_that_hard_codes_the_notebook_sizes(capsys):
    check_q_network(HardCodedSmallSizes)
    assert "passed" in capsys.readouterr().out
    for seed in SEEDS:
        verdict = graded(check_q_network, seed, HardCodedSmallSizes)
        assert verdict["status"] == "failed" and re.search("arguments? (is|are) ignored", verdict["message"]), verdict


def test_grading_flags_a_network_that_wraps_the_course_network():
    with pytest.raises(CheckFailed, match="your code calls the course's own `utils.networks.QNetwork`"):
        check_q_network(WrapsCourseNetwork)
    assert graded(check_q_network, 1, WrapsCourseNetwork)["flags"] == [
        "calls the course's own `utils.networks.QNetwork`"]


def boltzmann_one(q_net, state):
    with torch.no_grad():
        q_values = q_net(as_float32(state))
    return int(torch.multinomial(torch.softmax(q_values, dim=0), 1))


def greedy_one_numpy_argmax(q_net, state):
    """Correct: NumPy's argmax of the Q-values, made a Python int."""
    with torch.no_grad():
        return int(np.argmax(q_net(torch.tensor(state, dtype=torch.float32)).numpy()))


def greedy_batch_by_max(q_net, states):
    """Correct: the indices half of .max(dim=1)."""
    with torch.no_grad():
        return torch.max(q_net(states), dim=1).indices


def no_grad_without_parentheses(q_net, states):
    """Wrong: `with torch.no_grad:`, the class itself, not a context manager."""
    with torch.no_grad:
        return q_net(states).argmax(dim=1)


@quiet
def best_from_zero(q_net, state):
    """Wrong: a running maximum that starts from 0, so a state whose Q-values are all negative gets action 0."""
    best_action, best_q = 0, 0.0
    for action, q in enumerate(q_net(as_float32(state)).tolist()):
        if q > best_q:
            best_action, best_q = action, q
    return best_action


NEW_GREEDY_MISTAKES = [
    (quiet(lambda q, s: int(q(as_float32(s)).max())), greedy_batch,
     r"returned 0 for Q-values \[0.1, 0.9, -0.3\]; expected 1: it returns the largest Q-value itself \(0.9\), made an "
     r"int \(truncated\), not its index"),
    (quiet(lambda q, s: round(q(as_float32(s)).max().item())), greedy_batch,
     r"returned 2 for Q-values \[2.0, -1.0, 0.5\]; expected 0: it returns the largest Q-value itself \(2\), made an "
     r"int \(truncated\)"),
    (quiet(lambda q, s: int(q(as_float32(s))[1] > q(as_float32(s))[0])), greedy_batch,
     "compares only the first two actions"),
    (quiet(lambda q, s: int(q(s.unsqueeze(0)).argmax())), greedy_batch,
     "float64 state raised AttributeError.*torch.as_tensor"),
    (boltzmann_one, greedy_batch, "in 3 calls on the same state: it is random"),
    (greedy_one, quiet(lambda q, s: q(s).max(dim=1).values.long()), "largest Q-values themselves, made integers"),
    (quiet(lambda q, s: int(q(as_float32(s).unsqueeze(0)).argmax(dim=0)[0])), greedy_batch,
     "returned action 0 for every state.*argmax over dim 0 of a \\(1, n_actions\\) output is always 0"),
    (quiet(lambda q, s: q(as_float32(s)[None]).max(0).indices[0].item()), greedy_batch, "action 0 for every state"),
    (greedy_one, quiet(lambda q, s: (q(s)[:, 1] > q(s)[:, 0]).long()), r"greedy_actions returned \[1, 0, 0, 0, 1\]; "
                                                                         r"expected \[1, 0, 2, 0, 2\]: it compares only "
                                                                         r"the first two actions"),
    (greedy_one, quiet(lambda q, s: q(s).argmax(1, keepdim=True).squeeze()),
     r"greedy_actions on a \(1, 4\) batch returned a tensor of shape \(\): a squeeze\(\) dropped the batch dimension"),
    # red team c: torch.from_numpy, which refuses the list the statement allows
    (quiet(lambda q, s: int(q(torch.from_numpy(s).float()).argmax())), greedy_batch,
     r"greedy_action\(q_net, state\) with the state as a Python list \[0.1, 0.9, -0.3, 7.0\] raised TypeError: .*: the "
     r"statement allows a list.*Hint: convert with torch.as_tensor\(state, dtype=torch.float32\)"),
    # red team c: torch.no_grad without its parentheses, and .numpy() of Q-values that require grad
    (greedy_one, no_grad_without_parentheses, r"raised TypeError: 'type' object does not support the context manager "
                                              r"protocol.*Hint: `with` needs the context manager that a call makes: "
                                              r"`with torch.no_grad\(\):`, with its parentheses"),
    (greedy_one, lambda q, s: torch.as_tensor(q(s).numpy().argmax(axis=1)), r"raised RuntimeError: Can't call numpy\(\) "
                                                                            r"on Tensor that requires grad.*Hint: call "
                                                                            r"the network under `with torch.no_grad\(\):`"),
    # red team c: the running maximum starts from 0
    (best_from_zero, greedy_batch, r"greedy_action returned 0 for Q-values \[-0.2, -0.4, -0.1\], all negative; expected "
                                   r"2: the running maximum starts from 0 \(best = 0.0\).*Hint: start from the first "
                                   r"Q-value or from float\('-inf'\)"),
]


def test_more_correct_greedy_functions_pass(capsys):
    check_greedy(greedy_one_numpy_argmax, greedy_batch_by_max)
    check_greedy(greedy_one_by_max, greedy_batch_by_max)
    assert capsys.readouterr().out.count("passed") == 2


@pytest.mark.parametrize("one, batch, named", NEW_GREEDY_MISTAKES)
def test_a_realistic_greedy_mistake_is_named(one, batch, named):
    with pytest.raises(CheckFailed, match=named):
        check_greedy(one, batch)


@pytest.mark.parametrize("seed", SEEDS)
def test_grading_greedy(seed):
    for one, batch in ((greedy_one, greedy_batch), (greedy_one_numpy_argmax, greedy_batch_by_max),
                       (own_copy(policies.greedy_action), own_copy(policies.greedy_actions))):
        assert graded(check_greedy, seed, one, batch)["status"] == "passed"
    deterministic = [mistake for mistake in NEW_GREEDY_MISTAKES if mistake[0] is not boltzmann_one]
    for (one, batch, _), named in zip(deterministic, [
            "the largest Q-value itself .*truncated", "the largest Q-value itself", "compares only the first two",
            "float64 state raised AttributeError", "largest Q-values themselves, made integers",
            "action 0 for every state", "action 0 for every state"]):
        verdict = graded(check_greedy, seed, one, batch)
        assert verdict["status"] == "failed" and re.search(named, verdict["message"]), verdict


@pytest.mark.parametrize("seed", SEEDS)
def test_every_grading_run_has_a_state_whose_q_values_are_all_negative(seed):
    verdict = graded(check_greedy, seed, best_from_zero, greedy_batch)
    assert verdict["status"] == "failed" and "the running maximum starts from 0" in verdict["message"], verdict


NOTEBOOK_ANSWERS = {0.1: 1, 2.0: 0, -0.2: 2, 0.3: 0, -5.0: 2}


def hard_coded_one(q_net, state):
    with torch.no_grad():
        q_net(as_float32(state))
    return NOTEBOOK_ANSWERS.get(round(float(state[0]), 1), 0)


def test_grading_fails_greedy_answers_hard_coded_from_the_notebook(capsys):
    check_greedy(hard_coded_one, greedy_batch)
    assert "passed" in capsys.readouterr().out
    for seed in SEEDS:
        assert graded(check_greedy, seed, hard_coded_one, greedy_batch)["status"] == "failed"


def test_grading_flags_greedy_functions_that_call_the_course_ones():
    verdict = graded(check_greedy, 1, lambda q, s: policies.greedy_action(q, s), greedy_batch)
    assert verdict["status"] == "passed" and verdict["flags"] == [
        "calls the course's own `utils.policies.greedy_action`"]


class SqueezedOutput(Net):
    def forward(self, x):
        return super().forward(x).squeeze()


class SqueezedFirstAxis(Net):
    def forward(self, x):
        return super().forward(x).squeeze(0)


class SingleStateAware(Net):
    """Correct: a single state (obs_dim,) gives (n_actions,), a batch of one keeps its batch dimension."""

    def forward(self, x):
        return super().forward(x.unsqueeze(0)).squeeze(0) if x.dim() == 1 else super().forward(x)


DROPPED = r"for a batch of one state, shape \(1, 4\), the network returned shape \(2,\); expected \(1, 2\): the " \
          r"batch dimension was dropped"


@pytest.mark.parametrize("network_class", [SqueezedOutput, SqueezedFirstAxis])
def test_a_batch_of_one_losing_its_batch_dimension_is_named_in_the_notebook_and_when_graded(network_class):
    with pytest.raises(CheckFailed, match=DROPPED):
        check_q_network(network_class)
    verdict = graded(check_q_network, 1, network_class)
    assert verdict["status"] == "failed" and "the batch dimension was dropped" in verdict["message"], verdict


@pytest.mark.parametrize("network_class", [Net, SingleStateAware])
def test_a_batch_of_one_keeping_its_batch_dimension_passes_in_the_notebook_and_when_graded(network_class, capsys):
    check_q_network(network_class)
    assert "passed" in capsys.readouterr().out
    assert graded(check_q_network, 1, network_class)["status"] == "passed"
