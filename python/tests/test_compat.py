"""gzfleet against the stdlib's gzip, which judges: what one writes the other reads, in
every mode, binary and text; and the same calls on gzip.GzipFile and gzfleet.GzipFile
give the same answers."""

import array
import gzip
import io
import os

import pytest

import gzfleet

from conftest import sample


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("size", [0, 1, 100_000, 3 * 1024 * 1024 + 7])
def test_compress_both_directions(level, size):
    d = sample(size, seed=size)
    assert gzip.decompress(gzfleet.compress(d, level)) == d
    assert gzfleet.decompress(gzip.compress(d, level)) == d


def test_compress_takes_bytes_likes_and_decompress_every_member(data):
    d = data[:100_000]
    assert gzip.decompress(gzfleet.compress(bytearray(d))) == d
    assert gzip.decompress(gzfleet.compress(memoryview(d))) == d
    members = gzip.compress(d[:10]) + gzfleet.compress(d[10:500]) + gzip.compress(b"")
    assert gzfleet.decompress(members) == d[:500]


def test_compress_mtime_in_the_header():
    out = gzfleet.compress(b"x", mtime=1234567890)
    assert int.from_bytes(out[4:8], "little") == 1234567890
    with gzip.GzipFile(fileobj=io.BytesIO(out)) as f:
        f.read()
        assert f.mtime == 1234567890


@pytest.mark.parametrize("mode", ["w", "wb", "x", "xb"])
def test_binary_write_modes_read_by_gzip(tmp_path, data, mode):
    p = tmp_path / "a.gz"
    with gzfleet.open(p, mode) as f:
        assert f.write(data) == len(data)
    with gzip.open(p, "rb") as f:
        assert f.read() == data


@pytest.mark.parametrize("mode", ["x", "xb", "xt"])
def test_exclusive_modes_refuse_an_existing_file(tmp_path, mode):
    p = tmp_path / "a.gz"
    p.write_bytes(b"")
    with pytest.raises(FileExistsError):
        gzfleet.open(p, mode)


@pytest.mark.parametrize("mode", ["a", "ab"])
def test_append_adds_a_member(tmp_path, data, mode):
    p = tmp_path / "a.gz"
    with gzip.open(p, "wb") as f:
        f.write(b"first\n")
    with gzfleet.open(p, mode) as f:
        f.write(data)
    with gzip.open(p, "rb") as f:
        assert f.read() == b"first\n" + data
    with gzfleet.open(p, "r") as f:
        assert f.read() == b"first\n" + data


@pytest.mark.parametrize("mode", ["r", "rb"])
def test_binary_read_modes_read_gzip(tmp_path, data, mode):
    p = tmp_path / "a.gz"
    with gzip.open(p, "wb") as f:
        f.write(data)
    with gzfleet.open(p, mode) as f:
        assert f.read() == data


TEXT = "naïve café, ünïcödé ☃ and 𝄞\nline two\r\nthree\rfour\n\nlast without newline"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1", "utf-32-le"])
@pytest.mark.parametrize("newline", [None, "", "\n", "\r", "\r\n"])
def test_text_modes_as_gzip(tmp_path, encoding, newline):
    text = TEXT if encoding != "latin-1" else TEXT.encode("latin-1", "replace").decode("latin-1")
    ours, theirs = tmp_path / "ours.gz", tmp_path / "theirs.gz"
    with gzfleet.open(ours, "wt", encoding=encoding, newline=newline) as f:
        f.write(text)
    with gzip.open(theirs, "wt", encoding=encoding, newline=newline) as f:
        f.write(text)
    assert gzip.decompress(ours.read_bytes()) == gzip.decompress(theirs.read_bytes())
    with gzfleet.open(theirs, "rt", encoding=encoding, newline=newline) as a, \
            gzip.open(theirs, "rt", encoding=encoding, newline=newline) as b:
        assert list(a) == list(b)
    with gzfleet.open(ours, "at", encoding=encoding, newline=newline) as f:
        f.write("more")
    with gzip.open(ours, "rt", encoding=encoding, newline=newline) as f:
        assert f.read().endswith("more")


def test_text_mode_errors_argument(tmp_path):
    p = tmp_path / "a.gz"
    p.write_bytes(gzip.compress("é".encode("latin-1")))
    with gzfleet.open(p, "rt", encoding="utf-8", errors="replace") as f:
        assert f.read() == "\ufffd"
    with gzfleet.open(p, "rt", encoding="utf-8") as f, pytest.raises(UnicodeDecodeError):
        f.read()


