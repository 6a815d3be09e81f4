"""Checks of notebook 5: right answers pass, typical mistakes are named, in a notebook and in graded runs."""
import contextlib
import copy
import dataclasses
import functools
import json
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import dqn
from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks import check_optimize_step, check_td_targets, check_train_dqn, check_update_target
from utils.checks import wire
from utils.policies import epsilon_greedy_action, epsilon_schedule
from test_checks_core import (assert_graded, assert_named_both_ways, graded, AlwaysCloseParameter, AlwaysCloseTensor, Anything, RegisteredIntegral, RegisteredReal,
                              own_copy, rig_parameters)

SEEDS = (1, 2, 3)  # grading runs: inputs drawn from each


def memorized_values(check, answer) -> list:
    """What `answer` returned on the notebook's inputs, call by call."""
    outputs = []
    check(lambda *args, **kwargs: outputs.append(answer(*args, **kwargs)) or outputs[-1])
    return outputs


def memorized(check, answer):
    """A "student" who replays, call by call, what `answer` returned on the notebook's inputs (hard-coded results)."""
    calls = iter(memorized_values(check, answer) * 10)
    return lambda *args, **kwargs: next(calls)


# --- 5.1 ------------------------------------------------------------------------------------

td_targets = own_copy(dqn.td_targets)
"""The reference computation, as a student's own copy in their cell."""


def test_reference_td_targets_pass():
    check_td_targets(td_targets)


def plain_targets(r, s, d, net, g):
    """Right formula, but with gradient tracking on."""
    return r + g * (1 - d) * net(s).max(dim=1).values


@pytest.mark.parametrize("wrong, words", [
    (lambda r, s, d, net, g: (r + g * net(s).max(dim=1).values).detach(), "terminal states are not masked"),
    (lambda r, s, d, net, g: (r + g * d * net(s).max(dim=1).values).detach(), "mask is inverted"),
    (lambda r, s, d, net, g: (r + g * (1 - d) * net(s).min(dim=1).values).detach(), "smallest next Q-value"),
    (lambda r, s, d, net, g: (r + g * (1 - d) * net(s).mean(dim=1)).detach(), "averages over next actions"),
    (lambda r, s, d, net, g: r + g * (1 - d) * net(s).argmax(dim=1), "index of the best action"),
    (lambda r, s, d, net, g: (r + g * (1 - d) * net(s)[:, 0]).detach(), "action 0"),
    (lambda r, s, d, net, g: (r + (1 - d) * net(s).max(dim=1).values).detach(), "gamma is missing"),
    (lambda r, s, d, net, g: (g * (r + (1 - d) * net(s).max(dim=1).values)).detach(), "gamma multiplies the reward"),
    (lambda r, s, d, net, g: (r + 0.99 * (1 - d) * net(s).max(dim=1).values).detach(), "gamma = 0.99"),
    (plain_targets, "gradients would flow into the target network"),
    (lambda r, s, d, net, g: (r + g * (1 - d) * net(s).max(dim=1, keepdim=True).values).detach(), r"\(5, 5\).*broadcast"),
    (lambda r, s, d, net, g: (r + g * (1 - d) * net(s).max(dim=1).values).detach().unsqueeze(1), r"\(5, 1\)"),
    (lambda r, s, d, net, g: float((r + g * (1 - d) * net(s).max(dim=1).values).detach().sum()), "Python or NumPy value"),
    (lambda r, s, d, net, g: (r + g * (1 - d) * net(s).max(dim=1).values).detach().numpy(), "NumPy"),
    (lambda r, s, d, net, g: (r + g * (1 - d) * net(s).max(dim=1).values).detach().double(), "dtype torch.float64"),
    (lambda r, s, d, net, g: r + g * (1 - d) * net(s).max(dim=0).values, r"dim 0 \(the batch\)"),
    (lambda r, s, d, net, g: r + g * (1 - d) * net(s).max(dim=1), r"\.max\(dim=1\)\.values"),
    (lambda r, s, d, net, g: r.add_(g * (1 - d) * net(s).max(dim=1).values.detach()), "in place"),
])
def test_td_target_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_td_targets(wrong)


def test_unfinished_td_targets_is_not_done():
    def stub(*args):
        raise NotImplementedError("Exercise 5.1: td_targets")

    with pytest.raises(ExerciseNotDone, match="Exercise 5.1: td_targets is not done yet"):
        check_td_targets(stub)


# Students' own wrong versions, written as they write them: each is caught, and its mistake named.

notebook_net = nn.Linear(4, 3)  # another network of the notebook, not the target network


def mask_on_everything(rewards, next_states, terminated, target_net, gamma):
    """The terminal mask multiplies the reward too."""
    with torch.no_grad():
        best = target_net(next_states).max(dim=1).values
    return (1 - terminated) * (rewards + gamma * best)


def mask_on_the_reward(rewards, next_states, terminated, target_net, gamma):
    """The mask on the reward instead of the future term."""
    with torch.no_grad():
        return (1 - terminated) * rewards + gamma * target_net(next_states).max(dim=1).values


def max_of_everything(rewards, next_states, terminated, target_net, gamma):
    """One max over the whole batch."""
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * target_net(next_states).max()


def another_network(rewards, next_states, terminated, target_net, gamma):
    """Bootstraps from a network of the notebook instead of target_net."""
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * notebook_net(next_states).max(dim=1).values


def undefined_q_net(rewards, next_states, terminated, target_net, gamma):
    """Bootstraps from q_net, which is not an argument."""
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * q_net(next_states).max(dim=1).values  # noqa: F821


def python_not(rewards, next_states, terminated, target_net, gamma):
    """`not terminated` on a batch."""
    with torch.no_grad():
        return rewards + gamma * (not terminated) * target_net(next_states).max(dim=1).values


def where_on_floats(rewards, next_states, terminated, target_net, gamma):
    """torch.where with the float flags as the condition."""
    with torch.no_grad():
        return torch.where(terminated, rewards, rewards + gamma * target_net(next_states).max(dim=1).values)


def indices_of_max(rewards, next_states, terminated, target_net, gamma):
    """.max(1)[1]: the indices."""
    with torch.no_grad():
        return rewards + gamma * (1 - terminated) * target_net(next_states).max(1)[1]


def forgets_no_grad(rewards, next_states, terminated, target_net, gamma):
    """The targets keep their graph."""
    best, _ = torch.max(target_net(next_states), dim=1)
    return rewards + gamma * (1 - terminated) * best


def adds_in_place(rewards, next_states, terminated, target_net, gamma):
    """Writes the targets into the rewards."""
    with torch.no_grad():
        rewards += gamma * (1 - terminated) * target_net(next_states).max(dim=1).values
    return rewards


def float_flags_as_index(rewards, next_states, terminated, target_net, gamma):
    """Indexes with the float flags, a NumPy habit."""
    with torch.no_grad():
        best = target_net(next_states).max(dim=1).values
    best[terminated] = 0.0
    return rewards + gamma * best


