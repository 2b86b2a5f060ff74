"""Data between the grader and a grading worker: JSON plus raw byte blobs, nothing that can carry code.

`dump(value)` turns a value made of None, bools, ints, floats, strings, lists, tuples, dicts, torch
tensors and numpy arrays into bytes; `load(data)` rebuilds it. The grader sends probe inputs this way
(tensors keep their dtype and `requires_grad`; a tokenizer travels as "the kit tokenizer with this
chat template"), and a worker sends back what student code returned.

What student code returned is read from the objects themselves, never from what they say about
themselves: a tensor's dtype, shape and bytes come through torch's C-level accessors with
torch-function overrides switched off, so a subclass whose `dtype` or `tolist` lies is read as the
data it holds; a tensor subclass that intercepts torch's operations (`__torch_dispatch__`) cannot be
read at all. Subclasses of int, float, str, list, tuple and dict travel as their base values, read
with the base types' own methods. Anything else travels as the name of its type (`Opaque`). Reading,
type checks and comparisons are the grader's, on its side.
"""
from __future__ import annotations

import json
import struct
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

MAGIC = b"KITW1"
MAX_DEPTH = 64
MAX_ITEMS = 2_000_000

# Captured when the module is imported, before any student code runs.
_type, _len, _isinstance, _issubclass, _str, _repr = type, len, isinstance, issubclass, str, repr
_INT, _FLOAT, _STR, _BOOL, _LIST, _TUPLE, _DICT = int, float, str, bool, list, tuple, dict
_int_value, _float_value, _str_value = int.__index__, float.__float__, str.__str__
_list_items, _tuple_items, _dict_items = list.__iter__, tuple.__iter__, dict.items
_TENSOR, _BASE = torch.Tensor, torch._C.TensorBase
_NO_TORCH_FUNCTION, _dispatch_keys = torch._C.DisableTorchFunction, torch._C._dispatch_keys
_dtype, _layout, _device = _BASE.dtype.__get__, _BASE.layout.__get__, _BASE.device.__get__
_requires_grad, _size = _BASE.requires_grad.__get__, _BASE.size
_detach, _to, _contiguous, _reshape, _view = _BASE.detach, _BASE.to, _BASE.contiguous, _BASE.reshape, _BASE.view
_resolve_conj, _resolve_neg, _numpy = _BASE.resolve_conj, _BASE.resolve_neg, _BASE.numpy
_NDARRAY, _GENERIC = np.ndarray, np.generic
_json_dumps, _pack = json.dumps, struct.pack
_nd_dtype, _nd_shape, _nd_bytes, _np_array = np.ndarray.dtype.__get__, np.ndarray.shape.__get__, np.ndarray.tobytes, np.array
_STRIDED, _UINT8 = torch.strided, torch.uint8

TENSOR_DTYPES = {name: getattr(torch, name) for name in (
    "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
    "complex64", "complex128")}
NUMPY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: plain numbers only


class WireError(ValueError):
    """The data is not well formed (a worker sent something that is not a result)."""


class Opaque:
    """Stands for a value that cannot travel: its class is named after the original's type."""

    full_name = "object"

    def __repr__(self) -> str:
        return f"<{self.full_name}>"


_OPAQUE_CLASSES: dict[str, type] = {}


def opaque(full_name: str) -> Opaque:
    """An instance of a class named like `full_name`'s last part (so messages can say what it was)."""
    if full_name not in _OPAQUE_CLASSES:
        short = full_name.rsplit(".", 1)[-1].split(":")[0].strip() or "object"
        name = short if short.isidentifier() else "object"
        _OPAQUE_CLASSES[full_name] = _type(name, (Opaque,), {"full_name": full_name})
    return _OPAQUE_CLASSES[full_name]()


def _type_name(value) -> str:
    """'module.Name' of the value's type, for messages (a class may lie here; it only words a message)."""
    try:
        kind = _type(value)
        module, name = _type.__getattribute__(kind, "__module__"), _type.__getattribute__(kind, "__qualname__")
        if _type(module) is not _STR or _type(name) is not _STR:
            return "object"
        return f"{module}.{name}" if module != "builtins" else name
    except Exception:  # noqa: BLE001 - a hostile metaclass
        return "object"


