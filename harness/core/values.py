"""Safe serialisation of Python values between untrusted code and the harness.

Values cross the sandbox boundary as JSON with single-key tags for the types JSON
lacks (tuple, set, dict with non-string keys, bytes, huge ints, non-finite floats).
Only exact built-in types are encoded as themselves: a subclass of ``int`` or an
object with a forged ``__eq__`` becomes an opaque ``Unsupported`` marker (or a
``Handle`` when the caller keeps a handle table), which never compares equal to
anything. Decoding builds plain built-in values only, so comparing them in the
harness runs no code chosen by the sandboxed program. Frames (length-prefixed JSON)
carry jobs and results between the harness and a worker.

This module is stdlib-only: its source is also shipped into the sandbox.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any

MAX_DEPTH = 64
MAX_NODES = 200_000
_HEADER_SIZE = 4  # a frame is a big-endian uint32 length, then that many bytes of JSON
_INT_LIMIT = 10**4000  # below CPython's int->str limit, so json.dumps never raises


class CodecError(ValueError):
    """A value cannot be encoded or a payload is not a valid encoding."""


class Unsupported:
    """Stand-in for a value of a type that cannot cross the boundary; equal to nothing."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<unsupported {self.type_name}>"


class Handle:
    """Reference to an object that stays inside the sandboxed process (equal only to itself)."""

    __slots__ = ("ref",)

    def __init__(self, ref: int) -> None:
        self.ref = ref

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Handle) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(("handle", self.ref))

    def __repr__(self) -> str:
        return f"<remote object #{self.ref}>"


def _type_name(value: object) -> str:
    t = type(value)
    return f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', '?')}"


def encode(value: Any, handles: list[Any] | None = None) -> Any:
    """JSON-ready form of ``value``.

    Args:
        value: Any Python object.
        handles: When given, objects of unsupported types are appended to it and
            encoded as ``{"handle": index}``; otherwise as ``{"unsupported": type}``.

    Raises:
        CodecError: The value is nested too deeply or is too large.
    """
    budget = [MAX_NODES]
    return _enc(value, handles, 0, budget)


