"""Plain data on the wire between a check's probe (in the student's kernel) and its judge.

`encode` turns what a student's code returned into JSON-ready data: exact built-in types as
they are, NumPy arrays and scalars and torch tensors as dtype, shape and base64 bytes, anything
else as an `Opaque` description. `decode` rebuilds the values from that data with `json`,
`base64` and `numpy.frombuffer` only: nothing a kernel sends is ever executed or unpickled.
Types are read with `type()`, never `isinstance`, so an object posing as a number or an array
(a subclass, a class registered as `numbers.Real`) travels as an `Opaque`, which no check accepts.
"""
import base64
import json
import math

import numpy as np
import torch

# The dtypes that travel as data; any other (object, strings, complex) travels as a description.
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")
TORCH_DTYPES = {getattr(torch, name): name for name in DTYPES}
# Native byte order only: an array whose bytes are swapped would be read back wrong, so it travels opaque.
NUMPY_DTYPES = {np.dtype(name): name for name in DTYPES}
DTYPES_BY_NAME = {name: np.dtype(name) for name in DTYPES}
NUMPY_SCALARS = {np.dtype(name).type: name for name in DTYPES}
ALL_NUMPY_SCALARS = frozenset(np.dtype(code).type for code in np.typecodes["All"])
MAX_DEPTH = 12
MAX_ITEMS = 100_000  # elements of one list or tuple
MAX_TEXT = 20_000  # characters of one string
MAX_BYTES = 16 * 2**20  # one whole record, as JSON text


class WireError(ValueError):
    """Data that is not a valid record (too large, too deep, or malformed)."""


class Opaque:
    """A value that did not travel as data: only its description (`a Python Foo`) and type name came."""

    def __init__(self, description: str, type_name: str):
        """Remember what the value was."""
        self.description, self.type_name = description, type_name

    def __repr__(self):
        """How messages show it."""
        return f"<{self.type_name}>"

    def __eq__(self, other):
        """Opaque values equal only one another with the same description (never a number)."""
        return type(other) is Opaque and (other.description, other.type_name) == (self.description, self.type_name)

    __hash__ = object.__hash__


def describe(value) -> str:
    """A short description of a value: 'a tensor of shape (3, 1) and dtype torch.float32', 'a Python int'."""
    kind = type(value)  # type(), not isinstance: a student's object may fake its __class__
    if kind is Opaque:
        return value.description
    if kind in (torch.Tensor, torch.nn.Parameter):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if kind is np.ndarray:
        return f"a NumPy array of shape {value.shape} and dtype {value.dtype}"
    if kind in ALL_NUMPY_SCALARS:
        return f"a NumPy scalar of type numpy.{kind.__name__}"
    if value is None:
        return "None"
    return f"a Python {kind.__name__}"


def encode(value, depth: int = 0):
    """`value` as JSON-ready plain data (see the module docstring)."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value[:MAX_TEXT] if kind is str else value
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if depth > MAX_DEPTH:
        return opaque(value)
    if kind in (list, tuple):
        items = [encode(item, depth + 1) for item in value[:MAX_ITEMS]]
        return items if kind is list else {"$tuple": items}
    if kind is dict and all(type(key) is str for key in value):
        return {"$dict": {key: encode(item, depth + 1) for key, item in list(value.items())[:MAX_ITEMS]}}
    if kind is np.ndarray and value.dtype in NUMPY_DTYPES:  # a dict lookup: dtype.name costs more than the rest
        return {"$ndarray": array_data(value, NUMPY_DTYPES[value.dtype])}
    if kind in NUMPY_SCALARS:
        return {"$npscalar": array_data(np.asarray(value), NUMPY_SCALARS[kind])}
    if kind in (torch.Tensor, torch.nn.Parameter) and value.dtype in TORCH_DTYPES and value.layout == torch.strided:
        data = array_data(value.detach().cpu().contiguous().numpy(), TORCH_DTYPES[value.dtype])
        return {"$tensor": data | {"requires_grad": value.requires_grad, "parameter": kind is torch.nn.Parameter}}
    return opaque(value)


def opaque(value) -> dict:
    """A value that travels only as its description."""
    kind = type(value)
    return {"$opaque": [describe(value), f"{kind.__module__}.{kind.__qualname__}"]}


def array_data(array: np.ndarray, dtype_name: str) -> dict:
    """An array's dtype (named `dtype_name`), shape and bytes (C order, base64)."""
    return {"dtype": dtype_name, "shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode("ascii")}


def decode(data, depth: int = 0):
    """The value `encode` described; WireError on anything malformed."""
    if depth > MAX_DEPTH + 2:
        raise WireError("the record is nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(item, depth + 1) for item in data]
    if type(data) is not dict or len(data) != 1:
        raise WireError(f"unexpected data in the record: {type(data).__name__}")
    (tag, body), = data.items()
    if tag == "$float" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "$tuple" and type(body) is list:
        return tuple(decode(item, depth + 1) for item in body)
    if tag == "$dict" and type(body) is dict:
        return {str(key): decode(item, depth + 1) for key, item in body.items()}
    if tag == "$ndarray":
        return array_from(body)
    if tag == "$npscalar":
        return array_from(body)[()]
    if tag == "$tensor":
        return tensor_from(body)
    if tag == "$opaque" and type(body) is list and len(body) == 2 and all(type(b) is str for b in body):
        return Opaque(*body)
    raise WireError(f"unknown tag {str(tag)[:40]!r} in the record")


def array_from(body: dict) -> np.ndarray:
    """A writable NumPy array from its dtype, shape and base64 bytes."""
    dtype = DTYPES_BY_NAME.get(body.get("dtype")) if type(body) is dict and type(body.get("dtype")) is str else None
    if dtype is None:
        raise WireError("an array in the record has no valid dtype")
    shape = body.get("shape")
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("an array in the record has no valid shape")
    raw = bytearray(base64.b64decode(str(body.get("data", "")), validate=True))  # a bytearray: the array is writable
    if len(raw) != dtype.itemsize * math.prod(shape):
        raise WireError("an array in the record has the wrong number of bytes for its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def tensor_from(body: dict) -> torch.Tensor:
    """A torch tensor (or nn.Parameter) from its encoded array and flags."""
    tensor = torch.from_numpy(array_from(body))
    if body.get("parameter") is True:
        return torch.nn.Parameter(tensor, requires_grad=body.get("requires_grad") is True)
    return tensor.requires_grad_(body.get("requires_grad") is True and tensor.is_floating_point())


def dumps(value) -> str:
    """`value` encoded, as JSON text; WireError if it is larger than a record may be."""
    return to_json(encode(value))


def loads(text: str):
    """The value `dumps` wrote (JSON parsing and `decode` only)."""
    return decode(from_json(text))


def to_json(data) -> str:
    """Data that is already encoded (a check's record), as JSON text; WireError if it is too large."""
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_BYTES:
        raise WireError(f"the record is {len(text) / 2**20:.0f} MB; at most {MAX_BYTES // 2**20} MB may travel")
    return text


def from_json(text: str):
    """The data `to_json` wrote, still encoded; WireError if it is too large or not JSON."""
    if type(text) is not str or len(text) > MAX_BYTES:
        raise WireError(f"the record is not text of at most {MAX_BYTES // 2**20} MB")
    try:
        return json.loads(text, parse_constant=lambda name: float(name.lower()))
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise WireError(f"the record is not valid JSON: {error}") from None
