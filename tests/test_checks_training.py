"""Checks of notebook 5: right answers pass, typical mistakes are named."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import dqn
from utils.checks import CheckFailed, ExerciseNotDone
from utils.checks import check_optimize_step, check_td_targets, check_train_dqn, check_update_target
from utils.policies import epsilon_greedy_action, epsilon_schedule
from test_checks_core import (AlwaysCloseParameter, AlwaysCloseTensor, Anything, RegisteredIntegral, RegisteredReal,
                              rig_parameters)


# --- 5.1 ------------------------------------------------------------------------------------

def td_targets(rewards, next_states, terminated, target_net, gamma):
    """The reference computation, written in the student's cell (not passed as utils.dqn.td_targets)."""
    return dqn.td_targets(rewards, next_states, terminated, target_net, gamma)


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
        function = F.smooth_l1_loss if (kind or loss_kind) == "huber" else F.mse_loss
        loss = function(predicted, wanted, reduction=reduction)
        if zero_grad == "first":
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
        return loss.item() if item else loss
    return optimize_step


def step_before_backward(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """Steps with the stale gradient, then computes the new one."""
    optimizer.step()
    optimizer.zero_grad()
    loss = F.smooth_l1_loss(q_net(batch.states).gather(1, batch.actions.unsqueeze(1)).squeeze(1), targets)
    loss.backward()
    return loss.item()


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
    (step_before_backward, "before loss.backward"),
    (make_step(clip="none"), "had no effect"),
    (make_step(clip="value"), "clip_grad_value_"),
    (make_step(clip="always"), "None means no clipping"),
    (make_step(item=False), "expected a Python float"),
    (make_step(no_grad=True), "no gradient"),
])
def test_optimize_step_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_optimize_step(wrong)


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
    (lambda target_net, q_net, tau: dqn.hard_update(target_net, q_net), "copied from q_net"),
    (lambda target_net, q_net, tau: None, "target_net is unchanged"),
])
def test_target_update_mistakes_are_named(wrong, words):
    with pytest.raises(CheckFailed, match=words):
        check_update_target(wrong)


# --- 5.4 ------------------------------------------------------------------------------------

def optimize_step(q_net, optimizer, batch, targets, loss_kind="huber", max_grad_norm=None):
    """The reference step, found by name in this module's namespace like a notebook's."""
    return make_step()(q_net, optimizer, batch, targets, loss_kind, max_grad_norm)


def update_target(target_net, q_net, tau):
    """The reference target update, found by name like a notebook's."""
    dqn.soft_update(target_net, q_net, tau)


def make_loop(clock="global", store="terminated", end_on="either", target_every="step", update_every="step",
              targets_from="target", returns_kind="finished", push=True, double=True, hook="call"):
    """A train_dqn with one part done the usual wrong way."""
    def train_dqn(env, config, q_net, target_net, optimizer, memory, rng, on_episode_end=None):
        returns, episode_return, episode, t = [], 0.0, 0, 0
        state, _ = env.reset()
        for step in range(1, config.max_env_steps + 1):
            ticks = {"global": step - 1, "episode": t, "fake": 500 * episode + t, "constant": 0,
                     "episode_index": episode}[clock]
            epsilon = epsilon_schedule(ticks, config.eps_start, config.eps_end, config.eps_decay_steps)
            action = epsilon_greedy_action(q_net, state, epsilon, rng)
            next_state, reward, terminated, truncated, _ = env.step(action)
            if push:
                memory.push(state, action, reward, next_state, terminated or truncated if store == "done" else terminated)
            state, episode_return, t = next_state, episode_return + reward, t + 1
            learn = step >= config.learning_starts and step % config.train_every == 0
            if learn and update_every == "step":
                learn_once(q_net, target_net if targets_from == "target" else q_net, optimizer, memory, config, double)
            if target_every == "step" and step % config.target_update_every == 0:
                update_target(target_net, q_net, config.tau)
            ended = terminated or truncated if end_on == "either" else terminated
            if ended:
                if hook == "before_append" and on_episode_end is not None and on_episode_end(step, episode_return,
                                                                                             epsilon, q_net):
                    break
                returns.append(episode_return)
                stop = (hook != "before_append" and on_episode_end is not None
                        and on_episode_end(step, episode_return, epsilon, q_net))
                if stop and hook == "call":
                    break
                if target_every == "episode":
                    update_target(target_net, q_net, config.tau)
                if update_every == "episode" and step >= config.learning_starts:
                    learn_once(q_net, target_net, optimizer, memory, config, double)
                state, _ = env.reset()
                episode_return = 0.0 if returns_kind == "finished" else episode_return
                episode, t = episode + 1, 0
        return returns

    if hook == "missing":
        return lambda env, config, q_net, target_net, optimizer, memory, rng: train_dqn(
            env, config, q_net, target_net, optimizer, memory, rng)
    if hook == "never":
        return lambda *args, on_episode_end=None: train_dqn(*args)
    return train_dqn


def learn_once(q_net, target_net, optimizer, memory, config, double):
    """One update of the loop: double-DQN targets when the config (and `double`) say so."""
    batch = memory.sample(config.batch_size)
    fields = (batch.rewards, batch.next_states, batch.terminated)
    if config.double_dqn and double:
        targets = dqn.double_dqn_targets(*fields, q_net, target_net, config.gamma)
    else:
        targets = dqn.td_targets(*fields, target_net, config.gamma)
    optimize_step(q_net, optimizer, batch, targets, loss_kind=config.loss, max_grad_norm=config.max_grad_norm)


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
