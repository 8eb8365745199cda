"""Random UUIDs from batched `os.urandom` reads (`service.ids`): well-formed version 4 UUIDs, never
repeated, across threads and across a fork (a child must not reuse its parent's batch)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from service import ids
from tests.threads import run_in_threads


def test_uuid_text_is_a_canonical_version_4_uuid() -> None:
    for _ in range(2000):  # several batches
        text = ids.uuid4_text()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_uuid_hex_is_32_digits_of_a_version_4_uuid() -> None:
    digits = ids.uuid4_hex()
    assert len(digits) == 32
    assert uuid.UUID(hex=digits).version == 4
    assert uuid.UUID(hex=digits).hex == digits


def test_every_random_bit_is_used() -> None:
    """All 122 random bits vary: none is stuck at 0 or 1 (the mask clears only the 6 fixed)."""
    values = [uuid.UUID(ids.uuid4_text()).int for _ in range(400)]
    ones = zeros = 0
    for value in values:
        ones |= value
        zeros |= ~value
    fixed = (0xF000 << 64) | (0xC000 << 48)
    assert (ones & zeros) | fixed == (1 << 128) - 1
    assert ones & fixed == (0x4000 << 64) | (0x8000 << 48)


def test_no_repeats_across_threads() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def draw() -> None:
        mine = [ids.uuid4_text() for _ in range(3000)]
        with lock:
            seen.extend(mine)

    run_in_threads(draw, 4)
    assert len(set(seen)) == len(seen) == 12000


def test_a_forked_child_does_not_reuse_its_parents_batch() -> None:
    ids.uuid4_text()  # this thread now holds a partly used batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, "\n".join(ids.uuid4_text() for _ in range(10)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split("\n")
    os.waitpid(pid, 0)
    parent = [ids.uuid4_text() for _ in range(10)]
    assert len(child) == 10
    assert not set(child) & set(parent)


@pytest.mark.parametrize("count", [1, 16, 4096])
def test_random_bytes_gives_the_count_asked(count: int) -> None:
    assert len(ids.random_bytes(count)) == count
