"""Shared helpers for checks on tensors: say what came back and why it is not what was expected."""
import numpy as np
import torch

from utils.checks.core import expect, plain_tensor

DTYPE_HINTS = {
    (torch.float64, torch.float32): "NumPy arrays are float64 by default and the network's weights are float32: "
    "convert with torch.as_tensor(x, dtype=torch.float32).",
    (torch.bool, torch.float32): "a bool flag cannot enter arithmetic such as (1 - terminated): "
    "store it as float32 (1.0 or 0.0).",
    (torch.int64, torch.float32): "integer storage truncates or rounds real values: store them as float32.",
    (torch.float32, torch.int64): "actions are indices: store them as int64 (torch.long); "
    "a float tensor cannot index or gather.",
    (torch.float64, torch.int64): "actions are indices: store them as int64 (torch.long); "
    "a float tensor cannot index or gather.",
    (torch.int32, torch.int64): "indexing and gather need int64 (torch.long), not int32.",
}


def expect_tensor(value, name: str, shape: tuple, dtype: torch.dtype, integer_hint: str = "") -> None:
    """Fail unless `value` is a tensor of `shape` and `dtype`, naming the usual reason when it is not.

    `integer_hint`, if given, replaces the usual hint for integer or bool values where a float dtype is wanted.
    """
    wanted = f"a tensor of shape {shape} and dtype {dtype}"
    plain_tensor(value, f"{name} is", wanted, _not_tensor_hint(value))
    got = tuple(value.shape)
    expect(got == shape, f"{name} has shape {got}; expected {shape}.", shape_hint(got, shape))
    integer = integer_hint and dtype.is_floating_point and not value.dtype.is_floating_point
    expect(value.dtype == dtype, f"{name} has dtype {value.dtype}; expected {dtype}.",
           integer_hint if integer else DTYPE_HINTS.get((value.dtype, dtype), f"convert with .to({dtype})."))


def shape_hint(got: tuple, expected: tuple) -> str:
    """Why a tensor typically ends up with shape `got` instead of `expected`."""
    if got == expected + (1,):
        return (f"drop the trailing dimension of size 1: {got} against {expected} broadcasts silently "
                f"to ({expected[0]}, {expected[0]}) in later arithmetic.")
    if len(got) == len(expected) + 1 and 1 in got[1:] and tuple(d for d in got if d != 1) == expected:
        return "each row was kept as a 1-row tensor (e.g. unsqueeze(0)); store and return plain rows."
    if len(got) == len(expected) and got[0] != expected[0] and got[1:] == expected[1:]:
        return "the first dimension is the batch: return exactly one row per sampled transition."
    return "compare the shapes in the exercise statement with yours."


def _not_tensor_hint(value) -> str:
    """How to turn what came back into a tensor."""
    if isinstance(value, np.ndarray):
        return "PyTorch code downstream expects tensors: keep the data in torch or use torch.as_tensor."
    if isinstance(value, (int, float, bool, np.generic)):
        return "a Python or NumPy scalar where a tensor is expected: return one tensor holding every row."
    return "return a torch tensor."