def _enc(v: Any, handles: list[Any] | None, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise CodecError(f"value too large (over {MAX_NODES} elements)")
    if depth > MAX_DEPTH:
        raise CodecError(f"value nested deeper than {MAX_DEPTH}")
    t = type(v)
    if v is None or t is bool or t is str:
        return v
    if t is int:
        if -_INT_LIMIT < v < _INT_LIMIT:
            return v
        return {"int": int.__format__(v, "x")}
    if t is float:
        return v if math.isfinite(v) else {"float": float.__repr__(v)}
    d = depth + 1
    if t is list:
        return [_enc(x, handles, d, budget) for x in list.__iter__(v)]
    if t is tuple:
        return {"tuple": [_enc(x, handles, d, budget) for x in tuple.__iter__(v)]}
    if t is dict:
        items = dict.items(v)
        return {
            "dict": [[_enc(k, handles, d, budget), _enc(x, handles, d, budget)] for k, x in items]
        }
    if t is set or t is frozenset:
        tag = "set" if t is set else "frozenset"
        return {tag: [_enc(x, handles, d, budget) for x in t.__iter__(v)]}
    if t is bytes:
        import base64  # rare: kept out of the warm sandbox worker

        return {"bytes": base64.b64encode(v).decode("ascii")}
    if t is complex:
        return {"complex": [_enc(v.real, None, d, budget), _enc(v.imag, None, d, budget)]}
    if isinstance(v, Handle):
        return {"handle": v.ref}
    if handles is not None:
        handles.append(v)
        return {"handle": len(handles) - 1}
    return {"unsupported": _type_name(v)}


def decode(data: Any, handles: list[Any] | None = None) -> Any:
    """Plain Python value from its encoding; never runs code chosen by the encoder.

    Args:
        data: Output of ``json.loads`` on an encoding.
        handles: Table for ``{"handle": i}`` entries (inside the sandbox); without it
            they decode to ``Handle`` objects.

    Raises:
        CodecError: ``data`` is not a valid encoding.
    """
    budget = [MAX_NODES]
    return _dec(data, handles, 0, budget)


def _dec(x: Any, handles: list[Any] | None, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise CodecError("encoded value too large or too deep")
    t = type(x)
    if x is None or t in (bool, int, float, str):
        return x
    d = depth + 1
    if t is list:
        return [_dec(e, handles, d, budget) for e in x]
    if t is not dict or len(x) != 1:
        raise CodecError(f"not a valid encoded value: {type(x).__name__}")
    ((tag, body),) = x.items()
    try:
        if tag == "tuple":
            return tuple(_dec(e, handles, d, budget) for e in body)
        if tag == "dict":
            return {_dec(k, handles, d, budget): _dec(e, handles, d, budget) for k, e in body}
        if tag == "set":
            return {_dec(e, handles, d, budget) for e in body}
        if tag == "frozenset":
            return frozenset(_dec(e, handles, d, budget) for e in body)
        if tag == "int":
            return int(str(body), 16)
        if tag == "float":
            return float(str(body))
        if tag == "bytes":
            import base64

            return base64.b64decode(str(body), validate=True)
        if tag == "complex":
            return complex(float(body[0]), float(body[1]))
        if tag == "unsupported":
            return Unsupported(str(body)[:200])
        if tag == "handle":
            if handles is not None:
                return handles[int(body)]
            return Handle(int(body))
    except CodecError:
        raise
    except (TypeError, ValueError, IndexError, KeyError) as e:
        # Unhashable set members / dict keys, malformed numbers, bad handle refs.
        raise CodecError(f"malformed {tag!r} value: {e}") from None
    raise CodecError(f"unknown tag {tag!r}")


def short_repr(value: Any, limit: int = 200) -> str:
    """``repr`` of a decoded value cut to ``limit`` characters (for verdict detail)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- compact JSON: one encoder and one scanner made once ----------------------------------
def _no_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _compact_encoder() -> Callable[[Any], str]:
    # json.dumps builds an encoder on every call; in the sandbox worker, whose every
    # touched page is copied at the next fork, one made once is noticeably cheaper.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator: the plain route
        return lambda value: json.dumps(value, separators=(",", ":"))
    # Only fresh trees of built-in values are encoded, so no circular check is needed.
    encode = make(
        None, _no_default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )
    return lambda value: "".join(encode(value, 0))


dumps_compact = _compact_encoder()
"""``json.dumps(value, separators=(",", ":"))``, made cheaper."""

_scan: Any = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # (typeshed)


def loads_trusted(text: str) -> Any:
    """``json.loads`` for text this code wrote itself (no surrounding whitespace)."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not a JSON value") from None
    if end != len(text):
        raise ValueError("extra data after a JSON value")
    return value


# -- frames: length-prefixed JSON records on the worker's pipes ----------------------------
def read_frame(fd: int) -> dict[str, Any] | None:
    """Read one length-prefixed JSON frame; None at end of stream.

    A frame whose record has ``"blob": n`` is followed by ``n`` raw bytes, which replace
    that number in the record returned.
    """
    head = _read_exact(fd, _HEADER_SIZE)
    if head is None:
        return None
    body = _read_exact(fd, int.from_bytes(head, "big"))
    if body is None:
        return None
    result: dict[str, Any] = loads_trusted(body.decode())
    if "blob" in result:
        blob = _read_exact(fd, int(result["blob"]))
        if blob is None:
            return None
        result["blob"] = blob
    return result


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, record: dict[str, Any], blob: bytes | None = None) -> None:
    """Write one length-prefixed JSON frame, and ``blob`` raw after it (see ``read_frame``)."""
    if blob is not None:
        record["blob"] = len(blob)
    body = dumps_compact(record).encode()
    data = memoryview(len(body).to_bytes(_HEADER_SIZE, "big") + body + (blob or b""))
    while data:
        data = data[os.write(fd, data) :]