def masked_rows_plus_all(rewards, next_states, terminated, target_net, gamma):
    """Adds a full (B,) future term to the masked rows only."""
    with torch.no_grad():
        best = target_net(next_states).max(dim=1).values
    targets = rewards.clone()
    targets[terminated == 0] += gamma * best
    return targets


STUDENT_TARGET_MISTAKES = [
    (float_flags_as_index, r"IndexError.*terminated is a float32 tensor of 1.0/0.0 flags.*terminated.bool\(\)"),
    (masked_rows_plus_all, r"a masked selection of rows \(the rows where terminated == 0, \d+ of \d+\) met a tensor "
                           r"of all \d+ rows"),
    (mask_on_everything, "mask multiplies the reward too.*became 0 instead of its reward"),
    (mask_on_the_reward, "mask multiplies the reward instead of the future term"),
    (max_of_everything, "one max over the whole batch"),
    (another_network, "target_net was never called"),  # graded: a crash on the inputs' sizes, named the same
    (undefined_q_net, "NameError.*not one of its arguments"),
    (python_not, "`not terminated`.*one truth value"),
    (where_on_floats, "terminated is float32.*terminated.bool()"),
    (indices_of_max, "index of the best action"),
    (forgets_no_grad, "gradients would flow into the target network"),
    (adds_in_place, "changed its `rewards` argument in place"),
]


@pytest.mark.parametrize("wrong, words", STUDENT_TARGET_MISTAKES)
def test_students_target_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_td_targets(wrong)


def where_on_bools(rewards, next_states, terminated, target_net, gamma):
    """Right: torch.where on the flags as bools."""
    with torch.no_grad():
        best = target_net(next_states).max(dim=1).values
    return torch.where(terminated.bool(), rewards, rewards + gamma * best)


def masked_future_detached(rewards, next_states, terminated, target_net, gamma):
    """Right: the future term masked first, detached afterwards."""
    future = target_net.forward(next_states).max(1)[0] * (1.0 - terminated)
    return (rewards + gamma * future).detach()


@pytest.mark.parametrize("right", [where_on_bools, masked_future_detached])
def test_right_target_variants_pass(right, capsys):
    check_td_targets(right)
    assert all(graded(check_td_targets, seed, right)["status"] == "passed" for seed in SEEDS)
    assert "passed" in capsys.readouterr().out


# --- 5.2 ------------------------------------------------------------------------------------

def make_step(select="gather", kind=None, reduction="mean", zero_grad="first", clip="norm", item=True, no_grad=False):
    """An optimize_step with one of its parts done the usual wrong way."""
    def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
        with torch.set_grad_enabled(not no_grad):
            q_all = q_net(batch.states)
        predicted = {
            "gather": lambda: q_all.gather(1, batch.actions.unsqueeze(1)).squeeze(1),
            "keepdim": lambda: q_all.gather(1, batch.actions.unsqueeze(1)),
            "all": lambda: q_all,
            "max": lambda: q_all.max(dim=1).values,
        }[select]()
        wanted = targets.unsqueeze(1) if select == "all" else targets
        chosen = loss_kind if kind in (None, "rmse", "huber beta") else kind
        function = F.smooth_l1_loss if chosen == "huber" else F.mse_loss
        if kind == "huber beta":
            function = functools.partial(F.smooth_l1_loss, beta=0.5) if loss_kind == "huber" else F.mse_loss
        loss = function(predicted, wanted, reduction="mean" if reduction == "mean twice" else reduction)
        loss = loss / len(wanted) if reduction == "mean twice" else loss
        loss = loss.sqrt() if kind == "rmse" and loss_kind == "mse" else loss
        if zero_grad in ("first", "step twice"):
            optimizer.zero_grad()
        loss.backward()
        if zero_grad == "between":
            optimizer.zero_grad()
        if (max_grad_norm is not None and clip == "norm") or clip == "always":
            nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
        if max_grad_norm is not None and clip == "value":
            nn.utils.clip_grad_value_(q_net.parameters(), max_grad_norm)
        if zero_grad != "no step":
            optimizer.step()
        if zero_grad == "step twice":
            optimizer.step()
        return loss.item() if item else loss
    return optimize_step


def stepping_before_backward(zero_grad_first: bool):
    """An optimize_step that steps before computing the new gradient: on the stale gradient, or (zero_grad
    first) on no gradient at all."""
    def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
        if zero_grad_first:
            optimizer.zero_grad()
        optimizer.step()
        optimizer.zero_grad()
        function = F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss
        loss = function(q_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1), targets)
        loss.backward()
        return loss.item()
    return optimize_step


def test_reference_optimize_step_passes():
    check_optimize_step(make_step())


@pytest.mark.parametrize("wrong, words", [
    (make_step(kind="huber"), "computes the huber loss although loss_kind='mse'"),
    (make_step(kind="mse"), "computes the mse loss although loss_kind='huber'"),
    (make_step(select="all"), "all actions"),
    (make_step(select="keepdim"), r"shape \(B, 1\).*broadcast"),
    (make_step(select="max"), "instead of the action taken"),
    (make_step(reduction="sum"), "summed"),
    (make_step(zero_grad="never"), "zero_grad\\(\\) is missing"),
    (make_step(zero_grad="between"), "did not change"),
    (make_step(zero_grad="no step"), "did not change"),
    (stepping_before_backward(zero_grad_first=False), "before loss.backward"),
    (stepping_before_backward(zero_grad_first=True),  # hidden set C
     r"the weights did not change: .*runs before loss.backward\(\) \(just after zero_grad\(\) there is no gradient "
     r"to step on\)"),
    (make_step(clip="none"), "had no effect"),
    (make_step(clip="value"), "clip_grad_value_"),
    (make_step(clip="always"), "None means no clipping"),
    (make_step(item=False), "expected a Python float"),
    (make_step(no_grad=True), "no gradient"),
    (make_step(reduction="mean twice"), r"divided by the batch size again.*Hint: F.smooth_l1_loss and F.mse_loss "
                                        r"already average over the batch"),
    (make_step(zero_grad="step twice"), "the weights moved twice as far as one step"),
    (make_step(kind="huber beta"), r"F.smooth_l1_loss with beta=0.5 is not the Huber loss the course uses"),
    (make_step(kind="rmse"), r"square root of the mean squared error \(an RMSE\)"),
])
def test_optimize_step_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_optimize_step(wrong)


def taken_q(q_net, batch):
    """Q(s, a) of the batch's actions, as students write it."""
    return q_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1)


