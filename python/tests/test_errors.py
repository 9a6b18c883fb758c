"""Damaged input raises what the stdlib raises (BadGzipFile, an OSError; EOFError for
data cut short), with gzfleet's message, from every entry point: decompress, a file
by path, a file object."""

import gzip
import io
import zlib

import pytest

import gzfleet

GOOD = gzip.compress(b"some data " * 5000, mtime=0)

CASES = {
    "not gzip": (b"not gzip at all, clearly", gzip.BadGzipFile),
    "cut in the data": (GOOD[:len(GOOD) // 2], EOFError),
    "cut in the trailer": (GOOD[:-3], EOFError),
    "cut in the header": (GOOD[:5], EOFError),
    "trailing garbage": (GOOD + b"junk", gzip.BadGzipFile),
    "wrong CRC": (GOOD[:-8] + bytes([GOOD[-8] ^ 1]) + GOOD[-7:], gzip.BadGzipFile),
    "wrong length": (GOOD[:-4] + bytes([GOOD[-4] ^ 1]) + GOOD[-3:], gzip.BadGzipFile),
    # The stdlib lets zlib.error (not an OSError) out here; gzfleet says BadGzipFile.
    "bad deflate": (b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"\xff\xff\xff", gzip.BadGzipFile),
}


def readers(tmp_path, data):
    p = tmp_path / "x.gz"
    p.write_bytes(data)
    yield "decompress", lambda: gzfleet.decompress(data)
    yield "path", lambda: gzfleet.open(p).read()
    yield "file object", lambda: gzfleet.open(io.BytesIO(data)).read()
    yield "text", lambda: gzfleet.open(p, "rt", encoding="latin-1").read()
    yield "lines", lambda: list(gzfleet.open(p))


@pytest.mark.parametrize("case", sorted(CASES))
def test_damage_raises_as_the_stdlib(tmp_path, case):
    data, expected = CASES[case]
    if case != "bad deflate":  # the stdlib agrees
        with pytest.raises(expected):
            gzip.decompress(data)
    for how, read in readers(tmp_path, data):
        with pytest.raises(expected) as e:
            read()
        assert str(e.value), (case, how)
        if expected is gzip.BadGzipFile:
            assert isinstance(e.value, OSError)


def test_zeros_after_the_last_member_are_padding(tmp_path):
    data = GOOD + b"\0" * 100
    assert gzfleet.decompress(data) == gzip.decompress(data)
    p = tmp_path / "x.gz"
    p.write_bytes(data)
    assert gzfleet.open(p).read() == gzip.decompress(data)


def test_empty_input_is_empty_as_in_gzip(tmp_path):
    p = tmp_path / "empty.gz"
    p.write_bytes(b"")
    assert gzfleet.decompress(b"") == gzip.decompress(b"") == b""
    assert gzfleet.open(p).read() == b""
    assert gzfleet.open(io.BytesIO(b"")).read() == b""


def test_a_file_objects_own_error_comes_back_as_it_was():
    class Fails(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            raise KeyError("from the file object")

    with pytest.raises(KeyError, match="from the file object"):
        gzfleet.open(Fails()).read()


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        gzfleet.open("/nonexistent/x.gz")
