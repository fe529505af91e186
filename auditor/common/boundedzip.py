"""A zip archive read without trusting it: one reading of its bytes, every read bounded.

Zip tools disagree on forged archives: ``zipfile`` takes the last of two entries with one
name, a streaming extractor the first; one reads the central directory, another the local
headers; some skip bytes before the first entry or after the directory. An archive this
module accepts leaves no room for two readings:

- the end record closes the file (no comment, nothing after it, no zip64 locator) and the
  central directory ends where it starts, so nothing is prepended;
- the entries, in the order of their offsets, tile the bytes before the directory exactly:
  no gap where a hidden entry could sit, no two entries sharing bytes (the overlapping
  zip bomb), each local header saying what the directory says (name, method, flags, CRC,
  sizes), none with its sizes after its data (a data descriptor);
- the number of entries and the directory's size are bounded before ``zipfile`` parses it.

Each entry is then inflated here, not by ``zipfile``: a declared size above the caller's
bound is refused before anything is inflated; otherwise chunk by chunk, never more than
the declared size plus one chunk step (the bytes are counted, the declaration is not
believed), the compressed stream must end exactly where the entry ends, and its length
and CRC must be those declared. What an entry is (a symbolic link, a folder, encrypted,
an unusual compression, a name that leaves its folder) the caller judges with
:func:`entry_problem`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from auditor.common.filenames import member_problem

_CHUNK = 1 << 20
_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_LOCAL = struct.Struct("<4s5H3L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_FLAG_ENCRYPTED = 0x01 | 0x40
_FLAG_DESCRIPTOR = 0x08
_FLAG_UTF8 = 0x800
_MAX32 = 0xFFFFFFFF

#: More entries than any evidence bundle holds (a handful) by far.
MAX_ENTRIES = 4096
#: The largest central directory read (a bundle's is a few hundred bytes an entry at most).
MAX_DIRECTORY_BYTES = 4 << 20


class UnsafeArchive(Exception):
    """The file is not a zip archive that reads one way only (the message says why)."""


class EntryUnreadable(Exception):
    """An entry's bytes are not what its header declares, or exceed the bound."""


class EntryTooLarge(EntryUnreadable):
    """An entry holds (or declares) more bytes than the caller's bound."""


@dataclass(frozen=True)
class Entry:
    """One entry of a checked archive: its directory record and where its data starts."""

    info: zipfile.ZipInfo
    data_start: int

    @property
    def name(self) -> str:
        """The name as the archive spells it (``zipfile``'s ``filename`` cuts it at a NUL)."""
        return self.info.orig_filename


def entry_problem(entry: Entry) -> str | None:
    """Why ``entry`` is not a plain file inside the archive's folder; None when it is."""
    info = entry.info
    mode = info.external_attr >> 16
    if info.orig_filename.endswith("/") or info.external_attr & 0x10:
        return "a folder entry"
    if stat.S_IFMT(mode) == stat.S_IFLNK:
        return "a symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        return "a special file (not a regular file)"
    if info.flag_bits & _FLAG_ENCRYPTED:
        return "encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"compressed with method {info.compress_type} (only stored or deflated is read)"
    return member_problem(info.orig_filename)


