import gzip
import re
import struct

import numpy as np
import pytest

from descend.errors import DescendError
from descend.tasks.idx import IdxError, read_idx, write_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("name", ["data-idx3-ubyte", "data-idx3-ubyte.gz"])
def test_round_trip(tmp_path, dtype, name):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    back = read_idx(write_idx(tmp_path / name, array))
    assert back.dtype == array.dtype and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_the_bytes_are_the_format(tmp_path):
    # magic 0x00000801 (ubyte, 1 dimension), the size big-endian, then the values
    path = write_idx(tmp_path / "labels", np.array([7, 2, 1], dtype=np.uint8))
    assert path.read_bytes() == bytes.fromhex("00000801 00000003 070201")
    path = write_idx(tmp_path / "ints", np.array([[1, 256]], dtype=np.int32))
    assert path.read_bytes() == bytes.fromhex("00000c02 00000001 00000002 00000001 00000100")
    compressed = write_idx(tmp_path / "labels.gz", np.array([7, 2, 1], dtype=np.uint8))
    assert gzip.decompress(compressed.read_bytes()) == bytes.fromhex("00000801 00000003 070201")


HEADER = struct.pack(">HBB3I", 0x0000, 0x08, 3, 3, 2, 2)  # 3 images of 2×2 ubyte: 12 bytes
BAD_FILES = [
    (HEADER + bytes(5), "truncated: shape (3, 2, 2) needs 12 bytes of data, found 5."),
    (HEADER + bytes(14), "2 bytes more than shape (3, 2, 2) needs (12): corrupted."),
    (HEADER[:10], "truncated: 10 bytes, shorter than its 16-byte header."),
    (b"\x00\x00", "has 2 bytes, too short for an IDX header."),
    (b"hello, world", "not an IDX file: its magic number 68656c6c does not start with 0000."),
    (
        b"\x00\x00\x07\x01\x00\x00\x00\x01\x05",
        "unknown IDX type code 0x07; known codes: 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E.",
    ),
    (b"\x00\x00\x08\x00", "the IDX header announces 0 dimensions."),
]


@pytest.mark.parametrize(("data", "problem"), BAD_FILES)
@pytest.mark.parametrize("compress", [False, True])
def test_bad_files_say_what_is_wrong(tmp_path, data, problem, compress):
    path = tmp_path / ("bad-idx3-ubyte.gz" if compress else "bad-idx3-ubyte")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IdxError, match=f"^{re.escape(f'{path}: {problem}')}$") as caught:
        read_idx(path)
    assert caught.value.path == path
    assert isinstance(caught.value, DescendError)


def test_bad_gzip(tmp_path):
    whole = gzip.compress(HEADER + bytes(12))
    cases = {
        "cut.gz": (whole[: len(whole) // 2], "the gzip stream ends early: the file is truncated."),
        "plain.gz": (HEADER + bytes(12), "is named .gz but is not gzip-compressed."),
    }
    for name, (data, problem) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(IdxError, match=f"^{re.escape(f'{tmp_path / name}: {problem}')}$"):
            read_idx(tmp_path / name)
    # gzip's magic number, then garbage: what zlib says is kept, after the file's name
    (tmp_path / "garbage").write_bytes(b"\x1f\x8b" + bytes(range(40)))
    with pytest.raises(IdxError, match=r"garbage: is not a valid gzip file \(.+\)\.$"):
        read_idx(tmp_path / "garbage")


def test_unreadable_file(tmp_path):
    with pytest.raises(IdxError, match=r"nothing-idx1-ubyte: cannot be read \(No such file"):
        read_idx(tmp_path / "nothing-idx1-ubyte")


def test_write_refuses_what_idx_cannot_hold(tmp_path):
    with pytest.raises(DescendError, match=r"^Cannot write a 1-D int64 array as IDX: .* uint8, "):
        write_idx(tmp_path / "x", np.arange(3))
    with pytest.raises(DescendError, match=r"^Cannot write a 0-D uint8 array as IDX"):
        write_idx(tmp_path / "x", np.uint8(3))
