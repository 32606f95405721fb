"""The value codec between sandboxed programs and the harness."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest

from harness.core.values import CodecError, Handle, Unsupported, decode, encode, read_frame
from verifiers.sandbox.worker import _frame


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -7,
        10**5000,
        1.5,
        float("inf"),
        "héllo\udcff",
        b"\x00\xff",
        2 + 3j,
        [1, [2, (3, 4)]],
        (1,),
        {1: "a", (2, 3): [4]},
        {1, 2},
        frozenset({"x"}),
        {"nested": {"set": {1}}},
    ],
    ids=lambda v: type(v).__name__,
)
def test_round_trip_through_json_keeps_types(value: Any) -> None:
    back = decode(json.loads(json.dumps(encode(value))))
    assert back == value
    assert type(back) is type(value)


def test_nan_round_trips() -> None:
    assert math.isnan(decode(json.loads(json.dumps(encode(float("nan"))))))


def test_subclasses_and_forged_equality_become_unsupported() -> None:
    class Sneaky(int):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = int.__hash__

    class AlwaysEqual:
        def __eq__(self, other: object) -> bool:
            return True

    for forged in (Sneaky(3), AlwaysEqual(), [AlwaysEqual()]):
        back = decode(encode(forged))
        assert back != 3 and back != [3]
        assert (back == forged) is False  # the comparison runs no code of the forger
    marker = decode(encode(Sneaky(1)))
    assert isinstance(marker, Unsupported) and "Sneaky" in repr(marker)
    assert not marker and marker != marker


def test_handles_keep_objects_on_the_encoding_side() -> None:
    table: list[Any] = []
    obj = object()
    data = encode([obj, 1], table)
    assert table == [obj]
    assert decode(data) == [Handle(0), 1]
    assert decode(data, table)[0] is obj


@pytest.mark.parametrize(
    "bad",
    [{"tuple": [1], "set": [2]}, {"nope": 1}, {"set": [[1]]}, {"int": "zz"}, {"handle": 3}],
)
def test_malformed_encodings_are_rejected(bad: Any) -> None:
    with pytest.raises(CodecError):
        decode(bad, [] if "handle" in bad else None)


def test_depth_and_size_limits() -> None:
    deep: list[Any] = []
    cur = deep
    for _ in range(200):
        cur.append([])
        cur = cur[0]
    with pytest.raises(CodecError):
        encode(deep)
    with pytest.raises(CodecError):
        encode(list(range(300_000)))


def test_frames_carry_a_binary_attachment_in_place_of_the_source() -> None:
    code = bytes(range(256)) * 3
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, _frame({"id": 4, "program": "x = 1", "code": code}))
        os.write(write_fd, _frame({"id": 5, "program": "y = 2"}))
        os.close(write_fd)
        with_code, plain = read_frame(read_fd), read_frame(read_fd)
        assert read_frame(read_fd) is None
    finally:
        os.close(read_fd)
    assert with_code == {"id": 4, "blob": code}  # the source does not travel beside it
    assert plain == {"id": 5, "program": "y = 2"}