class _Encoder:
    def __init__(self, probes: bool):
        self.blobs: list[bytes] = []
        self.items = 0
        self.probes = probes  # probe inputs (the grader's): tokenizers, namespaces and `requires_grad` travel too

    def blob(self, data: bytes) -> int:
        self.blobs.append(data)
        return _len(self.blobs) - 1

    def tensor(self, value) -> dict:
        with _NO_TORCH_FUNCTION():
            if "Python" in _str(_dispatch_keys(value)):
                return {"o": f"unreadable: a tensor subclass that intercepts torch operations ({_type_name(value)})"}
            if _layout(value) != _STRIDED:
                return {"o": f"unreadable: a {_layout(value)} tensor"}
            if _device(value).type == "meta":
                return {"o": "unreadable: a tensor on the meta device, which holds no data"}
            grad = _requires_grad(value)
            tensor = _resolve_neg(_resolve_conj(_contiguous(_to(_detach(value), "cpu"))))
            dtype = _str(_dtype(tensor)).removeprefix("torch.")
            if dtype not in TENSOR_DTYPES:
                return {"o": f"unreadable: a tensor of dtype {dtype}"}
            shape = [_int_value(n) for n in _size(tensor)]
            data = _nd_bytes(_numpy(_view(_reshape(tensor, (-1,)), _UINT8)))
        encoded = {"t": self.blob(data), "dtype": dtype, "shape": shape}
        if self.probes and grad:
            encoded["grad"] = True
        return encoded

    def array(self, value, scalar: bool) -> dict:
        array = _np_array(value, copy=True, order="C", subok=False)  # a plain, contiguous copy of its data
        dtype = _nd_dtype(array)
        if dtype.kind not in NUMPY_KINDS or dtype.hasobject:
            return {"o": f"unreadable: a numpy value of dtype {dtype}"}
        return {"n": self.blob(_nd_bytes(array)), "dtype": dtype.str, "shape": [_int_value(n) for n in _nd_shape(array)],
                "scalar": scalar}

    def encode(self, value, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            return {"o": "unreadable: nested too deeply or too large"}
        kind = _type(value)
        if value is None or kind is _BOOL:
            return value
        if _issubclass(kind, _TENSOR):
            return self.tensor(value)
        if _issubclass(kind, _BOOL):
            return value
        if _issubclass(kind, _INT):
            number = _int_value(value)
            return number if -2**63 <= number < 2**63 else {"big": _repr(number)[:5000]}
        if _issubclass(kind, _FLOAT):
            return {"f": _float_value(value).hex()}
        if _issubclass(kind, _STR):
            return _str_value(value)
        if _issubclass(kind, _LIST):
            return [self.encode(item, depth + 1) for item in _list_items(value)]
        if _issubclass(kind, _TUPLE):
            return {"u": [self.encode(item, depth + 1) for item in _tuple_items(value)]}
        if _issubclass(kind, _DICT):
            return {"d": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in _dict_items(value)]}
        if _issubclass(kind, _NDARRAY):
            return self.array(value, scalar=False)
        if _issubclass(kind, _GENERIC):
            return self.array(np.asarray(value), scalar=True)
        if self.probes and kind is SimpleNamespace:
            return {"ns": self.encode(dict(vars(value)), depth + 1)}
        if self.probes and hasattr(value, "apply_chat_template") and _isinstance(getattr(value, "chat_template", None), _STR):
            return {"tok": getattr(value, "chat_template")}
        return {"o": _type_name(value)}


def dump(value: Any, probes: bool = False) -> bytes:
    """`value` as bytes: a JSON header, then the raw blobs of its tensors and arrays. `probes=True` (the
    grader sending probe inputs) also sends tokenizers, simple namespaces and tensors' `requires_grad`."""
    encoder = _Encoder(probes)
    header = _json_dumps(encoder.encode(value), ensure_ascii=True, allow_nan=False).encode()
    parts = [MAGIC, _pack("<QI", _len(header), _len(encoder.blobs)), header]
    for blob in encoder.blobs:
        parts += [_pack("<Q", _len(blob)), blob]
    return b"".join(parts)


