"""Arrays sent exactly over JSON (``lib_garment.b64images``: ``/generate``'s opt-in ``exact_matte``): what goes in
comes out bit for bit, and anything else is refused by name, a small message never inflating past its shape."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pytest

from lib_garment.b64images import decode_array, encode_array
from lib_garment.errors import BadInput


def test_a_float_matte_and_an_eight_bit_map_come_back_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    matte = rng.random((37, 53), dtype=np.float32)
    matte[:10] = 0.0
    matte[-10:] = 1.0
    depth = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    for array in (matte, depth, matte[::2, ::3]):  # a strided view too
        sent = encode_array(array)
        back = decode_array(sent, "matte")
        assert back.dtype == array.dtype
        assert back.shape == array.shape
        assert back.tobytes() == np.ascontiguousarray(array).tobytes()
        back[0, 0] = 0  # a writable array of its own
    assert sent["shape"] == [19, 18]


def test_other_dtypes_are_not_sent() -> None:
    with pytest.raises(ValueError, match="float64 cannot be sent"):
        encode_array(np.zeros((2, 2)))


def packed(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data)).decode("ascii")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("AAAA", "expected an array as {dtype, shape, data}"),
        ({"dtype": "float32", "shape": [2, 2]}, "expected an array as {dtype, shape, data}"),
        ({"dtype": "float64", "shape": [2], "data": packed(bytes(16))}, "dtype 'float64' is not one of"),
        ({"dtype": "uint8", "shape": [2, 0], "data": packed(b"")}, "shape must be 1 to 3 positive whole numbers"),
        ({"dtype": "uint8", "shape": [True, 2], "data": packed(bytes(2))}, "shape must be 1 to 3 positive"),
        ({"dtype": "uint8", "shape": "2x2", "data": packed(bytes(4))}, "shape must be 1 to 3 positive"),
        ({"dtype": "uint8", "shape": [2, 2], "data": "@@@"}, "not valid base64"),
        ({"dtype": "uint8", "shape": [2, 2], "data": base64.b64encode(bytes(4)).decode()}, "not zlib-compressed"),
        ({"dtype": "uint8", "shape": [2, 2], "data": packed(bytes(3))}, "does not hold 2x2 values of uint8"),
        # a bomb: 10 MB of zeros compress to ~10 KB; only what the shape needs (and one byte) is inflated
        ({"dtype": "uint8", "shape": [2, 2], "data": packed(bytes(10_000_000))}, "does not hold 2x2 values"),
    ],
)
def test_a_broken_array_is_refused_by_name(value: object, says: str) -> None:
    with pytest.raises(BadInput, match="^matte: ") as caught:
        decode_array(value, "matte")
    assert says in str(caught.value)
