"""Reading an input file asks for pieces, never for the whole size limit at once: a read
of ``limit + 1`` bytes set that much memory aside, four times over in a 1,000-endpoint
audit (issue 25's peak). What is read is still the file, and a file over the limit is
still refused."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auditor.common.inputs as inputs
from auditor.common.errors import InputError


class Recording(io.BufferedReader):
    asked: ClassVar[list[int]] = []

    def read(self, size: int | None = -1) -> bytes:
        Recording.asked.append(-1 if size is None else size)
        return super().read(size)


def _recording_fdopen(fd: int, mode: str = "rb", *args: object, **kwargs: object):
    return Recording(io.FileIO(fd, "rb"))


@given(content=st.binary(max_size=5000), piece=st.integers(1, 700),
       most=st.integers(0, 6000))
@settings(max_examples=200)
def test_reading_in_pieces_gives_the_first_bytes_up_to_the_bound(
        content: bytes, piece: int, most: int) -> None:
    asked: ClassVar[list[int]] = []

    class Handle(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            asked.append(-1 if size is None else size)
            return super().read(size)

    old = inputs._READ_PIECE
    inputs._READ_PIECE = piece
    try:
        assert inputs._read_at_most(Handle(content), most) == content[:most]
    finally:
        inputs._READ_PIECE = old
    assert all(0 < size <= piece for size in asked)


def test_read_input_never_asks_for_the_limit_at_once_and_still_refuses_past_it(
        tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "facts.json"
    path.write_bytes(b'{"a": 1}')
    Recording.asked = []
    monkeypatch.setattr(inputs.os, "fdopen", _recording_fdopen)
    assert inputs.read_input(path, "json") == b'{"a": 1}'
    assert Recording.asked and max(Recording.asked) <= 1 << 20 < inputs.LIMITS["json"]
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 3000)
    monkeypatch.setitem(inputs.LIMITS, "json", 1000)
    with pytest.raises(InputError, match="limit"):
        inputs.read_input(big, "json")
    assert os.path.getsize(big) == 3000
