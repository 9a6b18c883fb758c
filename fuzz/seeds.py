#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/corpus/<target>/: a handful of small inputs
in each target's format, valid and malformed, so that a short run starts from the cases
that matter instead of from nothing. Run it again only to change the seeds; the files
it writes are committed (keep them small: the whole corpus stays under 200 KB)."""

import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SYNC = b"\x00\x00\xff\xff"


def raw(data, level=6, sync=False):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    out = c.compress(data)
    return out + (c.flush(zlib.Z_SYNC_FLUSH) if sync else c.flush())


def header(flags=0, extra=None, name=None, comment=None, hcrc=None):
    flags |= (4 if extra is not None else 0) | (8 if name is not None else 0)
    flags |= (16 if comment is not None else 0) | (2 if hcrc is not None else 0)
    h = bytes([0x1F, 0x8B, 8, flags]) + struct.pack("<I", 1700000000) + bytes([0, 3])
    if extra is not None:
        h += struct.pack("<H", len(extra)) + extra
    for field in (name, comment):
        if field is not None:
            h += field + b"\0"
    if hcrc is not None:
        h += struct.pack("<H", (zlib.crc32(h) & 0xFFFF) ^ (0 if hcrc else 1))
    return h


def trailer(data):
    return struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def member(data, level=6, head=None):
    return (head or header()) + raw(data, level) + trailer(data)


def gzfleet_like(data, chunk=700):
    """Chunks deflated apart, each ending in a sync flush, then an empty final block:
    the shape gzfleet writes."""
    body = b"".join(raw(data[i : i + chunk], 6, True) for i in range(0, len(data), chunk))
    return header() + body + b"\x03\x00" + trailer(data)


def text(n):
    words = b"gzip chunk worker deflate stream member trailer window \n".split(b" ")
    out, i = b"", 0
    while len(out) < n:
        out += words[(i * 7 + i // 3) % len(words)] + b" "
        i += 1
    return out[:n]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read_gzip_seeds():
    t = text(3000)
    good = member(t)
    n = len(good)
    flip = lambda b, i, x: b[:i] + bytes([b[i] ^ x]) + b[i + 1 :]
    seeds = {
        "good": good,
        "stored": member(t[:500], level=0),
        "level9": member(bytes(range(256)) * 2, level=9),
        "gzfleet-like": gzfleet_like(t),
        "members": member(b"first\n") + member(b"") + member(t[:800]),
        "all-fields": member(t[:300], head=header(1, b"AB\x02\x00xy", b"name.txt", b"a comment", True)),
        "small-bomb": member(bytes(1 << 20), level=9),
        "hcrc-wrong": member(t[:300], head=header(hcrc=False)),
        "reserved-flag": member(t[:300], head=header(0x20)),
        "xlen-short": header(4)[:-2] + b"\xff\xff" + b"abc",
        "name-unterminated": header() [:3] + b"\x08" + header()[4:] + b"name-without-end",
        "comment-unterminated": header()[:3] + b"\x10" + header()[4:] + b"comment",
        "cut-data": good[: n // 2],
        "cut-trailer": good[:-3],
        "crc-flipped": flip(good, n - 8, 1),
        "length-flipped": flip(good, n - 1, 0x80),
        "block-type": flip(good, 10, 0x06),
        "garbage": good + b"not gzip",
        "zeros": good + bytes(64),
        "lone-byte": good + b"\x1f",
        "magic-then-method": good + b"\x1f\x8bxx",
        "empty": b"",
        "not-gzip": b"PK\x03\x04 not gzip at all",
        # Found by this target: a distance too far back that zlib-rs's fast path
        # reported as "repeated call with bad state".
        "found-distance-too-far": bytes.fromhex(
            "1f8b080000 2aa8a0820a 8201000000 000a2aa801 0000000000 00".replace(" ", "")
        ),
    }
    # The first byte is how many bytes each read returns (0: all at once).
    for i, (name, body) in enumerate(sorted(seeds.items())):
        write("read_gzip", name, bytes([(0, 1, 7, 200)[i % 4]]) + body)


def check_answer_seeds():
    def answer(flags, level, data, dictionary=b"", crc=None, length=None, rest=b""):
        flags |= (4 if crc is not None else 0) | (8 if length is not None else 0)
        out = bytes([flags, level]) + struct.pack("<HH", len(data), len(dictionary))
        if crc is not None:
            out += struct.pack("<I", crc)
        if length is not None:
            out += struct.pack("<H", length + 32768)
        return out + data + dictionary + rest

    VERIFY, CRC = 1, 2
    t = text(2000)
    d = text(4000)[1000:]
    sync_end = t[:200] + SYNC
    stored_len = len(sync_end) + 100
    open_block = b"\x00" + struct.pack("<HH", stored_len, stored_len ^ 0xFFFF) + sync_end[:-4]
    seeds = {
        "honest-verify": answer(VERIFY | CRC, 6, t),
        "honest-dictionary": answer(VERIFY | CRC, 6, t[:700], d),
        "honest-light": answer(CRC, 1, t),
        "honest-stored": answer(VERIFY, 0, bytes(range(256)) * 4),
        "edited": answer(VERIFY | CRC, 6, t, rest=b"\x05\x00\x40\x20\x00\x01"),
        "wrong-crc": answer(CRC, 6, t, crc=0x12345678),
        "wrong-length": answer(VERIFY | CRC, 6, t, length=1),
        # Mode 1: arbitrary bytes, here another deflater's honest answer.
        "other-deflater": answer(VERIFY | CRC | 0x10, 6, t, rest=raw(t, 9, True)),
        # Mode 2: a stored block left open past the chunk's end (whose last bytes
        # look like a sync flush): right bytes, but it would swallow what follows.
        "open-stored-block": answer(VERIFY | CRC | 0x20, 6, sync_end, rest=open_block),
        # Mode 3: the honest answer cut short, then a sync flush.
        "cut-honest": answer(VERIFY | CRC | 0x30, 6, t, rest=b"\x40\x00"),
    }
    for name, body in sorted(seeds.items()):
        write("check_answer", name, body)


def check_request_seeds():
    # Protobuf by hand (no generated code needed): varint and length-delimited fields.
    def varint(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def num(field, n):
        return varint(field << 3) + varint(n)

    def blob(field, b):
        return varint(field << 3 | 2) + varint(len(b)) + b

    def request(job=b"job-1", level=6, independent=0, dictionary=b"", data=None, rng=None):
        m = blob(1, job) + num(2, 3) + num(3, 3 << 17) + num(4, level) + num(5, independent)
        if dictionary:
            m += blob(6, dictionary)
        if data is not None:
            m += blob(7, data)
        if rng is not None:
            m += blob(8, rng)
        return m

    def range_ref(path=b"data/big.tar", length=4096, etag=b""):
        r = blob(1, path) + num(2, 1 << 20) + num(3, length) + num(4, 1 << 30) + num(5, 1700000000)
        return r + (blob(6, etag) if etag else b"")

    chunk = text(3000)
    seeds = {
        "push": request(dictionary=text(900), data=chunk),
        "push-independent": request(independent=1, data=chunk),
        "pull": request(rng=range_ref()),
        "pull-object": request(rng=range_ref(b"s3://bucket/key", etag=b'"0123abcd"')),
        "level-10": request(level=10, data=chunk),
        "no-chunk": request(),
        "independent-with-dictionary": request(independent=1, dictionary=b"x", data=chunk),
        "pull-with-dictionary": request(dictionary=b"x", rng=range_ref()),
    }
    for i, (name, body) in enumerate(sorted(seeds.items())):
        # The first byte picks the worker's --max-chunk.
        write("check_request", name, bytes([i % 4]) + body)


def deflate_blocks_seeds():
    data = text(6000)
    noise = bytes((i * 131 + (i >> 3) * 7) & 0xFF for i in range(3000))
    seeds = {
        "stored": raw(noise, 0),
        "fixed": raw(b"hello, hello, hello"),
        "dynamic": raw(data),
        "level-1": raw(data + noise, 1),
        "level-9": raw(data + noise + data, 9),
        "empty": raw(b""),
        "one-byte": raw(b"x"),
        "sync-then-final": raw(data[:2000], 6, True) + raw(data[2000:]),
        "no-final": raw(data, 6, True),
        "type-3": b"\x07\x00",
    }
    for name, body in seeds.items():
        write("deflate_blocks", name, body)


def read_legacy_seeds():
    import heapq
    import io
    import zipfile

    def lzw(flags, codes, bits=9):
        out, acc, n = bytearray([flags]), 0, 0
        for c in codes:
            acc |= c << n
            n += bits
            while n >= 8:
                out.append(acc & 0xFF)
                acc >>= 8
                n -= 8
        return bytes(out + (bytes([acc]) if n else b""))

    def pack(data):
        # As coordinator/src/testing.rs encodes it (gzip's unpack.c documents it).
        freq = {b: data.count(b) for b in set(data)}
        freq[256] = 0
        heap = [(f, s, [s]) for s, f in freq.items()]
        heapq.heapify(heap)
        length = dict.fromkeys(freq, 0)
        order = 257
        while len(heap) > 1:
            fa, _, a = heapq.heappop(heap)
            fb, _, b = heapq.heappop(heap)
            for s in a + b:
                length[s] += 1
            heapq.heappush(heap, (fa + fb, order, a + b))
            order += 1
        top = max(length.values())
        deep = next(s for s in sorted(length) if length[s] == top and s != 256)
        length[deep], length[256] = length[256], length[deep]
        at = lambda l: sorted((s for s in length if length[s] == l), key=lambda s: (s == 256, s))
        parents, nodes = [0] * (top + 1), 0
        for l in range(top, 0, -1):
            nodes >>= 1
            parents[l] = nodes
            nodes += len(at(l))
        code, out = {}, bytearray(struct.pack(">I", len(data)) + bytes([top]))
        for l in range(1, top + 1):
            out.append(len(at(l)) - (2 if l == top else 0))
            for i, s in enumerate(at(l)):
                code[s] = (parents[l] + i, l)
        out += bytes(s for l in range(1, top + 1) for s in at(l) if s != 256)
        acc, n = 0, 0
        for s in list(data) + [256]:
            c, l = code[s]
            acc, n = (acc << l) | c, n + l
            while n >= 8:
                n -= 8
                out.append((acc >> n) & 0xFF)
        if n:
            out.append((acc << (8 - n)) & 0xFF)
        return bytes(out)

    def zip_of(data, method, streamed=False):
        raw = io.BytesIO()
        target = raw if not streamed else type("Unseekable", (io.RawIOBase,), {
            "writable": lambda self: True, "write": lambda self, b: raw.write(b)})()
        with zipfile.ZipFile(target, "w", method) as z:
            z.writestr("name", data)
        return raw.getvalue()[4:]

    t = text(2000)
    seeds = {
        "z-block": (0, lzw(0x90, [97, 98, 257, 258, 256, 0, 0, 0, 99, 257])),
        "z-kwkwk": (0, lzw(0x90, [97, 257, 258])),
        "z-nonblock": (0, lzw(0x10, [97, 98, 256, 257])),
        "z-corrupt": (0, lzw(0x90, [97, 300])),
        "z-17bits": (0, b"\x91abc"),
        "pack": (1, pack(t)),
        "pack-bytes": (1, pack(bytes(range(256)) * 3)),
        "pack-cut": (1, pack(t)[:40]),
        "zip-deflated": (2, zip_of(t, zipfile.ZIP_DEFLATED)),
        "zip-stored": (2, zip_of(t[:500], zipfile.ZIP_STORED)),
        "zip-streamed": (2, zip_of(t, zipfile.ZIP_DEFLATED, streamed=True)),
        "pack-round-trip": (3, t[:700]),
    }
    # The first byte: the format (low two bits) and how many bytes each read returns.
    for i, (name, (kind, body)) in enumerate(sorted(seeds.items())):
        write("read_legacy", name, bytes([kind | (0, 4, 28, 200)[i % 4]]) + body)


read_gzip_seeds()
read_legacy_seeds()
check_answer_seeds()
check_request_seeds()
deflate_blocks_seeds()
