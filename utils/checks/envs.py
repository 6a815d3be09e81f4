"""The old gym API in a student's code, named: gymnasium's reset() returns (observation, info), step() five values.

Shared by the checks of notebooks 5 and 6, whose exercises drive an environment.
"""
from utils.checks.core import Mistake, plain_number

OLD_RESET = ("env.reset() returns a pair (observation, info) in gymnasium; `state = env.reset()` keeps the pair, "
             "as the old gym API did. Hint: state, _ = env.reset().")
OLD_STEP = ("env.step returns five values in gymnasium: next_state, reward, terminated, truncated, info; the old gym "
            "API returned four (..., done, info). Hint: next_state, reward, terminated, truncated, _ = "
            "env.step(action), and the episode ends on `terminated or truncated`.")


def is_reset_pair(value) -> bool:
    """True for what gymnasium's env.reset() returns: a tuple (observation, info dict)."""
    return type(value) is tuple and len(value) == 2 and type(value[1]) is dict


def reset_pair_check(state, passed: str) -> None:
    """A Mistake naming the old reset API when `state` is the pair env.reset() returned."""
    if is_reset_pair(state):
        raise Mistake(f"{passed} the pair (observation, info): {OLD_RESET}")


def old_api_crash(raised: dict, after_reset_only: bool) -> str:
    """The old-API message a recorded crash stands for, '' when it stands for none.

    Unpacking env.step's five values into four says so in its message; a state that is still the
    pair (observation, info) fails, somewhere in torch, with a message about a tuple or a dict, before
    the first step of the episode (`after_reset_only`).
    """
    message = str(raised.get("message", ""))
    if raised.get("type") == "ValueError" and "too many values to unpack (expected 4)" in message:
        return OLD_STEP
    if after_reset_only and any(word in message for word in ("tuple", "dict")):
        return f"{OLD_RESET} (your code raised {raised.get('type')}: {message[:200]})"
    return ""


class Witness:
    """The mistakes a check's instrumentation saw in the student's code, kept even if that code catches the raise."""

    def __init__(self):
        """Nothing seen yet."""
        self.seen: list[str] = []

    def refuse(self, message: str):
        """Remember `message` and raise it as a Mistake."""
        self.seen.append(message)
        raise Mistake(message)

    def check(self, function, *args, **kwargs):
        """`function(*args, **kwargs)`, with a Mistake it raises remembered."""
        try:
            return function(*args, **kwargs)
        except Mistake as mistake:
            self.refuse(str(mistake))

    def number(self, value, *args, **kwargs):
        """`plain_number(value, ...)`, with its Mistake remembered."""
        return self.check(plain_number, value, *args, **kwargs)