def clean_text(text: str) -> str:
    """Lone surrogates (which JSON allows: "\\ud83d") become U+FFFD, so the text can be written as UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class _Decoder:
    def __init__(self, blobs: list[bytes], tokenizers: bool):
        self.blobs, self.tokenizers = blobs, tokenizers

    def blob(self, index) -> bytes:
        if _type(index) is not _INT or not 0 <= index < _len(self.blobs):
            raise WireError(f"no blob {index!r}")
        return self.blobs[index]

    @staticmethod
    def shape(shape) -> list[int]:
        if not _isinstance(shape, _LIST) or not all(_type(n) is _INT and n >= 0 for n in shape) or _len(shape) > 32:
            raise WireError(f"bad shape {shape!r}")
        return shape

    def tensor(self, body: dict):
        dtype = TENSOR_DTYPES.get(body.get("dtype"))
        if dtype is None:
            raise WireError(f"unknown dtype {body.get('dtype')!r}")
        shape, data = self.shape(body.get("shape")), self.blob(body.get("t"))
        count = 1
        for n in shape:
            count *= n
        itemsize = torch.empty((), dtype=dtype).element_size()
        if count * itemsize != _len(data):  # this value is garbled (its sender was tampered with): only it is lost
            return opaque(f"unreadable: a tensor of shape {shape} and dtype {body['dtype']} cannot hold {_len(data)} bytes")
        if count == 0:
            tensor = torch.empty(shape, dtype=dtype)
        else:
            tensor = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).reshape(shape)
        if body.get("grad") is True:
            tensor.requires_grad_(True)
        return tensor

    def array(self, body: dict):
        try:
            dtype = np.dtype(body.get("dtype"))
        except TypeError as error:
            raise WireError(f"unknown numpy dtype {body.get('dtype')!r}") from error
        if dtype.kind not in NUMPY_KINDS:
            raise WireError(f"numpy dtype {dtype} is not a number")
        shape, data = self.shape(body.get("shape")), self.blob(body.get("n"))
        expected = 1
        for n in shape:
            expected *= n
        if expected * dtype.itemsize != _len(data):
            return opaque(f"unreadable: a numpy array of shape {shape} and dtype {dtype} cannot hold {_len(data)} bytes")
        array = np.frombuffer(data, dtype=dtype)
        array = array.reshape(shape).copy()
        return array[()] if body.get("scalar") else array

    def decode(self, data, depth: int = 0):
        if depth > MAX_DEPTH + 2:
            raise WireError("nested too deeply")
        if data is None or _type(data) in (_BOOL, _INT):
            return data
        if _type(data) is _STR:
            return clean_text(data)
        if _type(data) is _LIST:
            return [self.decode(item, depth + 1) for item in data]
        if _type(data) is not _DICT or _len(data) == 0:
            raise WireError(f"not an encoded value: {str(data)[:80]!r}")
        if "t" in data:
            return self.tensor(data)
        if "n" in data:
            return self.array(data)
        if _len(data) != 1:
            raise WireError(f"not an encoded value: {str(data)[:80]!r}")
        (kind, body), = data.items()
        if kind == "f" and _type(body) is _STR:
            try:
                return float.fromhex(body)
            except ValueError as error:
                raise WireError(f"bad float {body!r}") from error
        if kind == "big" and _type(body) is _STR:
            return _INT(body) if body.lstrip("-").isdigit() else opaque("int")
        if kind == "u" and _type(body) is _LIST:
            return tuple(self.decode(item, depth + 1) for item in body)
        if kind == "d" and _type(body) is _LIST:
            pairs = {}
            for pair in body:
                if _type(pair) is not _LIST or _len(pair) != 2:
                    raise WireError("a dict entry is not a pair")
                key = self.decode(pair[0], depth + 1)
                try:
                    pairs[key] = self.decode(pair[1], depth + 1)
                except TypeError as error:  # an unhashable key: a list, say
                    raise WireError(f"a dict key cannot be {type(key).__name__}") from error
            return pairs
        if kind == "ns" and _type(body) is _DICT:
            attributes = self.decode(body, depth + 1)
            return SimpleNamespace(**{str(k): v for k, v in attributes.items()})
        if kind == "tok" and _type(body) is _STR and self.tokenizers:
            from alignment_kit.probes import kit_tokenizer, tokenizer_with_template

            return kit_tokenizer() if body == kit_tokenizer().chat_template else tokenizer_with_template(body)
        if kind == "o" and _type(body) is _STR:
            return opaque(clean_text(body)[:300])
        raise WireError(f"unknown kind {kind!r}")


def load(data: bytes, tokenizers: bool = False) -> Any:
    """The value `dump` wrote. `tokenizers=True` (a worker reading probes) rebuilds tokenizers too."""
    if not isinstance(data, (bytes, bytearray)) or not data.startswith(MAGIC) or len(data) < len(MAGIC) + 12:
        raise WireError("not a result (it does not start like one)")
    offset = len(MAGIC)
    header_size, count = struct.unpack_from("<QI", data, offset)
    offset += 12
    header = bytes(data[offset:offset + header_size])
    offset += header_size
    blobs = []
    for _ in range(count):
        if offset + 8 > len(data):
            raise WireError("the data ends early")
        (size,) = struct.unpack_from("<Q", data, offset)
        offset += 8
        if offset + size > len(data):
            raise WireError("the data ends early")
        blobs.append(bytes(data[offset:offset + size]))
        offset += size
    try:
        structure = json.loads(header.decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise WireError(f"the header is not JSON: {error}") from error
    try:
        return _Decoder(blobs, tokenizers).decode(structure)
    except RecursionError as error:
        raise WireError("nested too deeply") from error
