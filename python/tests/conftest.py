"""Shared fixtures: sample data, and the gzfleet commands (target/release) the tests
compare against or run as workers, built if a clone has not built them yet."""

import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("GZFLEET_BIN_DIR", ROOT / "target" / "release"))


def sample(size, seed=1):
    """Compressible data that is not trivial: words, numbers and a little noise."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(500)]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choice(words) for _ in range(12))
        out += b" %d\n" % rng.randint(0, 10**9)
        if rng.random() < 0.02:
            out += rng.randbytes(64)
    return bytes(out[:size])


@pytest.fixture(scope="session")
def data():
    return sample(3 * 1024 * 1024 + 12345)


def _binary(name):
    path = BIN / name
    if not path.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "gzfleet", "--bin",
                        "gzfleet-worker"], cwd=ROOT, check=True)
    return str(path)


@pytest.fixture(scope="session")
def gzfleet_cli():
    return _binary("gzfleet")


class Worker:
    """A real gzfleet-worker process on loopback, on a port it picks."""

    def __init__(self, exe, *args, env=None):
        self.proc = subprocess.Popen([exe, "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True)
        line = self.proc.stdout.readline()
        self.address = next((w for w in line.split() if w.startswith("127.0.0.1:")), None)
        if self.address is None:
            self.stop()
            raise RuntimeError("gzfleet-worker printed no address: %r %s"
                               % (line, self.proc.stderr.read()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def start_worker():
    exe = _binary("gzfleet-worker")
    started = []

    def start(*args, env=None):
        w = Worker(exe, *args, env=env)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()
