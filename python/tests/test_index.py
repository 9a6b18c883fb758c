"""Reading with an index: the .gzi beside the file (or index=PATH) makes reading
parallel and seeks direct; index=True on writing writes one."""

import gzip
import io
import os
import random
import shutil
import subprocess

import pytest

import gzfleet

from conftest import sample


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    d = tmp_path_factory.mktemp("idx")
    data = sample(24 * 1024 * 1024, seed=41)
    p = d / "big.gz"
    with gzfleet.open(p, "wb", index=True, block_size=1024 * 1024) as f:
        f.write(data)
    return p, data


def test_index_true_writes_the_gzi_beside(indexed):
    p, data = indexed
    gzi = p.with_name("big.gzi")
    assert gzi.exists() and gzi.stat().st_size > 0
    assert gzip.decompress(p.read_bytes()) == data


def test_random_seeks_with_the_index_beside(indexed):
    p, data = indexed
    rng = random.Random(5)
    with gzfleet.open(p) as f:
        for _ in range(40):
            at = rng.randrange(len(data))
            n = rng.randrange(1, 100_000)
            assert f.seek(at) == at
            assert f.read(n) == data[at:at + n]
            assert f.tell() == min(at + n, len(data))
        f.seek(len(data) - 10)
        assert f.read() == data[-10:]


def test_index_path_given(indexed, tmp_path):
    p, data = indexed
    moved = tmp_path / "elsewhere.gzi"
    shutil.copy(p.with_name("big.gzi"), moved)
    copy = tmp_path / "copy.gz"
    shutil.copy(p, copy)
    with gzfleet.open(copy, index=moved) as f:
        f.seek(20_000_000)
        assert f.read(1000) == data[20_000_000:20_001_000]
    with gzfleet.open(copy, index=str(moved)) as f:
        assert f.read() == data


def test_text_mode_over_an_indexed_file(indexed):
    p, data = indexed
    with gzfleet.open(p, "rt", encoding="latin-1") as f:
        f.seek(0)
        first = f.readline()
    assert first.encode("latin-1") == data[:data.index(b"\n") + 1]


def test_index_refused_without_a_name():
    with pytest.raises(ValueError):
        gzfleet.GzipFile(fileobj=io.BytesIO(), mode="wb", index=True)


def test_index_path_for_a_file_object(tmp_path):
    buf = io.BytesIO()
    data = sample(3 * 1024 * 1024, seed=42)
    with gzfleet.GzipFile(fileobj=buf, mode="wb", index=str(tmp_path / "x.gzi")) as f:
        f.write(data)
    (tmp_path / "x.gz").write_bytes(buf.getvalue())
    with gzfleet.open(tmp_path / "x.gz", index=tmp_path / "x.gzi") as f:
        f.seek(2_000_000)
        assert f.read(10) == data[2_000_000:2_000_010]


def test_rapidgzip_reads_our_index(indexed, tmp_path):
    p, data = indexed
    out = subprocess.run(["rapidgzip", "-d", "-c", "--import-index", str(p.with_name("big.gzi")),
                          str(p)], capture_output=True, check=True).stdout
    assert out == data


def test_which_index_is_used(indexed, tmp_path):
    p, data = indexed
    with gzfleet.open(p) as f:
        assert f._raw._native.indexed()  # the .gzi beside
    with gzfleet.open(p, index=False) as f:
        assert not f._raw._native.indexed()
        f.seek(5_000_000)  # still seekable: by reading
        assert f.read(10) == data[5_000_000:5_000_010]
        f.seek(100)
        assert f.read(10) == data[100:110]
    with open(p, "rb") as raw, gzfleet.open(raw) as f:  # a file object: a stream
        assert not f._raw._native.indexed()
        assert f.read() == data
