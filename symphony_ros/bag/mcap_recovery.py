"""Read an MCAP file that was never finished (recorder killed): up to its last whole record.

An MCAP file is a magic, then records (1-byte opcode, 8-byte length, body). A writer that
dies leaves no summary, footer or end magic, and maybe half a record. This module finds the
end of the last complete record and presents the file as if it ended there with a DataEnd
record and a footer without summary, which rosbags' MCAP reader then scans linearly. The
file itself is never modified.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import PurePosixPath
from typing import BinaryIO, NamedTuple, Tuple

MAGIC = b'\x89MCAP0\r\n'
OP_HEADER, OP_FOOTER, OP_CHUNK, OP_DATA_END = 0x01, 0x02, 0x06, 0x0F
# DataEnd (crc 0), then a footer with no summary (offsets 0, crc 0), then the magic.
TRAILER = (bytes([OP_DATA_END]) + struct.pack('<QI', 4, 0)
           + bytes([OP_FOOTER]) + struct.pack('<QQQI', 20, 0, 0, 0) + MAGIC)


class McapScan(NamedTuple):
    """Where the readable part of an MCAP file ends."""

    size: int
    """Bytes in the file."""
    end: int
    """Offset just past the last complete record before any summary (0: unreadable)."""
    chunks: int
    """Complete chunk records."""
    finished: bool
    """True when the file has its footer and end magic (a writer closed it)."""


def scan(path: str) -> McapScan:
    """Walk the records of ``path``; return where the complete ones end.

    :raises ValueError: not an MCAP file (wrong magic or no header record).
    """
    size = os.path.getsize(path)
    with open(path, 'rb') as f:
        if f.read(8) != MAGIC:
            raise ValueError(f'{path}: not an MCAP file (no MCAP magic at the start)')
        finished = False
        if size >= 16:
            f.seek(-8, os.SEEK_END)
            finished = f.read(8) == MAGIC
        pos, end, chunks = 8, 8, 0
        f.seek(pos)
        while pos + 9 <= size:
            head = f.read(9)
            op, length = head[0], struct.unpack('<Q', head[1:])[0]
            if pos == 8 and op != OP_HEADER:
                raise ValueError(f'{path}: not an MCAP file (first record is not a header)')
            if op in (OP_DATA_END, OP_FOOTER) or pos + 9 + length > size:
                break
            pos += 9 + length
            f.seek(pos)
            end = pos
            chunks += op == OP_CHUNK
    return McapScan(size, end if end > 8 else 0, chunks, finished)


class _Window(io.RawIOBase):
    """The first ``cut`` bytes of a file followed by ``tail``, read-only and seekable."""

    def __init__(self, path: str, cut: int, tail: bytes) -> None:
        super().__init__()
        self._f: BinaryIO = open(path, 'rb')
        self._cut, self._tail = cut, tail
        self._size, self._pos = cut + len(tail), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buf) -> int:
        view = memoryview(buf).cast('B')
        n = 0
        while n < len(view) and self._pos < self._size:
            if self._pos < self._cut:
                self._f.seek(self._pos)
                got = self._f.readinto(view[n:n + min(len(view) - n, self._cut - self._pos)])
                if not got:
                    break
            else:
                start = self._pos - self._cut
                piece = self._tail[start:start + len(view) - n]
                view[n:n + len(piece)] = piece
                got = len(piece)
            n += got
            self._pos += got
        return n

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


class PatchedPath(PurePosixPath):
    """A path whose ``open`` gives the truncated-and-terminated view of an unfinished file.

    rosbags' readers only call ``open('rb')`` on a storage path (and show it in messages).
    """

    _cut: int = 0

    def open(self, mode: str = 'rb', *args, **kwargs) -> BinaryIO:  # noqa: D102
        if mode != 'rb':
            raise ValueError(f'{self}: read-only view of an unfinished MCAP file')
        return io.BufferedReader(_Window(str(self), self._cut, TRAILER))


def readable_view(path: str) -> Tuple[PatchedPath, McapScan]:
    """``path`` as a finished MCAP file ending at its last complete record, and the scan.

    :raises ValueError: not MCAP, or not even one complete record after the header.
    """
    found = scan(path)
    if not found.end:
        raise ValueError(f'{path}: unfinished MCAP file without a single complete record')
    view = PatchedPath(path)
    view._cut = found.end
    return view, found