@pytest.mark.parametrize("kw", [{"encoding": "utf-8"}, {"errors": "strict"}, {"newline": "\n"}])
def test_binary_mode_refuses_text_arguments(tmp_path, kw):
    with pytest.raises(ValueError) as ours:
        gzfleet.open(tmp_path / "a.gz", "wb", **kw)
    with pytest.raises(ValueError) as theirs:
        gzip.open(tmp_path / "b.gz", "wb", **kw)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("bad", [123, None, 4.5])
def test_open_refuses_what_is_not_a_file(bad):
    with pytest.raises(TypeError):
        gzfleet.open(bad)
    with pytest.raises(TypeError):
        gzip.open(bad)


@pytest.mark.parametrize("mode", ["rbt", "wtb", "z", "rU"])
def test_invalid_modes_as_gzip(tmp_path, mode):
    with pytest.raises(ValueError):
        gzip.open(tmp_path / "a.gz", mode)
    with pytest.raises(ValueError):
        gzfleet.open(tmp_path / "a.gz", mode)


def test_paths_bytes_and_pathlike(tmp_path, data):
    p = tmp_path / "a.gz"
    for name in (str(p), os.fsencode(p), p):
        with gzfleet.open(name, "wb") as f:
            f.write(data[:1000])
        with gzfleet.open(name) as f:
            assert f.read() == data[:1000]
            assert f.name == name if not isinstance(name, os.PathLike) else f.name == str(p)


def test_file_objects_both_ways(data):
    buf = io.BytesIO()
    with gzfleet.GzipFile(fileobj=buf, mode="wb") as f:
        f.write(data)
    assert not buf.closed  # a file object passed in is left open, as gzip leaves it
    assert gzip.decompress(buf.getvalue()) == data
    with gzfleet.GzipFile(fileobj=io.BytesIO(buf.getvalue())) as f:
        assert f.read() == data


def test_a_socket_stream(data):
    import socket
    import threading
    a, b = socket.socketpair()
    payload = gzip.compress(data)
    t = threading.Thread(target=lambda: (a.sendall(payload), a.close()))
    t.start()
    with b.makefile("rb") as stream, gzfleet.open(stream) as f:
        assert f.read() == data
    t.join()
    b.close()


class OnlyRead:
    """A file object with read() and nothing else (no seek, tell, name)."""

    def __init__(self, data):
        self._f = io.BytesIO(data)

    def read(self, n=-1):
        return self._f.read(n)


def test_a_minimal_file_object(data):
    with gzfleet.open(OnlyRead(gzip.compress(data))) as f:
        assert f.read(10) == data[:10]
        assert f.read() == data[10:]


def written(buf):
    return gzip.decompress(buf.getvalue())


def test_write_calls_side_by_side(data):
    ours_buf, theirs_buf = io.BytesIO(), io.BytesIO()
    ours = gzfleet.GzipFile(fileobj=ours_buf, mode="wb", mtime=0)
    theirs = gzip.GzipFile(fileobj=theirs_buf, mode="wb", mtime=0)
    for f in (ours, theirs):
        assert f.writable() and not f.readable() and f.seekable()
        assert f.mode == gzip.WRITE
    steps = [
        lambda f: f.write(data[:1000]),
        lambda f: f.write(bytearray(data[1000:5000])),
        lambda f: f.write(memoryview(data)[5000:200_000]),
        lambda f: f.write(array.array("H", range(1000))),
        lambda f: f.write(b""),
        lambda f: f.tell(),
        lambda f: f.flush(),
        lambda f: f.seek(300_000),
        lambda f: f.seek(1000, io.SEEK_CUR),
        lambda f: f.tell(),
        lambda f: f.write(data[:70_000]),
    ]
    for step in steps:
        assert step(ours) == step(theirs)
    with pytest.raises(OSError):
        ours.seek(0)
    with pytest.raises(ValueError):
        ours.seek(0, io.SEEK_END)
    for op in ("read", "read1", "peek"):
        with pytest.raises(OSError) as e:
            getattr(ours, op)(1)
        assert e.value.errno == 9  # EBADF, as gzip
    ours.close()
    theirs.close()
    assert ours.closed and theirs.closed
    ours.close()  # twice is harmless
    with pytest.raises(ValueError):
        ours.write(b"x")
    assert written(ours_buf) == written(theirs_buf)


def test_flush_is_a_sync_point(data):
    buf = io.BytesIO()
    f = gzfleet.GzipFile(fileobj=buf, mode="wb")
    f.write(data[:123_456])
    f.flush()
    # Everything written so far decodes from what is in the file now, without the end.
    d = __import__("zlib").decompressobj(31)
    assert d.decompress(buf.getvalue()) == data[:123_456]
    f.write(data[123_456:200_000])
    f.close()
    assert gzip.decompress(buf.getvalue()) == data[:200_000]


