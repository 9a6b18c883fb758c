"""An independent gRPC client for gzfleet-worker: Python's grpcio, with stubs that
grpcio-tools generated from proto/gzfleet.proto. Calls Info, Compress (two chunks, the
second primed with the first's last 32 KiB), the standard health check, and an
oversized Compress; wraps the deflate data in a gzip header and trailer itself. Then
pull mode: the same two chunks named as ranges of INPUT below the worker's --root
(ROOT), and paths that try to leave the root.

usage: interop_client.py WORKER_ADDR INPUT OUTPUT_GZ ROOT
"""

import os
import struct
import sys
import zlib

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import gzfleet_pb2
import gzfleet_pb2_grpc


def main():
    addr, input_path, output_path, root = sys.argv[1:5]
    data = open(input_path, "rb").read()
    channel = grpc.insecure_channel(
        addr,
        options=[
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.max_receive_message_length", 64 << 20),
        ],
    )
    worker = gzfleet_pb2_grpc.WorkerStub(channel)

    info = worker.Info(gzfleet_pb2.InfoRequest(), timeout=10)
    assert info.slots >= 1, info
    assert info.engine, info
    print(f"info: version={info.version} engine={info.engine} slots={info.slots} "
          f"max_chunk={info.max_chunk_bytes}")

    health = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="gzfleet.v1.Worker"), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING, health

    half = len(data) // 2
    chunks = [(0, data[:half], b""), (half, data[half:], data[max(0, half - 32768):half])]
    deflate = b""
    for index, (offset, chunk, dictionary) in enumerate(chunks):
        reply = worker.Compress(
            gzfleet_pb2.CompressRequest(
                job_id="python-interop", chunk_index=index, offset=offset, level=6,
                dictionary=dictionary, data=chunk),
            timeout=30)
        assert reply.input_length == len(chunk), (reply.input_length, len(chunk))
        assert reply.crc32 == zlib.crc32(chunk), "worker CRC differs from zlib's"
        assert reply.deflate.endswith(b"\x00\x00\xff\xff"), "no sync flush at the end"
        deflate += reply.deflate

    # gzip header (no name, no mtime, Unix), the chunks, the final empty block, trailer.
    header = b"\x1f\x8b\x08\x00" + b"\x00\x00\x00\x00" + b"\x00\x03"
    trailer = b"\x03\x00" + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    with open(output_path, "wb") as out:
        out.write(header + deflate + trailer)

    try:
        worker.Compress(
            gzfleet_pb2.CompressRequest(level=6, data=b"x" * (info.max_chunk_bytes + 1)),
            timeout=30)
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e.code()
        assert "limit" in e.details(), e.details()
        print(f"oversized chunk refused: {e.code().name}: {e.details()}")
    else:
        raise AssertionError("an oversized chunk was accepted")

    pull(worker, os.path.basename(input_path), os.path.join(root, os.path.basename(input_path)),
         chunks, deflate)


def pull(worker, name, path, chunks, pushed):
    """The same chunks read by the worker itself: the same deflate bytes."""
    st = os.stat(path)

    def ref(p, offset, length):
        return gzfleet_pb2.RangeRef(path=p, offset=offset, length=length,
                                    size=st.st_size, mtime_ns=st.st_mtime_ns)

    pulled = b""
    for index, (offset, chunk, _) in enumerate(chunks):
        reply = worker.Compress(
            gzfleet_pb2.CompressRequest(job_id="python-pull", chunk_index=index, offset=offset,
                                        level=6, range=ref(name, offset, len(chunk))),
            timeout=30)
        assert reply.crc32 == zlib.crc32(chunk), "pulled CRC differs"
        pulled += reply.deflate
    assert pulled == pushed, "pulled chunks compress differently from pushed ones"
    print("pulled chunks: same bytes as pushed")

    for escape, code in [("/etc/passwd", grpc.StatusCode.INVALID_ARGUMENT),
                         ("../" + name, grpc.StatusCode.INVALID_ARGUMENT)]:
        try:
            worker.Compress(gzfleet_pb2.CompressRequest(level=6, range=ref(escape, 0, 1)),
                            timeout=30)
        except grpc.RpcError as e:
            assert e.code() == code, (escape, e.code())
            assert escape in e.details(), e.details()
            marked = dict(e.trailing_metadata()).get("gzfleet-input-error")
            assert marked == "1", e.trailing_metadata()
            print(f"escape refused: {escape}: {e.code().name}: {e.details()}")
        else:
            raise AssertionError(f"{escape} was read")


if __name__ == "__main__":
    main()
