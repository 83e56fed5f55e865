"""Frames on a pipe: large arrays travel out of band, everything arrives whole, a closed pipe reads as EOF."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from lib_garment.runtime import wire
from tests.runtime_probe import Sample


def _through_pipe(obj: object) -> object:
    read_fd, write_fd = os.pipe()
    # A writer thread: a frame larger than the pipe buffer needs a reader at the same time.
    writer = threading.Thread(target=wire.send, args=(write_fd, obj))
    writer.start()
    try:
        return wire.receive(read_fd)
    finally:
        writer.join()
        os.close(read_fd)
        os.close(write_fd)


def test_large_arrays_travel_out_of_band_and_come_back_equal_and_writable() -> None:
    image = np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    chunks = wire.encode({"image": image})
    # The pickle part holds no pixels: the array's memory is its own chunk, not copied into the pickle.
    assert len(chunks) == 2
    assert len(chunks[0]) < 1024
    assert memoryview(chunks[1]).nbytes == image.nbytes
    back = _through_pipe({"image": image})
    assert isinstance(back, dict)
    np.testing.assert_array_equal(back["image"], image)
    assert back["image"].flags.writeable


def test_mixed_payloads_round_trip() -> None:
    base = np.arange(64 * 48 * 3, dtype=np.float32).reshape(64, 48, 3)
    payload = {
        "strided": base[::2, ::3],  # not contiguous: goes in band, still equal
        "fortran": np.asfortranarray(base[..., 0]),
        "mask": base[..., 0] > 100,
        "sample": Sample("tee", Path("/tmp/tee.png"), (64, 48)),
        "nested": [1, "two", (3.0, None)],
        "empty": np.zeros((0, 3), np.uint8),
    }
    back = _through_pipe(payload)
    assert isinstance(back, dict)
    for key in ("strided", "fortran", "mask", "empty"):
        np.testing.assert_array_equal(back[key], payload[key])
        assert back[key].dtype == payload[key].dtype
    assert back["fortran"].flags.f_contiguous
    assert back["sample"] == payload["sample"]
    assert back["nested"] == payload["nested"]


def test_end_of_stream_between_frames_and_inside_a_frame_read_as_eof() -> None:
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    with pytest.raises(EOFError):
        wire.read_frame(read_fd)
    os.close(read_fd)

    read_fd, write_fd = os.pipe()
    first = wire.encode(b"x" * 10_000)[0]
    os.write(write_fd, bytes(first[:50]))  # a torn frame: the writer died half-way
    os.close(write_fd)
    with pytest.raises(EOFError, match="middle of a frame"):
        wire.read_frame(read_fd)
    os.close(read_fd)


def test_an_unpicklable_object_fails_before_anything_is_written() -> None:
    with pytest.raises((TypeError, pickle.PicklingError)):
        wire.encode({"lock": threading.Lock()})
