"""Zip archives written byte by byte, so that a test can put any lie into one: a second
entry of one name, entries sharing their data, bytes no entry accounts for, sizes and CRCs
that do not match the data, a deflate bomb of a few MB that inflates to GiBs.

``zipfile`` writes only honest archives; the forger does not use it."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field, replace

STORED, DEFLATED = 0, 8
UTF8 = 0x800
REGULAR = 0o100644 << 16
SYMLINK = 0o120777 << 16


@dataclass(frozen=True)
class Member:
    """One entry: its name (bytes as written), its data as stored (compressed already),
    and what its headers declare about it."""

    name: bytes
    stored: bytes
    size: int
    crc: int
    method: int = DEFLATED
    flags: int = UTF8
    external_attr: int = REGULAR
    #: the local header's name, if it differs from the directory's
    local_name: bytes | None = None
    extra: bytes = field(default=b"")


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def member(name: str | bytes, data: bytes, *, method: int = DEFLATED, **lies: object
           ) -> Member:
    """An honest entry of ``data`` (then ``lies`` replace what its headers declare)."""
    raw = name.encode("utf-8") if isinstance(name, str) else name
    stored = deflate(data) if method == DEFLATED else data
    honest = Member(raw, stored, len(data), zlib.crc32(data), method)
    return replace(honest, **lies)  # type: ignore[arg-type]


def zeros_bomb(gib: int) -> bytes:
    """A raw deflate stream of ``gib`` GiB of zero bytes, of about a thousandth of that:
    one compressed MiB repeated (each ends at a full flush, so every copy is the same)."""
    mib = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    compressor.compress(mib)
    compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(mib) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block * (gib << 10) + compressor.flush()


def _local(entry: Member) -> bytes:
    name = entry.local_name if entry.local_name is not None else entry.name
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, entry.flags, entry.method, 0, 0x21,
                       entry.crc, len(entry.stored), entry.size, len(name),
                       len(entry.extra)) + name + entry.extra + entry.stored


def _central(entry: Member, offset: int) -> bytes:
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 0x0314, 20, entry.flags, entry.method,
                       0, 0x21, entry.crc, len(entry.stored), entry.size, len(entry.name),
                       len(entry.extra), 0, 0, 0, entry.external_attr,
                       offset) + entry.name + entry.extra


def archive(entries: list[Member], *, directory: list[tuple[Member, int]] | None = None,
            prefix: bytes = b"", between: bytes = b"", suffix: bytes = b"") -> bytes:
    """The archive of ``entries`` in order. ``directory`` lists what the central directory
    says instead (an entry and the index of the local entry it points at: two records may
    point at one); ``prefix`` goes before the first entry (offsets stay those of a plain
    archive, as a forger appending a zip to another file leaves them), ``between`` after
    each entry's data, ``suffix`` after the end record."""
    body, offsets = b"", []
    for entry in entries:
        offsets.append(len(body))
        body += _local(entry) + between
    records = directory if directory is not None else [(e, i) for i, e in enumerate(entries)]
    central = b"".join(_central(entry, offsets[index]) for entry, index in records)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(records), len(records),
                      len(central), len(body), 0)
    return prefix + body + central + end + suffix