def returns_the_new_loss(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Reports the loss recomputed after the step."""
    loss_fn = F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss
    loss = loss_fn(taken_q(q_net, batch), targets)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    with torch.no_grad():
        return loss_fn(taken_q(q_net, batch), targets).item()


def halved_squares(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Writes the squared error as 0.5 * mean(δ²)."""
    errors = targets - taken_q(q_net, batch)
    loss = F.smooth_l1_loss(taken_q(q_net, batch), targets) if loss_kind == "huber" else 0.5 * (errors ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


def indexes_every_row(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """q_net(states)[:, actions]: a (B, B) block."""
    loss_fn = F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss
    loss = loss_fn(q_net(batch.states)[:, batch.actions], targets)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


def own_adam(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Builds a new optimiser at every step."""
    optimizer = torch.optim.Adam(q_net.parameters())
    loss = (F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss)(taken_q(q_net, batch), targets)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


def clips_before_backward(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Clips the gradient before it exists."""
    loss = (F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss)(taken_q(q_net, batch), targets)
    optimizer.zero_grad()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    loss.backward()
    optimizer.step()
    return loss.item()


def always_huber(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Ignores loss_kind."""
    loss = F.smooth_l1_loss(taken_q(q_net, batch), targets)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


def zero_grad_last(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Clears the gradients after the step instead of before backward()."""
    loss = (F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss)(taken_q(q_net, batch), targets)
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def returns_detached_loss(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Returns the loss tensor, detached."""
    loss = (F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss)(taken_q(q_net, batch), targets)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return loss.detach()


STUDENT_STEP_MISTAKES = [
    (returns_the_new_loss, "loss after the step"),
    (halved_squares, "squared error is halved"),
    (indexes_every_row, r"\[:, actions\] picks a \(B, B\) block"),
    (own_adam, "creates its own optimiser"),
    (clips_before_backward, "had no effect"),
    (always_huber, "computes the huber loss although loss_kind='mse'"),
    (zero_grad_last, "zero_grad\\(\\) is missing"),
    (returns_detached_loss, "expected a Python float"),
]


@pytest.mark.parametrize("wrong, words", STUDENT_STEP_MISTAKES)
def test_students_step_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_optimize_step(wrong)


def indexed_with_arange(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Right: advanced indexing, F.huber_loss, q_net.zero_grad()."""
    predicted = q_net(batch.states)[torch.arange(len(batch.actions)), batch.actions]
    loss = F.huber_loss(predicted, targets, delta=1.0) if loss_kind == "huber" else ((predicted - targets) ** 2).mean()
    q_net.zero_grad()
    loss.backward()
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(q_net.parameters(), max_norm=max_grad_norm)
    optimizer.step()
    return float(loss)


@pytest.mark.parametrize("right", [make_step(), indexed_with_arange])
def test_right_step_variants_pass(right, capsys):
    check_optimize_step(right)
    assert all(graded(check_optimize_step, seed, right)["status"] == "passed" for seed in SEEDS)
    assert "passed" in capsys.readouterr().out


# --- 5.3 ------------------------------------------------------------------------------------

def polyak(target_net, q_net, tau):
    """The right answer, parameter by parameter."""
    with torch.no_grad():
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            t.copy_(tau * q + (1 - tau) * t)


def via_state_dict(target_net, q_net, tau):
    """The right answer through state dicts."""
    mixed = {k: tau * v + (1 - tau) * target_net.state_dict()[k] for k, v in q_net.state_dict().items()}
    target_net.load_state_dict(mixed)


def swapped(target_net, q_net, tau):
    """τ and 1 − τ the wrong way round."""
    polyak(target_net, q_net, 1 - tau)


def weights_only(target_net, q_net, tau):
    """Forgets the biases."""
    with torch.no_grad():
        for (name, t), q in zip(target_net.named_parameters(), q_net.parameters()):
            if "weight" in name:
                t.copy_(tau * q + (1 - tau) * t)


def without_no_grad(target_net, q_net, tau):
    """In-place on a leaf that requires grad."""
    for t, q in zip(target_net.parameters(), q_net.parameters()):
        t.mul_(1 - tau).add_(tau * q)


def aliasing(target_net, q_net, tau):
    """Shares q_net's tensors when tau is 1."""
    for t, q in zip(target_net.parameters(), q_net.parameters()):
        t.data = q.data if tau == 1 else tau * q.data + (1 - tau) * t.data


def reversed_direction(target_net, q_net, tau):
    """Moves q_net towards the target."""
    polyak(q_net, target_net, tau)


def returns_new(target_net, q_net, tau):
    """Builds a new network instead of updating in place."""
    import copy
    new = copy.deepcopy(target_net)
    polyak(new, q_net, tau)
    return new


@pytest.mark.parametrize("right", [polyak, via_state_dict])
def test_right_target_updates_pass(right):
    check_update_target(right)


@pytest.mark.parametrize("wrong, words", [
    (swapped, "swapped"),
    (weights_only, "not updated: layers.0.bias"),
    (without_no_grad, "torch.no_grad"),
    (aliasing, "shares its tensors"),
    (reversed_direction, "changed q_net"),
    (returns_new, "returned a new network"),
    (lambda target_net, q_net, tau: target_net.load_state_dict(q_net.state_dict()), "copied from q_net"),
    (lambda target_net, q_net, tau: None, "target_net is unchanged"),
])
def test_target_update_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_update_target(wrong)


def copies_by_rebinding(target_net, q_net, tau):
    """A hard update that only rebinds the local name."""
    if tau == 1:
        target_net = copy.deepcopy(q_net)
    else:
        polyak(target_net, q_net, tau)


def rebinds_always(target_net, q_net, tau):
    """Ignores tau and rebinds the local name."""
    target_net = copy.deepcopy(q_net)  # noqa: F841


def rebinds_to_q_net(target_net, q_net, tau):
    """`target_net = q_net`: the local name only."""
    if tau == 1.0:
        target_net = q_net  # noqa: F841
    else:
        polyak(target_net, q_net, tau)


def assigns_loop_variables(target_net, q_net, tau):
    """`t = ...` rebinds the loop variable."""
    for t, q in zip(target_net.parameters(), q_net.parameters()):
        t = tau * q + (1 - tau) * t  # noqa: F841


def edits_a_state_dict_copy(target_net, q_net, tau):
    """Writes into target_net.state_dict() entries but never loads them."""
    target_state = target_net.state_dict()
    for key, value in q_net.state_dict().items():
        target_state[key] = tau * value + (1 - tau) * target_state[key]


def updates_twice(target_net, q_net, tau):
    """Two passes over the parameters."""
    with torch.no_grad():
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            t.lerp_(q, tau)
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            t.lerp_(q, tau)


def lerps_the_wrong_way(target_net, q_net, tau):
    """lerp_ with weight 1 - tau."""
    with torch.no_grad():
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            t.lerp_(q, 1 - tau)


def hard_copy_shares(target_net, q_net, tau):
    """Assigns q_net's tensors when tau is 1."""
    for t, q in zip(target_net.parameters(), q_net.parameters()):
        if tau == 1:
            t.data = q.data
        else:
            t.data.mul_(1 - tau).add_(tau * q.data)


STUDENT_UPDATE_MISTAKES = [
    (copies_by_rebinding, "`target_net = ...` inside update_target.*only rebinds the function's local name"),
    (rebinds_always, "`target_net = ...` inside update_target.*only rebinds the function's local name"),
    (rebinds_to_q_net, "`target_net = ...` inside update_target.*only rebinds the function's local name"),
    (assigns_loop_variables, "nothing was written into its parameters.*loop variable"),
    (edits_a_state_dict_copy, "nothing was written into its parameters.*state_dict"),
    (updates_twice, "applied twice"),
    (lerps_the_wrong_way, "τ and 1 − τ are swapped"),
    (hard_copy_shares, "shares its tensors"),
]


@pytest.mark.parametrize("wrong, words", STUDENT_UPDATE_MISTAKES)
def test_students_update_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_update_target(wrong)


def hard_copy_by_loading(target_net, q_net, tau):
    """Right: load_state_dict for τ = 1 (the local name keeps the caller's network)."""
    if tau == 1:
        target_net.load_state_dict(q_net.state_dict())
        return
    polyak(target_net, q_net, tau)


def copies_into_data(target_net, q_net, tau):
    """Right: copy_ into .data, a new tensor each time, and `target_net = target_net.train()` (the same object)."""
    target_net = target_net.train()
    for t, q in zip(target_net.parameters(), q_net.parameters()):
        t.data.copy_(tau * q.data + (1.0 - tau) * t.data)


def copies_only_when_tau_is_1(target_net, q_net, tau):
    """Copies parameter by parameter for τ = 1, does nothing otherwise."""
    with torch.no_grad():
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            if tau >= 1:
                t.copy_(q)


@pytest.mark.parametrize("wrong", [lambda t, q, tau: tau == 1 and t.load_state_dict(q.state_dict()),
                                   copies_only_when_tau_is_1])
def test_an_update_without_the_soft_case_is_named_in_the_notebook_and_when_graded(wrong):
    words = "target_net is unchanged, while tau=1 copies q_net: only the hard update (τ = 1) is handled"
    with pytest.raises(CheckFailed, match=re.escape(words)):
        check_update_target(wrong)
    verdict = graded(check_update_target, SEEDS[0], wrong)
    assert verdict["status"] == "failed" and words in verdict["message"], verdict


@pytest.mark.parametrize("right", [hard_copy_by_loading, copies_into_data])
def test_right_update_variants_pass(right, capsys):
    check_update_target(right)
    assert all(graded(check_update_target, seed, right)["status"] == "passed" for seed in SEEDS)
    assert "passed" in capsys.readouterr().out


# --- 5.4 ------------------------------------------------------------------------------------

def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """The reference step, found by name in this module's namespace like a notebook's."""
    return make_step()(q_net, optimizer, batch, targets, loss_kind, max_grad_norm)


def update_target(target_net, q_net, tau):
    """The reference target update, found by name like a notebook's."""
    dqn.soft_update(target_net, q_net, tau)


def make_loop(clock="global", store="terminated", end_on="either", target_every="step", update_every="step",
              targets_from="target", returns_kind="finished", push=True, double=True, hook="call", count_from=1,
              learn_after=">=", targets="right", api="gymnasium", pass_loss=True, hook_n="step", reset_state=True,
              forget=None, own_target=False, learn_under=contextlib.nullcontext):
    """A train_dqn with one part done the usual wrong way."""
    def train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None):
        if own_target:
            target_net = copy.deepcopy(q_net)
        returns, episode_return, episode, t, updates = [], 0.0, 0, 0, 0
        state, _ = env.reset()
        for step in range(1, config.max_env_steps + 1):
            n = step if count_from == 1 else step - 1  # the counter the loop's tests use
            ticks = {"global": step - 1, "episode": t, "fake": 500 * episode + t, "constant": 0,
                     "episode_index": episode, "multiplied": step - 1}[clock]
            epsilon = epsilon_schedule(ticks, config.eps_start, config.eps_end, config.eps_decay_steps)
            if clock == "multiplied":  # the seed notebook's habit: ε times a factor at every step
                epsilon = max(config.eps_end, config.eps_start * 0.99 ** (step - 1))
            action = epsilon_greedy_action(q_net, state, epsilon) if forget == "rng" else \
                epsilon_greedy_action(q_net, state, epsilon, rng)
            if api == "old_step":
                next_state, reward, terminated, _ = env.step(action)
                truncated = False
            else:
                next_state, reward, terminated, truncated, _ = env.step(action)
            if push:
                memory.push(state, action, reward, next_state, terminated or truncated if store == "done" else terminated)
            state, episode_return, t = next_state, episode_return + reward, t + 1
            started = n >= config.learning_starts if learn_after == ">=" else n > config.learning_starts
            if started and n % config.train_every == 0 and update_every == "step":
                with learn_under():
                    learn_once(q_net, target_net if targets_from == "target" else q_net, optimizer, memory, config,
                               double, targets, pass_loss)
                updates += 1
                if target_every == "updates" and updates % config.target_update_every == 0:
                    update_target(target_net, q_net, config.tau)
            if target_every in ("step", "step and episode") and n % config.target_update_every == 0:
                update_target(target_net, q_net) if forget == "tau" else update_target(target_net, q_net, config.tau)
            if target_every == "updates everywhere" and updates % config.target_update_every == 0:
                update_target(target_net, q_net, config.tau)
            if target_every == "soft every step" and (config.tau < 1 or n % config.target_update_every == 0):
                update_target(target_net, q_net, config.tau)
            ended = terminated or truncated if end_on == "either" else terminated
            if ended:
                hook_args = (step if hook_n == "step" else episode, episode_return, epsilon, q_net)
                if hook == "before_append" and on_episode_end is not None and on_episode_end(*hook_args):
                    break
                returns.append(episode_return)
                stop = hook != "before_append" and on_episode_end is not None and on_episode_end(*hook_args)
                if stop and hook == "call":
                    break
                if target_every in ("episode", "step and episode") or (target_every == "episode count"
                                                 and (episode + 1) % config.target_update_every == 0):
                    update_target(target_net, q_net, config.tau)
                if update_every == "episode" and step >= config.learning_starts:
                    learn_once(q_net, target_net, optimizer, memory, config, double)
                if reset_state == "seeded":
                    state = env.reset(seed=config.seed)[0]
                elif reset_state:
                    state = env.reset() if api == "old_reset" else env.reset()[0]
                else:
                    env.reset()
                episode_return = 0.0 if returns_kind == "finished" else episode_return
                episode, t = episode + 1, 0
        return returns

    if hook == "missing":
        return lambda env, config, q_net, target_net, optimizer, memory, rng: train_dqn(
            env, config, q_net, target_net, optimizer, memory, rng)
    if hook == "never":
        return lambda *args, on_episode_end=None: train_dqn(*args)
    return train_dqn


def students_td_targets(rewards, next_states, terminated, target_net, gamma):
    """A student's own td_targets, as the loop calls it in notebook 5."""
    with torch.no_grad():
        best_next = target_net(next_states).max(dim=1).values
    return rewards + gamma * (1 - terminated) * best_next


def learn_once(q_net, target_net, optimizer, memory, config, double, targets="right", pass_loss=True):
    """One update of the loop: double-DQN targets when the config (and `double`) say so; `targets` names a slip."""
    batch = memory.sample(config.batch_size)
    if targets == "second batch":  # the targets from one batch, the step on another
        memory.sample(config.batch_size)
    gamma = 0.99 if targets == "gamma 0.99" else config.gamma
    states = batch.states if targets == "states" else batch.next_states
    fields = (batch.rewards, states, torch.zeros_like(batch.terminated) if targets == "no mask" else batch.terminated)
    if targets == "arguments out of order":
        targets = students_td_targets(batch.rewards, batch.next_states, target_net, batch.terminated, gamma)
    elif targets == "course":
        targets = dqn.compute_targets(batch, q_net, target_net, config)
    elif targets == "double overwritten":  # double-DQN targets, then plain ones in their place (an `else` missing)
        dqn.double_dqn_targets(*fields, q_net, target_net, gamma)
        targets = dqn.td_targets(*fields, target_net, gamma)
    elif targets == "inference mode":
        with torch.inference_mode():
            targets = dqn.td_targets(*fields, target_net, gamma)
    elif config.double_dqn and double:
        chooser, scorer = (target_net, q_net) if targets == "swapped" else (q_net, target_net)
        targets = dqn.double_dqn_targets(*fields, chooser, scorer, gamma)
    else:
        targets = dqn.td_targets(*fields, target_net, gamma)
    if pass_loss == "swapped":  # positional, in the wrong order: the student's optimize_step then crashes
        optimize_step(q_net, optimizer, batch, targets, config.max_grad_norm, config.loss)
    elif pass_loss:
        optimize_step(q_net, optimizer, batch, targets, loss_kind=config.loss, max_grad_norm=config.max_grad_norm)
    else:
        optimize_step(q_net, optimizer, batch, targets)


def test_reference_loop_passes():
    check_train_dqn(make_loop())


@pytest.mark.parametrize("wrong, words", [
    (make_loop(clock="episode"), "restarts with every episode"),
    (make_loop(clock="fake"), "fake clock"),
    (make_loop(clock="constant"), "never decays"),
    (make_loop(store="done"), "truncation treated as termination"),
    (make_loop(end_on="terminated"), "stepped an episode that had already ended \\(truncated\\)"),
    (make_loop(target_every="episode"), "once per episode"),
    (make_loop(target_every="never"), "never updated"),
    (make_loop(update_every="episode"), "learns once per episode"),
    (make_loop(targets_from="q_net"), "computed with q_net instead of target_net"),
    (make_loop(returns_kind="cumulative"), "not reset between episodes"),
    (make_loop(push=False), "pushed 0 transitions"),
    (make_loop(double=False), "double_dqn = True the targets were plain"),
    (make_loop(clock="episode_index"), "ε runs on the episode index"),
    (make_loop(hook="missing"), "has no on_episode_end parameter"),
    (make_loop(hook="never"), "on_episode_end was never called"),
    (make_loop(hook="no_stop"), "returned True after step 17 but the loop went on"),
    (make_loop(hook="before_append"), "returned 2 returns; expected the 3 returns"),
])
def test_loop_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_train_dqn(wrong)


STUDENT_LOOP_MISTAKES = [
    (make_loop(target_every="updates"), "target network is updated on the count of gradient updates"),
    (make_loop(target_every="updates everywhere"), "target network is updated on the count of gradient updates"),
    (make_loop(target_every="episode count"), "updated on the count of episodes"),
    (make_loop(count_from=0), "step count starts at 0.*every update comes one env step early"),
    (make_loop(learn_after=">"), "learning starts one update late"),
    (make_loop(targets="swapped"), "networks' roles swapped: target_net chose the next action and q_net scored it"),
    (make_loop(targets="gamma 0.99"), "gamma = 0.99, not config.gamma"),
    (make_loop(targets="states"), "from batch.states instead of batch.next_states"),
    (make_loop(api="old_step"), "env.step returns five values in gymnasium"),
    (make_loop(api="old_reset"), "passed epsilon_greedy_action the pair \\(observation, info\\)"),
    (make_loop(pass_loss=False), "optimize_step got loss_kind='huber', max_grad_norm=None; the config says 'mse' and "
                                 "5.0"),
    (make_loop(hook_n="episode"), r"the first call was on_episode_end\(0, 5.0, "),
    (make_loop(reset_state=False), "the state env.reset\\(\\) returned was not used"),
    (make_loop(target_every="step and episode"), "the target is also updated at the end of every episode"),
    # red team c: ε multiplied by a factor at every step, which no slip explains, still gets a hint
    (make_loop(clock="multiplied"), r"the ε values used were .*Hint: epsilon = epsilon_schedule\(n - 1, "),
    # red team c: the whole learning step under torch.no_grad() or torch.inference_mode()
    (make_loop(learn_under=torch.no_grad), r"raised RuntimeError: element 0 of tensors does not require grad .*Hint: "
                                           r"the loss has no gradient"),
    (make_loop(learn_under=torch.inference_mode), r"raised RuntimeError: .*Hint: the loss has no gradient: it was "
                                                  r"computed with autograd off, under torch.no_grad\(\) or "
                                                  r"torch.inference_mode\(\)"),
    (make_loop(targets="inference mode"), r"raised RuntimeError: Inference tensors cannot be saved for backward.*Hint: "
                                          r"a tensor made under torch.inference_mode\(\) cannot be used by a loss"),
    # red team c: "a soft update belongs to every step" (section 5.3) read as: with tau < 1, update at every step
    (make_loop(target_every="soft every step"), r"with config.tau = 0.5 update_target was called after steps \[1, 2, 3, "
                                                r"4, 5, 6\]\.\.\., expected \[10, 20, 30, 40, 50, 60\]\.\.\.: with tau < 1 "
                                                r"the target is updated at every step.*Hint: if n % "
                                                r"config.target_update_every == 0: update_target"),
    (make_loop(pass_loss="swapped"), r"optimize_step got loss_kind=5.0, max_grad_norm='mse'; the config says 'mse' "
                                     r"and 5.0"),
    (make_loop(targets="arguments out of order", double=False), r"a tensor reached the target_net parameter, so the loop "
                                                                r"passes td_targets .* its arguments in another order"),
    (make_loop(targets="no mask"), r"the targets bootstrap from terminal transitions too: the \(1 - batch.terminated\) "
                                   r"mask is missing"),
    (make_loop(targets="second batch"), r"memory.sample was called \d+ times for \d+ updates, twice per update"),
    (make_loop(own_target=True), r"update_target was given a target network other than the loop's target_net "
                                 r"argument.*copy.deepcopy\(q_net\)"),
    (make_loop(reset_state="seeded"), r"passed a seed to env.reset\(\) again at the start of a later episode.*"
                                      r"Hint: call env.reset\(\) without a seed"),
    # a call with an argument missing names the function and its parameters, and the student's line
    (make_loop(forget="tau"), r"update_target\(target_net, q_net, tau\): missing a required argument: 'tau' "
                              r"\(line \d+ of your code: `update_target\(target_net, q_net\) if forget.*`\)\. Hint: "
                              r"the call does not fit the function's parameters: pass each parameter it declares"),
    (make_loop(forget="rng"), r"epsilon_greedy_action\(q_net, state, epsilon, rng\): missing a required argument: "
                              r"'rng' \(line \d+ of your code: `action = epsilon_greedy_action\(q_net, state, "
                              r"epsilon\) if"),
]


def test_plain_targets_after_the_double_ones_fail_on_grading_seeds_where_the_second_run_was_short():
    # red team c: on these seeds the double-DQN run was so short that its targets equalled the plain ones
    for seed in (0, 16, 23, 27, 28):
        verdict = graded(check_train_dqn, seed, make_loop(targets="double overwritten"))
        assert verdict["status"] == "failed" and "the targets were plain TD targets" in verdict["message"], verdict


@pytest.mark.parametrize("wrong, words", STUDENT_LOOP_MISTAKES)
def test_students_loop_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_train_dqn(wrong)


def copy_before_learning(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None):
    """Right: the target copy comes before the update of the same step, on a countdown of env steps."""
    returns, episode_return, until_copy = [], 0.0, config.target_update_every
    state, _ = env.reset()
    for n in range(1, config.max_env_steps + 1):
        epsilon = epsilon_schedule(n - 1, config.eps_start, config.eps_end, config.eps_decay_steps)
        action = epsilon_greedy_action(q_net, state, epsilon, rng)
        next_state, reward, terminated, truncated, _ = env.step(action)
        memory.push(state, action, reward, next_state, terminated)
        episode_return += reward
        until_copy -= 1
        if until_copy == 0:
            update_target(target_net, q_net, config.tau)
            until_copy = config.target_update_every
        if len(memory) >= config.learning_starts and n % config.train_every == 0:
            learn_once(q_net, target_net, optimizer, memory, config, True)
        state = next_state
        if terminated or truncated:
            returns.append(episode_return)
            if on_episode_end and on_episode_end(n, episode_return, epsilon, q_net):
                return returns
            (state, _), episode_return = env.reset(), 0.0
    return returns


@pytest.mark.parametrize("right", [make_loop(), copy_before_learning])
def test_right_loop_variants_pass(right, capsys):
    check_train_dqn(right)
    assert all(graded(check_train_dqn, seed, right)["status"] == "passed" for seed in SEEDS)
    assert "passed" in capsys.readouterr().out


def test_an_untouched_loop_is_not_done_even_where_the_building_blocks_are_missing():
    namespace = {}  # a notebook whose import cell did not run
    exec("def train_dqn(*args, **kwargs):\n    raise NotImplementedError('Exercise 5.4: train_dqn')", namespace)
    with pytest.raises(ExerciseNotDone, match="Exercise 5.4: train_dqn is not done yet"):
        check_train_dqn(namespace["train_dqn"])
    exec("def train_dqn(*args, **kwargs):\n    return []", namespace)
    with pytest.raises(CheckFailed, match="cannot find epsilon_greedy_action, optimize_step, update_target in your "
                                          "notebook"):
        check_train_dqn(namespace["train_dqn"])


@torch.no_grad()
def decorated_rebinding(target_net, q_net, tau):
    """Rebinds the local name inside a decorated function."""
    target_net = copy.deepcopy(q_net)  # noqa: F841


def test_a_rebinding_inside_a_decorated_update_is_named():
    with pytest.raises(CheckFailed, match="only rebinds the function's local name"):
        check_update_target(decorated_rebinding)


def test_loop_check_restores_the_building_blocks():
    before = (globals()["optimize_step"], globals()["update_target"], globals()["epsilon_greedy_action"])
    with pytest.raises(CheckFailed):
        check_train_dqn(make_loop(clock="fake"))
    assert (optimize_step, update_target, epsilon_greedy_action) == before


def test_loop_exploring_with_the_action_space_is_named():
    def loop(env, config, q_net, target_net, optimizer, memory, rng):
        state, _ = env.reset()
        for _ in range(config.max_env_steps):
            state, _, terminated, truncated, _ = env.step(int(env.action_space.sample()))
            if terminated or truncated:
                state, _ = env.reset()
        return []

    with pytest.raises(CheckFailed, match="epsilon_greedy_action was called 0 times"):
        check_train_dqn(loop)


@pytest.mark.parametrize("rigged", [Anything, RegisteredReal])
def test_optimize_step_refuses_a_loss_posing_as_a_number(rigged):
    step = make_step()
    with pytest.raises(CheckFailed, match=f"optimize_step returned a Python {rigged.__name__}; expected a Python float"):
        check_optimize_step(lambda *args, **kwargs: (step(*args, **kwargs), rigged())[1])


def test_td_targets_refuses_a_tensor_subclass():
    with pytest.raises(CheckFailed, match="td_targets returned a Python AlwaysCloseTensor; expected a tensor of shape"):
        check_td_targets(lambda r, s, t, net, g: torch.zeros(5).as_subclass(AlwaysCloseTensor))


def test_update_target_refuses_a_parameter_subclass():
    with pytest.raises(CheckFailed, match="after update_target, target_net holds a parameter that is not an "
                                          "nn.Parameter"):
        check_update_target(lambda target_net, q_net, tau: (polyak(target_net, q_net, tau), rig_parameters(target_net)))


def loop_with_hook(change):
    """The reference loop, calling on_episode_end with its arguments changed by `change`."""
    def train_dqn(*args, on_episode_end=None):
        hook = on_episode_end and (lambda *values: on_episode_end(*change(*values)))
        return make_loop()(*args, on_episode_end=hook)
    return train_dqn


def loop_with_rewards(change):
    """The reference loop, with the rewards of every sampled batch changed by `change`."""
    def train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None):
        sample = memory.sample
        memory.sample = lambda n: (batch := sample(n))._replace(rewards=change(batch.rewards))
        return make_loop()(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=on_episode_end)
    return train_dqn


@pytest.mark.parametrize("rigged, named", [
    (lambda *args, **kwargs: [Anything() for _ in make_loop()(*args, **kwargs)],
     "train_dqn returned a Python list holding a Python Anything; expected a list of episode returns"),
    (loop_with_hook(lambda n, r, e, q: (RegisteredIntegral(), r, e, q)),
     "passed on_episode_end an n that is a Python RegisteredIntegral; expected an int"),
    (loop_with_hook(lambda n, r, e, q: (n, Anything(), e, q)),
     "passed on_episode_end a return that is a Python Anything; expected a number"),
    (loop_with_rewards(lambda rewards: AlwaysCloseParameter(rewards + 1, requires_grad=False)),
     "optimize_step got rewards that are a Python AlwaysCloseParameter"),
    (lambda env, config, q_net, *args, **kwargs: (rig_parameters(q_net), make_loop()(env, config, q_net, *args,
                                                                                      **kwargs))[1],
     "q_net holds a parameter that is not an nn.Parameter"),
])
def test_train_dqn_refuses_rigged_answers(rigged, named):
    with pytest.raises(CheckFailed, match=named):
        check_train_dqn(rigged)


# --- graded runs: fresh inputs per run, judged apart from the probe ---------------------------

def step_with_the_course_loss(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Wraps the course's dqn_loss."""
    loss = dqn.dqn_loss(taken_q(q_net, batch), targets, loss_kind)
    optimizer.zero_grad()
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(q_net.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


GRADED = [  # check, a right answer, a wrong one and the words naming its mistake
    (check_td_targets, td_targets, mask_on_everything, "mask multiplies the reward too"),
    (check_optimize_step, make_step(), halved_squares, "squared error is halved"),
    (check_update_target, polyak, copies_by_rebinding, "only rebinds the function's local name"),
    (check_train_dqn, make_loop(), make_loop(target_every="updates"), "count of gradient updates"),
]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("check, right, wrong, words", GRADED)
def test_graded_runs_pass_right_answers_and_name_mistakes(check, right, wrong, words, seed):
    assert graded(check, seed, right) == {"status": "passed", "message": "", "flags": []}
    verdict = graded(check, seed, wrong)
    assert verdict["status"] == "failed" and words in verdict["message"] and not verdict["flags"]


def test_graded_inputs_are_fresh_for_each_seed():
    for check in (check_td_targets, check_optimize_step, check_update_target, check_train_dqn):
        drawn = {check.inputs_json(seed) for seed in SEEDS}
        assert len(drawn) == len(SEEDS) and wire.dumps(check.inputs(None)) not in drawn


@pytest.mark.parametrize("check, wrapper, name", [
    (check_td_targets, lambda *args: dqn.td_targets(*args), "utils.dqn.td_targets"),
    (check_optimize_step, step_with_the_course_loss, "utils.dqn.dqn_loss"),
    (check_update_target, lambda target_net, q_net, tau: dqn.soft_update(target_net, q_net, tau),
     "utils.dqn.soft_update"),
    (check_train_dqn, make_loop(targets="course"), "utils.dqn.compute_targets"),
])
def test_graded_wrappers_of_the_course_answer_are_flagged(check, wrapper, name):
    assert graded(check, SEEDS[0], wrapper)["flags"] == [f"calls the course's own `{name}`"]


def soft_update_with_the_notebook_tau(target_net, q_net, tau):
    """Hard-codes the notebook's τ = 0.25 for soft updates."""
    polyak(target_net, q_net, 0.25 if tau < 1 else 1.0)


def loop_with_the_notebook_clocks(env, config, *args, **kwargs):
    """Hard-codes the notebook's learning_starts, train_every and target_update_every."""
    return make_loop()(env, dataclasses.replace(config, learning_starts=20, train_every=2, target_update_every=10),
                       *args, **kwargs)


def step_with_memorized_losses():
    """The right step, returning the losses it returned on the notebook's inputs."""
    right = make_step()
    losses = iter(memorized_values(check_optimize_step, right) * 10)

    def optimize_step(*args, **kwargs):
        right(*args, **kwargs)
        return next(losses)

    return optimize_step


@pytest.mark.parametrize("check, hard_coded", [
    (check_td_targets, lambda: memorized(check_td_targets, td_targets)),
    (check_optimize_step, step_with_memorized_losses),
    (check_update_target, lambda: soft_update_with_the_notebook_tau),
    (check_train_dqn, lambda: loop_with_the_notebook_clocks),
])
def test_answers_hard_coded_for_the_notebook_fail_graded_runs(check, hard_coded, capsys):
    answer = hard_coded()
    check(answer)  # the notebook's own inputs: it passes there
    assert "passed" in capsys.readouterr().out
    assert all(graded(check, seed, answer)["status"] == "failed" for seed in SEEDS)


@pytest.mark.parametrize("check, right", [(check, right) for check, right, *_ in GRADED])
def test_a_record_of_the_notebook_inputs_fails_a_graded_run(check, right):
    notebook_record = check.probe_json(wire.dumps(check.inputs(None)), right)
    assert check.verdict_json(check.inputs_json(SEEDS[0]), notebook_record)["status"] == "failed"


@pytest.mark.parametrize("check, right, key", [
    (check_td_targets, td_targets, "arguments after"),
    (check_optimize_step, make_step(), "huber weights"),
    (check_update_target, polyak, "soft target"),
    (check_train_dqn, make_loop(), "main"),
])
def test_a_malformed_record_is_an_error_not_a_crash(check, right, key):
    inputs = check.inputs_json(SEEDS[0])
    record = json.loads(check.probe_json(inputs, right))
    record["entries"][key] = {"value": [None, "x"]}
    assert check.verdict_json(inputs, json.dumps(record))["status"] in ("error", "failed")


# --- sharper names for hidden set 18's slips ------------------------------------------------------

def discounted_with(power):
    """td_targets whose future term is discounted by gamma ** power."""
    def td_targets(rewards, next_states, terminated, target_net, gamma):
        with torch.no_grad():
            best = target_net(next_states).max(dim=1).values
        return rewards + gamma ** power * (1 - terminated) * best
    return td_targets


def gamma_twice(rewards, next_states, terminated, target_net, gamma):
    """gamma written twice in the product."""
    with torch.no_grad():
        return rewards + gamma * gamma * (1 - terminated) * target_net(next_states).max(dim=1).values


def with_future(future):
    """td_targets whose discounted term is future(Q_target(s'), terminated), the mask included."""
    def td_targets(rewards, next_states, terminated, target_net, gamma):
        with torch.no_grad():
            return rewards + gamma * future(target_net(next_states), terminated)
    return td_targets


def rows_zeroed(best, rows):
    """`best` with the rows numbered in `rows` set to 0."""
    return torch.where(torch.isin(torch.arange(len(best)), rows), 0.0, best)


SHARPER_TARGET_MISTAKES = [
    (with_future(lambda q, done: (1 - done) * q.max(dim=0).values.mean()), "the max is over dim 0, the batch"),
    (with_future(lambda q, done: (1 - done) * q.amax(0).mean()), "the max is over dim 0, the batch"),
    (with_future(lambda q, done: q.max(dim=1).values.index_fill(0, done.long(), 0.0)),
     "the float terminated flags were used as indices"),
    (with_future(lambda q, done: rows_zeroed(q.max(dim=1).values, done.int())),
     "the float terminated flags were used as indices"),
    (discounted_with(2), "discounted by gamma \\*\\* 2, not gamma"),
    (gamma_twice, "discounted by gamma \\*\\* 2, not gamma"),
    (discounted_with(3), "the future term is discounted by 0.\\d+, not by gamma = "),
]


@pytest.mark.parametrize("wrong, words", SHARPER_TARGET_MISTAKES)
def test_a_wrong_discount_is_named_in_the_notebook_and_when_graded(wrong, words):
    assert_named_both_ways(check_td_targets, wrong, words, SEEDS[0])


def inference_mode_targets(rewards, next_states, terminated, target_net, gamma):
    """Wrong: the right targets, made under torch.inference_mode(), which a loss cannot save for backward."""
    with torch.inference_mode():
        return rewards + gamma * (1 - terminated) * target_net(next_states).max(dim=1).values


def test_targets_made_under_inference_mode_are_named_in_the_notebook_and_when_graded():
    assert_named_both_ways(check_td_targets, inference_mode_targets, r"the targets were made under "
                           r"torch.inference_mode\(\): .*Inference tensors cannot be saved for backward.*Hint: compute "
                           r"them under `with torch.no_grad\(\):`", SEEDS[0])


def step_with(predict=None, loss=None, clip=None):
    """The right optimize_step with the prediction, the loss function or the clipping replaced."""
    def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
        q_all = q_net(batch.states)
        predicted = (predict or (lambda q, a: q.gather(1, a.unsqueeze(1)).squeeze(1)))(q_all, batch.actions)
        function = loss if loss and loss_kind == "huber" else F.smooth_l1_loss if loss_kind == "huber" else F.mse_loss
        value = function(predicted, targets)
        optimizer.zero_grad()
        value.backward()
        (clip or (lambda params, norm: norm is not None and nn.utils.clip_grad_norm_(params, norm)))(
            q_net.parameters(), max_grad_norm)
        optimizer.step()
        return value.item()
    return optimize_step


SHARPER_STEP_MISTAKES = [
    (step_with(predict=lambda q, a: q.gather(0, a.unsqueeze(1)).squeeze(1)), "gather picks along dim 0, the batch"),
    (step_with(predict=lambda q, a: q[a, 0]), "gather picks along dim 0, the batch"),
    (step_with(loss=F.l1_loss), "F.l1_loss, the mean \\|δ\\|, although loss_kind='huber': Huber is F.smooth_l1_loss"),
    (step_with(loss=lambda p, t: (p - t).abs().mean()), "F.l1_loss, the mean \\|δ\\|, although loss_kind='huber'"),
    (step_with(clip=lambda params, norm: nn.utils.clip_grad_norm_(params, norm or 10.0)),
     "the gradient was clipped although max_grad_norm is None"),
    (step_with(clip=lambda params, norm: nn.utils.clip_grad_norm_(params, 1.0 if norm is None else norm)),
     "the gradient was clipped although max_grad_norm is None"),
]


def test_one_hot_without_num_classes_fails_everywhere_with_a_hint_and_with_it_passes():
    # red team c: batches held every action, so F.one_hot(actions) passed the notebook and 59 of 60 grading runs
    short = step_with(predict=lambda q, a: (q * F.one_hot(a).float()).sum(dim=1))
    for seed in SEEDS:
        assert_named_both_ways(check_optimize_step, short, r"must match the size.*Hint: F.one_hot\(actions\) has "
                               r"max\(actions\) \+ 1 columns.*pass num_classes, the number of actions", seed)
    full = step_with(predict=lambda q, a: (q * F.one_hot(a, num_classes=q.shape[1]).float()).sum(dim=1))
    check_optimize_step(full)
    assert_graded(check_optimize_step, (full,), "passed", seeds=SEEDS)


def step_from_next_states(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Wrong: Q(s, a) read from batch.next_states."""
    return step_with(predict=lambda q, a: q_net(batch.next_states).gather(1, a.unsqueeze(1)).squeeze(1))(
        q_net, optimizer, batch, targets, loss_kind, max_grad_norm)


def test_a_loss_no_slip_explains_is_shown_rather_than_the_order_of_the_steps():
    # red team c: the weights were compared first, and their fallback blamed the order of zero_grad, backward, step
    assert_named_both_ways(check_optimize_step, step_from_next_states, r"optimize_step returned loss [\d.]+; expected "
                           r"[\d.]+ \(huber between Q\(s, a\) of the taken actions.*Hint: predicted = "
                           r"q_net\(batch.states\)", SEEDS[0])


@pytest.mark.parametrize("wrong, words", SHARPER_STEP_MISTAKES)
def test_gather_on_the_batch_l1_and_clipping_with_none_are_named_in_the_notebook_and_when_graded(wrong, words):
    assert_named_both_ways(check_optimize_step, wrong, words, SEEDS[0])


def target_term_forgotten(target_net, q_net, tau):
    """θ⁻ ← τ·θ: the target's own weights are dropped."""
    with torch.no_grad():
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            t.copy_(tau * q)


def target_term_forgotten_in_place(target_net, q_net, tau):
    """The same slip with in-place arithmetic."""
    with torch.no_grad():
        for t, q in zip(target_net.parameters(), q_net.parameters()):
            t.mul_(0.0).add_(q, alpha=tau)


def q_net_with_itself(target_net, q_net, tau):
    """The zip pairs q_net with itself: q_net is rewritten with its own values, the target never moves."""
    with torch.no_grad():
        for t, q in zip(q_net.parameters(), q_net.parameters()):
            t.copy_(tau * q + (1 - tau) * t)


def loads_into_q_net(target_net, q_net, tau):
    """The blend of q_net with itself loaded into q_net."""
    state = q_net.state_dict()
    q_net.load_state_dict({name: tau * value + (1 - tau) * value for name, value in state.items()})


SHARPER_UPDATE_MISTAKES = [
    (target_term_forgotten, "the \\(1 − τ\\)·θ⁻ term is missing"),
    (target_term_forgotten_in_place, "the \\(1 − τ\\)·θ⁻ term is missing"),
    (q_net_with_itself, "q_net's parameters were written in place .*: the update writes into q_net"),
    (loads_into_q_net, "q_net's parameters were written in place .*: the update writes into q_net"),
]


@pytest.mark.parametrize("wrong, words", SHARPER_UPDATE_MISTAKES)
def test_a_lost_target_term_and_writes_into_q_net_are_named_in_the_notebook_and_when_graded(wrong, words):
    assert_named_both_ways(check_update_target, wrong, words, SEEDS[0])


@pytest.mark.parametrize("right", [polyak, via_state_dict])
def test_right_target_updates_pass_when_graded(right):
    assert all(graded(check_update_target, seed, right)["status"] == "passed" for seed in SEEDS)
