"""Cluster mode: real gzfleet-worker processes on loopback compress, and the member is
the one the embedded pool writes (deterministic), read back by the stdlib."""

import gzip
import io

import pytest

import gzfleet

from conftest import sample


def test_workers_write_the_pools_bytes(start_worker):
    data = sample(5 * 1024 * 1024 + 17, seed=31)
    a, b = start_worker("--slots", "1"), start_worker("--slots", "1")
    out = io.BytesIO()
    with gzfleet.GzipFile(fileobj=out, mode="wb", mtime=0, workers=[a.address, b.address],
                          block_size=256 * 1024) as f:
        for i in range(0, len(data), 300_000):
            f.write(data[i:i + 300_000])
    assert gzip.decompress(out.getvalue()) == data
    pool = io.BytesIO()
    with gzfleet.GzipFile(fileobj=pool, mode="wb", mtime=0, block_size=256 * 1024) as f:
        f.write(data)
    assert out.getvalue() == pool.getvalue()


def test_open_with_workers_in_text_mode(start_worker, tmp_path):
    w = start_worker()
    p = tmp_path / "t.gz"
    lines = ["line %d ünï\n" % i for i in range(200_000)]
    with gzfleet.open(p, "wt", encoding="utf-8", workers=[w.address]) as f:
        f.writelines(lines)
    with gzip.open(p, "rt", encoding="utf-8") as f:
        assert f.readlines() == lines


def test_token_from_the_environment_and_a_file(start_worker, tmp_path, monkeypatch):
    secret = tmp_path / "token"
    secret.write_text("s3cret-token-for-the-test\n")
    w = start_worker("--token-file", str(secret))
    data = sample(1024 * 1024, seed=32)
    with gzfleet.open(tmp_path / "a.gz", "wb", workers=[w.address],
                      token_file=str(secret)) as f:
        f.write(data)
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == data
    monkeypatch.setenv("GZFLEET_TOKEN", "s3cret-token-for-the-test")
    with gzfleet.open(tmp_path / "b.gz", "wb", workers=[w.address]) as f:
        f.write(data)
    # The same member but for the name in the header ("a", "b").
    assert (tmp_path / "b.gz").read_bytes()[12:] == (tmp_path / "a.gz").read_bytes()[12:]
