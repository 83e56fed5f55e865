"""Length-prefixed pickle frames on a pair of pipes, shaped for large numpy arrays.

A frame is a header (pickle length, buffer count, each buffer's length), the pickle bytes, then each
out-of-band buffer. Pickle protocol 5 hands contiguous numpy arrays over as buffers instead of copying
them into the pickle, so the sender writes the array's own memory straight into the pipe and the receiver
reads straight into the buffer the new array will live on: one kernel copy each way, no pickle copies.
Everything is read before anything is unpickled, so a payload that fails to unpickle leaves the stream in
step.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from collections.abc import Sequence
from typing import Any

PROTOCOL = 5
_HEADER = struct.Struct("<QI")  # pickle length, number of out-of-band buffers
_LENGTH = struct.Struct("<Q")

Chunk = bytes | bytearray | memoryview


def _raw(buffer: pickle.PickleBuffer) -> memoryview:
    try:
        return buffer.raw()
    except BufferError:  # not contiguous after all: send a contiguous copy
        return memoryview(bytes(memoryview(buffer)))


def encode(obj: Any) -> list[Chunk]:
    """The chunks of one frame, ready to write. Raises (pickle errors) before anything is written."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=PROTOCOL, buffer_callback=buffers.append)
    raws = [_raw(buffer) for buffer in buffers]
    header = _HEADER.pack(len(data), len(raws)) + b"".join(_LENGTH.pack(raw.nbytes) for raw in raws)
    return [header + data, *raws]


def write_frame(fd: int, chunks: Sequence[Chunk]) -> None:
    """Write every chunk in full (os.write may write less than asked on a pipe)."""
    for chunk in chunks:
        view = memoryview(chunk).cast("B")
        while view.nbytes:
            written = os.write(fd, view)
            view = view[written:]


def send(fd: int, obj: Any) -> None:
    write_frame(fd, encode(obj))


def _read_into(stream: io.FileIO, view: memoryview) -> None:
    while view.nbytes:
        count = stream.readinto(view)
        if not count:
            raise EOFError("the pipe closed in the middle of a frame")
        view = view[count:]


def _read_exact(stream: io.FileIO, size: int, *, first: bool = False) -> bytearray:
    data = bytearray(size)
    view = memoryview(data)
    if first:  # end of stream before a frame starts is an orderly close, not a torn frame
        count = stream.readinto(view)
        if not count:
            raise EOFError("the pipe closed")
        view = view[count:]
    _read_into(stream, view)
    return data


def read_frame(fd: int) -> tuple[bytearray, list[bytearray]]:
    """One frame's pickle bytes and buffers. EOFError when the writer closed its end."""
    with io.FileIO(fd, "rb", closefd=False) as stream:
        size, count = _HEADER.unpack(_read_exact(stream, _HEADER.size, first=True))
        lengths = [_LENGTH.unpack(_read_exact(stream, _LENGTH.size))[0] for _ in range(count)]
        data = _read_exact(stream, size)
        buffers = [_read_exact(stream, length) for length in lengths]
    return data, buffers


def decode(data: bytearray, buffers: list[bytearray]) -> Any:
    # Arrays come back writable and backed by their bytearray: the receiver owns them, nothing is shared.
    return pickle.loads(data, buffers=buffers)


def receive(fd: int) -> Any:
    return decode(*read_frame(fd))
