"""The package writes what the gzfleet command writes: byte for byte, for the same
settings (level, block size, name, time), and the same index."""

import gzip
import os
import subprocess

import pytest

import gzfleet

from conftest import sample


@pytest.fixture(scope="module")
def input_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    p = d / "data.bin"
    p.write_bytes(sample(6 * 1024 * 1024 + 999, seed=21))
    os.utime(p, (1_600_000_000, 1_600_000_000))
    return p


@pytest.mark.parametrize("level", [1, 6, 9])
def test_compress_is_the_commands_stdout(gzfleet_cli, input_file, level):
    data = input_file.read_bytes()
    cli = subprocess.run([gzfleet_cli, "-c", "-n", "-%d" % level, str(input_file)],
                         capture_output=True, check=True).stdout
    assert gzfleet.compress(data, level, mtime=0) == cli
    assert gzip.decompress(cli) == data


@pytest.mark.parametrize("block", ["128K", "4M"])
def test_gzipfile_is_the_commands_file(gzfleet_cli, input_file, tmp_path, block):
    subprocess.run([gzfleet_cli, "-k", "-f", "-b", block, str(input_file)], check=True)
    cli = input_file.with_name("data.bin.gz").read_bytes()
    ours = tmp_path / "data.bin.gz"
    size = {"128K": 128 * 1024, "4M": 4 * 1024 * 1024}[block]
    with gzfleet.GzipFile(ours, "wb", mtime=int(input_file.stat().st_mtime),
                          block_size=size) as f:
        data = input_file.read_bytes()
        for i in range(0, len(data), 100_000):  # cut unlike the blocks: same bytes
            f.write(data[i:i + 100_000])
    assert ours.read_bytes() == cli


def test_index_is_the_commands_index(gzfleet_cli, input_file, tmp_path):
    subprocess.run([gzfleet_cli, "-k", "-f", "--index", "--index-span", "1M",
                    str(input_file)], check=True)
    cli_gz = input_file.with_name("data.bin.gz")
    cli_gzi = input_file.with_name("data.bin.gzi")
    ours = tmp_path / "data.bin.gz"
    with gzfleet.GzipFile(ours, "wb", mtime=int(input_file.stat().st_mtime),
                          index=True) as f:
        f.write(input_file.read_bytes())
    assert ours.read_bytes() == cli_gz.read_bytes()
    assert (tmp_path / "data.bin.gzi").exists()
    # What the command's index reader makes of ours: it reads it back in parallel.
    out = subprocess.run([gzfleet_cli, "-d", "-c", str(ours)], capture_output=True,
                         check=True).stdout
    assert out == input_file.read_bytes()
    assert cli_gzi.exists()
