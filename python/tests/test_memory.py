"""Memory stays bounded whatever the caller writes: 2 GiB in 1 KiB writes through
GzipFile take no more memory than a few megabytes do."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, random, resource, sys, gzfleet
    total = int(sys.argv[1])
    rng = random.Random(3)
    # Compressible, not trivially: 1 MiB of words, written 1 KiB at a time.
    words = [bytes(rng.choice(b"abcdefghij") for _ in range(rng.randint(2, 8))) for _ in range(300)]
    block = b" ".join(rng.choice(words) for _ in range(200_000))[:1 << 20]
    pieces = [block[i:i + 1024] for i in range(0, len(block), 1024)]
    with open(os.devnull, "wb") as sink:
        with gzfleet.GzipFile(fileobj=sink, mode="wb", compresslevel=1, threads=2) as f:
            for i in range(total // 1024):
                f.write(pieces[i % len(pieces)])
            assert f.tell() == total
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
""")


def peak_mib(total):
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(total)], capture_output=True,
                       text=True, timeout=900, check=True)
    return int(r.stdout.strip())


def test_writing_in_1k_writes_is_bounded():
    small = peak_mib(8 << 20)
    big = peak_mib(2 << 30)
    # 256 times the data: the same memory, give or take the pool's window.
    assert big < small + 64, "8 MiB: %d MiB peak, 2 GiB: %d MiB peak" % (small, big)
    assert big < 400, big