def make_members(data):
    return (gzip.compress(data[:100_000], mtime=11) + gzfleet.compress(data[100_000:], mtime=22)
            + gzip.compress(b"", mtime=33))


def test_read_calls_side_by_side(tmp_path, data):
    p = tmp_path / "m.gz"
    p.write_bytes(make_members(data))
    with open(p, "rb") as raw_a, open(p, "rb") as raw_b:
        ours = gzfleet.GzipFile(fileobj=raw_a)
        theirs = gzip.GzipFile(fileobj=raw_b)
        assert ours.name == theirs.name == str(p)
        assert ours.mode == theirs.mode == gzip.READ
        assert ours.fileno() == raw_a.fileno()
        assert ours.readable() and ours.seekable() and not ours.writable()
        same = [
            lambda f: f.read(7),
            lambda f: f.readline(),
            lambda f: f.readline(5),
            lambda f: f.tell(),
            lambda f: bytes(_readinto(f, 33)),
            lambda f: f.seek(3),
            lambda f: f.read(100),
            lambda f: f.seek(150_000),
            lambda f: f.read(10),
            lambda f: f.seek(10, io.SEEK_CUR),
            lambda f: f.read(3),
            lambda f: f.seek(99_990),  # across the member boundary, backwards
            lambda f: f.read(20),
            lambda f: f.seek(-5, io.SEEK_END),
            lambda f: f.read(),
            lambda f: f.read(),
            lambda f: f.seek(0),
            lambda f: [next(f), next(f)],
            lambda f: f.readlines()[-1],
        ]
        for i, step in enumerate(same):
            assert step(ours) == step(theirs), "step %d" % i
        # read1 and peek may return any non-empty amount: what they return must be
        # what comes next.
        ours.seek(1000)
        peeked = ours.peek(10)
        assert peeked and data.startswith(peeked, 1000)
        got = ours.read1(50)
        assert 0 < len(got) <= 50 and data.startswith(got, 1000)
        b = bytearray(20)
        n = ours.readinto1(b)
        assert 0 < n and data.startswith(bytes(b[:n]), 1000 + len(got))
        for f in (ours, theirs):
            with pytest.raises(OSError) as e:
                f.write(b"x")
            assert e.value.errno == 9
            f.close()
            assert f.closed
            with pytest.raises(ValueError):
                f.read()


def _readinto(f, n):
    b = bytearray(n)
    return b[:f.readinto(b)]


def test_iteration_and_with(tmp_path, data):
    p = tmp_path / "a.gz"
    with gzfleet.open(p, "wb") as f:
        f.write(data)
    with gzfleet.open(p) as f, gzip.open(p) as g:
        assert list(f) == list(g)
    assert f.closed


def test_header_name_as_gzip(tmp_path):
    for name in ("plain.txt.gz", "naïve.gz", "☃.gz", "noext"):
        ours, theirs = tmp_path / "o", tmp_path / "t"
        ours.mkdir(exist_ok=True)
        theirs.mkdir(exist_ok=True)
        with gzfleet.open(ours / name, "wb") as f:
            f.write(b"x")
        with gzip.GzipFile(theirs / name, "wb", mtime=0) as f:
            f.write(b"x")
        assert _fname((ours / name).read_bytes()) == _fname((theirs / name).read_bytes())


def _fname(gz):
    if not gz[3] & 8:
        return None
    return gz[10:gz.index(b"\0", 10)]


def test_write_mtime_default_is_now_and_read_back(tmp_path):
    import time
    p = tmp_path / "a.gz"
    before = int(time.time())
    with gzfleet.open(p, "wb") as f:
        f.write(b"x")
    stamp = int.from_bytes(p.read_bytes()[4:8], "little")
    assert before <= stamp <= int(time.time()) + 1
    with gzfleet.GzipFile(p) as f:
        f.read()
        assert f.mtime == stamp


def test_repr_names_the_file(tmp_path):
    with gzfleet.open(tmp_path / "a.gz", "wb") as f:
        assert repr(f).startswith("<gzip ") and "a.gz" in repr(f)


def test_invalid_level(tmp_path):
    with pytest.raises(ValueError):
        gzfleet.open(tmp_path / "a.gz", "wb", compresslevel=13)
    assert not (tmp_path / "a.gz").exists() or (tmp_path / "a.gz").stat().st_size == 0
