"""The IDX file format of MNIST and Fashion-MNIST, read and written with numpy and struct.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values, big-endian, in C
order. Files may be gzip-compressed. http://yann.lecun.com/exdb/mnist/ describes it.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from descend.errors import DescendError

# type code -> big-endian numpy dtype (the codes of the format's definition)
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(DescendError):
    """A file that is not a valid IDX file (corrupted, truncated, not IDX, bad gzip)."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not), in native byte order."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise IdxError(path, f"cannot be read ({error.strerror or error}).") from None
    if data[:2] == GZIP_MAGIC or path.suffix == ".gz":
        data = _gunzip(path, data)
    return _parse(path, data)


def _gunzip(path: Path, data: bytes) -> bytes:
    if data[:2] != GZIP_MAGIC:
        raise IdxError(path, "is named .gz but is not gzip-compressed.")
    try:
        return gzip.decompress(data)
    except EOFError:
        raise IdxError(path, "the gzip stream ends early: the file is truncated.") from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise IdxError(path, f"is not a valid gzip file ({error}).") from None


def _parse(path: Path, data: bytes) -> np.ndarray:
    if len(data) < 4:
        raise IdxError(path, f"has {len(data)} bytes, too short for an IDX header.")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise IdxError(
            path, f"not an IDX file: its magic number {data[:4].hex()} does not start with 0000."
        )
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise IdxError(path, f"unknown IDX type code 0x{code:02X}; known codes: {known}.")
    if ndim == 0:
        raise IdxError(path, "the IDX header announces 0 dimensions.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxError(
            path, f"truncated: {len(data)} bytes, shorter than its {header}-byte header."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(data) - header
    if found < expected:
        raise IdxError(
            path, f"truncated: shape {shape} needs {expected} bytes of data, found {found}."
        )
    if found > expected:
        raise IdxError(
            path, f"{found - expected} bytes more than shape {shape} needs ({expected}): corrupted."
        )
    values = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a writable copy in native order


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write `array` as an IDX file, gzip-compressed when `path` ends in .gz."""
    path = Path(path)
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
    if array.dtype not in codes or array.ndim == 0 or array.ndim > 255:
        raise DescendError(
            f"Cannot write a {array.ndim}-D {array.dtype} array as IDX: it needs 1 to 255 "
            f"dimensions and one of the dtypes {', '.join(str(d) for d in codes)}."
        )
    header = struct.pack(">HBB", 0, codes[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    # mtime=0: the same array always gives the same bytes, so checksums are reproducible
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path