def _zip64_sizes(extra: bytes, size: int, compressed: int) -> tuple[int, int]:
    """A local header's sizes, from its zip64 field where the header says 0xFFFFFFFF."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        body = extra[at + 4:at + 4 + length]
        if kind == 1:
            values = [v for (v,) in struct.iter_unpack("<Q", body[:len(body) // 8 * 8])]
            if size == _MAX32 and values:
                size = values.pop(0)
            if compressed == _MAX32 and values:
                compressed = values.pop(0)
        at += 4 + length
    return size, compressed


class CheckedZip:
    """A zip archive whose layout was checked (see the module); a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle = open(path, "rb")  # noqa: SIM115 - closed by close()
        try:
            self.entries = self._check()
        except BaseException:
            self._handle.close()
            raise

    def __enter__(self) -> CheckedZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._handle.close()

    def _at(self, offset: int, size: int) -> bytes:
        self._handle.seek(offset)
        return self._handle.read(size)

    def _end_record(self) -> tuple[int, int, int]:
        """The entry count, directory size and directory offset of the end record that
        closes the file."""
        size = os.fstat(self._handle.fileno()).st_size
        if size < _END.size:
            raise UnsafeArchive("not a zip archive (too short)")
        end_at = size - _END.size
        (signature, disk, directory_disk, here, total, directory_size, directory_at,
         comment) = _END.unpack(self._at(end_at, _END.size))
        if signature != _END_SIGNATURE:
            raise UnsafeArchive("not a zip archive, or one with a comment or bytes after "
                                "its end")
        if disk or directory_disk or here != total:
            raise UnsafeArchive("a zip archive split over several disks")
        if comment:
            raise UnsafeArchive("a zip archive whose comment is missing")
        if end_at >= 20 and self._at(end_at - 20, 4) == _ZIP64_LOCATOR:
            raise UnsafeArchive("a zip64 archive (bundles are plain zip archives)")
        if total > MAX_ENTRIES or directory_size > MAX_DIRECTORY_BYTES:
            raise UnsafeArchive(f"{total} entries in {directory_size} bytes of directory "
                                f"(at most {MAX_ENTRIES} entries are read)")
        if directory_at + directory_size != end_at:
            raise UnsafeArchive("bytes before the archive or between its directory and "
                                "its end")
        return total, directory_size, directory_at

    def _check(self) -> tuple[Entry, ...]:
        total, _size, directory_at = self._end_record()
        try:
            with zipfile.ZipFile(self._handle) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, UnicodeDecodeError, ValueError,
                EOFError, OSError) as exc:
            raise UnsafeArchive(f"an unreadable zip directory ({exc})") from None
        if len(infos) != total:
            raise UnsafeArchive(f"a directory of {len(infos)} entries whose end record "
                                f"says {total}")
        entries, position = [], 0
        for info in sorted(infos, key=lambda i: i.header_offset):
            if info.header_offset != position:
                where = "overlap" if info.header_offset < position else "leave a gap"
                raise UnsafeArchive(f"entries that {where} at byte {position} (hidden or "
                                    "shared data, a zip bomb's shape)")
            if info.flag_bits & _FLAG_DESCRIPTOR:  # its sizes after its data: two readings
                raise UnsafeArchive(f"entry {info.orig_filename!r} has its sizes after its "
                                    "data (a data descriptor; bundles have none)")
            data_start = self._local_header(info)
            position = data_start + info.compress_size
            entries.append(Entry(info, data_start))
        if position != directory_at:
            raise UnsafeArchive(f"{directory_at - position} bytes between the last entry "
                                "and the directory" if position < directory_at
                                else "an entry that runs into the directory")
        return tuple(entries)

    def _local_header(self, info: zipfile.ZipInfo) -> int:
        """Where the entry's data starts, once its local header agrees with the
        directory."""
        raw = self._at(info.header_offset, _LOCAL.size)
        if len(raw) != _LOCAL.size:
            raise UnsafeArchive(f"entry {info.orig_filename!r} starts past the end of the "
                                "file")
        (signature, _version, flags, method, _time, _date, crc, compressed, size, name_length,
         extra_length) = _LOCAL.unpack(raw)
        name = self._at(info.header_offset + _LOCAL.size, name_length)
        extra = self._at(info.header_offset + _LOCAL.size + name_length, extra_length)
        size, compressed = _zip64_sizes(extra, size, compressed)
        local = (crc, compressed, size)
        encoding = "utf-8" if flags & _FLAG_UTF8 else "cp437"
        if (signature != _LOCAL_SIGNATURE or flags != info.flag_bits
                or method != info.compress_type
                or local != (info.CRC, info.compress_size, info.file_size)
                or name.decode(encoding, "replace") != info.orig_filename):
            raise UnsafeArchive(f"entry {info.orig_filename!r}: its local header differs "
                                "from the directory")
        return info.header_offset + _LOCAL.size + name_length + extra_length

    def chunks(self, entry: Entry, limit: int) -> Iterator[bytes]:
        """The entry's bytes, inflated here in chunks; :class:`EntryTooLarge` when it
        declares more than ``limit`` bytes, :class:`EntryUnreadable` as soon as it holds
        more than it declares, or when its data is not what its header declares."""
        info = entry.info
        if info.file_size > limit:
            raise EntryTooLarge(f"declares {info.file_size} bytes, more than {limit}")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise EntryUnreadable("stored with a compressed size unlike its size")
        count, crc = 0, 0
        for chunk in self._inflated(entry, info.file_size):
            count += len(chunk)
            if count > info.file_size:  # the declared size is a claim: the bytes are counted
                raise EntryUnreadable(f"holds more than the {info.file_size} bytes its "
                                      "header declares")
            crc = zlib.crc32(chunk, crc)
            yield chunk
        if count != info.file_size:
            raise EntryUnreadable(f"holds {count} bytes, its header says {info.file_size}")
        if crc != info.CRC:
            raise EntryUnreadable("its CRC does not match its data")

    def _raw(self, entry: Entry) -> Iterator[bytes]:
        left, offset = entry.info.compress_size, entry.data_start
        while left:
            data = self._at(offset, min(_CHUNK, left))
            if not data:
                raise EntryUnreadable("ends past the end of the file")
            offset, left = offset + len(data), left - len(data)
            yield data

    def _inflated(self, entry: Entry, limit: int) -> Iterator[bytes]:
        if entry.info.compress_type == zipfile.ZIP_STORED:
            yield from self._raw(entry)
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        step = max(1, min(_CHUNK, limit + 1))
        try:
            for data in self._raw(entry):
                while data:
                    if inflater.eof:
                        raise EntryUnreadable("bytes after the end of its compressed data")
                    out = inflater.decompress(data, step)
                    if not out and inflater.unconsumed_tail == data:
                        raise EntryUnreadable("its compressed data does not inflate")
                    data = inflater.unconsumed_tail
                    yield out
            while not inflater.eof:  # what is still buffered: in bounded steps too
                out = inflater.decompress(b"", step)
                if not out:
                    raise EntryUnreadable("its compressed data ends before its end marker")
                yield out
        except zlib.error as exc:
            raise EntryUnreadable(f"its compressed data is damaged ({exc})") from None
        if inflater.unused_data:
            raise EntryUnreadable("bytes after the end of its compressed data")

    def read(self, entry: Entry, limit: int) -> bytes:
        """The entry's bytes (at most ``limit``; see :meth:`chunks`)."""
        return b"".join(self.chunks(entry, limit))

    def sha256(self, entry: Entry, limit: int) -> tuple[str, int]:
        """The entry's SHA-256 and size (at most ``limit`` bytes; see :meth:`chunks`)."""
        digest, count = hashlib.sha256(), 0
        for chunk in self.chunks(entry, limit):
            digest.update(chunk)
            count += len(chunk)
        return digest.hexdigest(), count
