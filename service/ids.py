"""Random (version 4) UUIDs for cards, suggestions and request ids, without a system call each.

`uuid.uuid4()` reads 16 bytes with `os.urandom` (a `getrandom` call that releases the GIL: with
several threads in a worker, each one is a hand-off) and builds a `UUID` object only to print
it: ~3-4 uuids a hook call. Here each thread reads `os.urandom` 4 KB at a time (256 uuids) and
formats the string directly; the bytes are the same kind (the kernel's CSPRNG), and each byte is
used once. A forked child discards what its parent had read (`os.register_at_fork`), so two
workers never hand out the same bytes.
"""

from __future__ import annotations

import os
import threading

_BATCH_BYTES = 4096
_VERSION_MASK = ~(0xF000 << 64) & ~(0xC000 << 48)
_VERSION_4 = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


class _Pool(threading.local):
    def __init__(self) -> None:
        self.buffer = b""
        self.offset = 0
        self.generation = -1


_pool = _Pool()
_generation = 0


def _after_fork_in_child() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_after_fork_in_child)


def random_bytes(count: int = 16) -> bytes:
    """`count` (<= 4096) bytes from `os.urandom`, read in batches per thread."""
    pool = _pool
    start = pool.offset
    if pool.generation != _generation or start + count > len(pool.buffer):
        pool.buffer, pool.generation, start = os.urandom(_BATCH_BYTES), _generation, 0
    pool.offset = start + count
    return pool.buffer[start:start + count]


def uuid4_hex() -> str:
    """A random UUID as 32 hex digits (`uuid.uuid4().hex`)."""
    value = (int.from_bytes(random_bytes(16)) & _VERSION_MASK) | _VERSION_4
    return f"{value:032x}"


def uuid4_text() -> str:
    """A random UUID in its canonical form (`str(uuid.uuid4())`)."""
    digits = uuid4_hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
