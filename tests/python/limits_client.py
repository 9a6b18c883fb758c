"""Sends a gzfleet-worker what its limits refuse, from outside: Python grpcio with stubs
that grpcio-tools generated from proto/gzfleet.proto, and a raw HTTP/2 client (the h2
package) for what grpcio cannot send: a body that never comes, more streams than a
connection may open, a hundred connections at once. Driven by tests/e2e/limits.rs.

usage:
  limits_client.py refusals ADDR MAX_CHUNK  each per-request limit, at it and one past
  limits_client.py full ADDR PERMITS         a worker whose permits are all taken
  limits_client.py streams ADDR MAX_STREAMS  streams per connection
  limits_client.py flood ADDR N SIZE         N Compress requests of SIZE bytes at once,
                                             each on its own connection

Each check passed prints one line; the first that fails raises (exit status 1).
"""

import collections
import socket
import struct
import sys
import threading
import urllib.parse
import zlib

import grpc
import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

import gzfleet_pb2
import gzfleet_pb2_grpc

COMPRESS = "/gzfleet.v1.Worker/Compress"
INFO = "/gzfleet.v1.Worker/Info"
RESOURCE_EXHAUSTED = 8
REFUSED_STREAM = 7


def framed(message):
    """A gRPC message on the wire: uncompressed flag, big-endian length, the bytes."""
    return b"\x00" + struct.pack(">I", len(message)) + message


# -- grpcio: every limit of a single request -------------------------------------------

def refusals(addr, max_chunk):
    channel = grpc.insecure_channel(addr, options=[
        ("grpc.max_send_message_length", -1),
        ("grpc.max_receive_message_length", -1),
    ])
    worker = gzfleet_pb2_grpc.WorkerStub(channel)
    request_limit = max_chunk + 32768 + 4096

    def ok(name, **fields):
        reply = worker.Compress(gzfleet_pb2.CompressRequest(**fields), timeout=60)
        assert reply.deflate.endswith(b"\x00\x00\xff\xff"), name
        print(f"accepted at the limit: {name}")

    def refused(name, code, names, call=None, input_error=False, **fields):
        try:
            if call is None:
                worker.Compress(gzfleet_pb2.CompressRequest(**fields), timeout=60)
            else:
                call()
        except grpc.RpcError as e:
            assert e.code() == code, (name, e.code(), e.details())
            assert names in e.details(), (name, names, e.details())
            marked = dict(e.trailing_metadata() or ()).get("gzfleet-input-error") == "1"
            assert marked == input_error, (name, e.trailing_metadata())
            print(f"refused: {name}: {e.code().name}: {e.details()}")
        else:
            raise AssertionError(f"{name} was accepted")

    pull = lambda **r: gzfleet_pb2.RangeRef(**{"offset": 0, "length": 1000, "size": 1000, **r})
    invalid = grpc.StatusCode.INVALID_ARGUMENT

    ok("level 9, dictionary of 32768 bytes, job id of 256 bytes, chunk of --max-chunk",
       level=9, dictionary=b"d" * 32768, job_id="j" * 256, data=b"x" * max_chunk)
    refused("level", invalid, "out of range 0-9", level=10, data=b"x")
    refused("dictionary", invalid, "limit of 32768 bytes", level=6, dictionary=b"d" * 32769,
            data=b"x")
    refused("chunk", invalid, f"limit of {max_chunk} bytes (gzfleet-worker --max-chunk)",
            level=6, data=b"x" * (max_chunk + 1))
    refused("job id", invalid, "limit of 256 bytes", level=6, job_id="j" * 257, data=b"x")
    refused("path", invalid, "limit of 4096 bytes", input_error=True, level=6,
            range=pull(path="p" * 4097))
    refused("etag", invalid, "limit of 1024 bytes", input_error=True, level=6,
            range=pull(path="s3://bucket/key", etag="e" * 1025))
    # Longer than any chunk this worker takes, dictionary and framing included: refused
    # on the message's 5-byte prefix, before the worker reads the rest.
    refused("message", invalid, f"limit of {request_limit} bytes", level=6,
            data=b"x" * (request_limit + 1))
    # Info takes no chunk: its requests are held to a few KiB. Sent as raw bytes (an
    # InfoRequest has no fields to fill); refused on the length alone.
    info = channel.unary_unary(INFO, request_serializer=None, response_deserializer=None)
    refused("Info message", invalid, "limit of 4096 bytes for calls other than Compress",
            call=lambda: info(b"i" * 5000, timeout=60))
    info(b"", timeout=60)
    print("accepted: an empty Info request")


# -- raw HTTP/2 --------------------------------------------------------------------------

class Conn(h2.connection.H2Connection):
    """h2's connection, able to open more streams than the server allows when asked to:
    the point is to see what the server does then."""

    ignore_stream_limit = False

    @property
    def open_outbound_streams(self):
        if self.ignore_stream_limit:
            return 0
        return super().open_outbound_streams


class Stream:
    def __init__(self):
        self.headers = {}
        self.trailers = {}
        self.data = bytearray()
        self.ended = False
        self.reset = None
        self.window_updates = 0

    @property
    def done(self):
        return self.ended or self.reset is not None

    def status(self):
        """(grpc-status, grpc-message): from the trailers, or from the headers of a
        trailers-only response."""
        fields = self.trailers or self.headers
        code = fields.get(b"grpc-status")
        message = urllib.parse.unquote(fields.get(b"grpc-message", b"").decode())
        return (None if code is None else int(code), message)


class Raw:
    """One HTTP/2 connection to the worker, on a blocking socket, driven by hand."""

    def __init__(self, addr, timeout=120):
        host, port = addr.rsplit(":", 1)
        self.addr = addr
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.conn = Conn(config=h2.config.H2Configuration(client_side=True,
                                                          header_encoding=None))
        self.streams = collections.defaultdict(Stream)
        self.settings = None
        self.conn.initiate_connection()
        self.flush()
        self.wait(lambda: self.settings is not None)

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self):
        """Reads what the server sent and handles it; blocks until something came."""
        data = self.sock.recv(1 << 20)
        if not data:
            raise ConnectionError("the worker closed the connection")
        for event in self.conn.receive_data(data):
            s = self.streams[event.stream_id] if getattr(event, "stream_id", None) else None
            if isinstance(event, h2.events.RemoteSettingsChanged):
                self.settings = {k: v.new_value for k, v in event.changed_settings.items()}
            elif isinstance(event, h2.events.ResponseReceived):
                s.headers = dict(event.headers)
            elif isinstance(event, h2.events.TrailersReceived):
                s.trailers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                s.data += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length,
                                                    event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                s.ended = True
            elif isinstance(event, h2.events.StreamReset):
                s.reset = event.error_code
            elif isinstance(event, h2.events.WindowUpdated) and event.stream_id:
                s.window_updates += 1
            elif isinstance(event, h2.events.ConnectionTerminated):
                raise ConnectionError(f"the worker ended the connection: {event}")
        self.flush()

    def wait(self, done):
        while not done():
            self.pump()

    def open(self, path, end=False):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [
            (":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", self.addr), ("content-type", "application/grpc"),
            ("te", "trailers"),
        ], end_stream=end)
        self.flush()
        self.streams[sid]
        return sid

    def send(self, sid, data, end):
        """Sends as flow control allows; stops early if the server ends or resets the
        stream (a refusal). Returns whether everything was sent."""
        view = memoryview(data)
        while view:
            if self.streams[sid].done:
                return False
            window = min(self.conn.local_flow_control_window(sid),
                         self.conn.max_outbound_frame_size, len(view))
            if window == 0:
                self.pump()
                continue
            try:
                self.conn.send_data(sid, bytes(view[:window]),
                                    end_stream=end and window == len(view))
            except h2.exceptions.StreamClosedError:
                return False
            view = view[window:]
            self.flush()
        if end and not data:
            self.conn.end_stream(sid)
            self.flush()
        return True

    def reset(self, sid):
        self.conn.reset_stream(sid, error_code=8)  # CANCEL
        self.flush()

    def close(self):
        self.sock.close()


def small_request():
    return framed(gzfleet_pb2.CompressRequest(level=1, data=b"probe " * 100)
                  .SerializeToString())


def full(addr, permits):
    """Holds every permit with requests whose body never finishes, and shows that the
    next request is refused at once, with no body read; and that the permits come back
    when the holders go away."""
    raw = Raw(addr)
    # Each holder declares a 48 MiB message and sends 5 MiB of it. A worker that
    # admitted it reads that much, and h2 hands back the stream's window (a
    # WINDOW_UPDATE): proof that it holds a permit. A refused one is answered instead.
    declared = 48 << 20
    holders = []
    while len(holders) < permits:
        sid = raw.open(COMPRESS)
        raw.send(sid, b"\x00" + struct.pack(">I", declared) + b"h" * (5 << 20), end=False)
        raw.wait(lambda: raw.streams[sid].window_updates > 0 or raw.streams[sid].done)
        assert not raw.streams[sid].done, ("a holder was answered", raw.streams[sid].status())
        holders.append(sid)
    print(f"holding: {permits} requests admitted, their bodies unfinished")

    # A complete request, then one whose body never comes: both answered at once.
    for name, body in [("request", small_request()), ("request without a body", None)]:
        sid = raw.open(COMPRESS)
        if body is not None:
            raw.send(sid, body, end=True)
        raw.wait(lambda: raw.streams[sid].done)
        s = raw.streams[sid]
        assert s.headers.get(b":status") == b"200", s.headers
        assert s.headers.get(b"content-type") == b"application/grpc", s.headers
        assert not s.data and not s.trailers, "not a trailers-only response"
        code, message = s.status()
        assert code == RESOURCE_EXHAUSTED, (code, message)
        assert f"at most {permits} requests at once" in message, message
        print(f"refused: {name} to a full worker: RESOURCE_EXHAUSTED (trailers-only): "
              f"{message}")

    # The holders give up: their permits are released, and a request passes again
    # (once the worker has seen the resets: a refusal before that is no failure).
    for sid in holders:
        raw.reset(sid)
    for attempt in range(1000):
        sid = raw.open(COMPRESS)
        raw.send(sid, small_request(), end=True)
        raw.wait(lambda: raw.streams[sid].done)
        code, message = raw.streams[sid].status()
        if code == 0:
            break
        assert code == RESOURCE_EXHAUSTED, (code, message)
    else:
        raise AssertionError("the permits of cancelled requests never came back")
    print(f"served after the holders left (attempt {attempt + 1})")
    raw.close()


def streams(addr, max_streams):
    """Opens the streams one connection may have (Info calls whose body never comes:
    they stay open), then one more: refused by HTTP/2 itself, REFUSED_STREAM, the only
    answer a stream that was never accepted can get."""
    raw = Raw(addr)
    advertised = raw.settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
    assert advertised == max_streams, (advertised, max_streams)
    print(f"advertised: at most {advertised} streams per connection")
    held = [raw.open(INFO) for _ in range(max_streams)]
    raw.conn.ignore_stream_limit = True
    extra = raw.open(INFO, end=True)
    raw.conn.ignore_stream_limit = False
    raw.wait(lambda: raw.streams[extra].done)
    assert raw.streams[extra].reset == REFUSED_STREAM, raw.streams[extra].__dict__
    assert not any(raw.streams[sid].done for sid in held), "a held stream ended"
    print(f"refused: stream {max_streams + 1} on one connection: REFUSED_STREAM")
    for sid in held:
        raw.reset(sid)
    # The same connection serves again once those are gone.
    for attempt in range(1000):
        try:
            sid = raw.open(INFO)
        except h2.exceptions.TooManyStreamsError:
            raw.pump()
            continue
        raw.send(sid, framed(b""), end=True)
        raw.wait(lambda: raw.streams[sid].done)
        if raw.streams[sid].reset != REFUSED_STREAM:
            break
    code, message = raw.streams[sid].status()
    assert code == 0, (code, message)
    print("served on the same connection after the streams closed")
    raw.close()


def flood(addr, n, size):
    """n Compress requests of size bytes, each on its own connection, all started at
    once. Prints how each ended; an answer is checked against the input."""
    data = (b"gzfleet flood " * (size // 14 + 1))[:size]
    body = framed(gzfleet_pb2.CompressRequest(job_id="flood", level=1, data=data)
                  .SerializeToString())
    crc = zlib.crc32(data)
    outcomes = [None] * n
    start = threading.Barrier(n)

    def one(i):
        try:
            raw = Raw(addr, timeout=600)
            start.wait()
            sid = raw.open(COMPRESS)
            raw.send(sid, body, end=True)
            raw.wait(lambda: raw.streams[sid].done)
            s = raw.streams[sid]
            code, message = s.status()
            if code == 0:
                reply = gzfleet_pb2.CompressResponse.FromString(bytes(s.data[5:]))
                right = reply.input_length == size and reply.crc32 == crc
                outcomes[i] = ("answered" if right else "answered wrongly", "")
            elif code is not None:
                outcomes[i] = (f"status {code}", message)
            else:
                outcomes[i] = (f"reset {s.reset}", "")
            raw.close()
        except Exception as e:  # reported below, with the others
            start.abort()
            outcomes[i] = ("client error", repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = collections.Counter(outcome for outcome, _ in outcomes)
    messages = collections.Counter(m for o, m in outcomes if o.startswith("status"))
    for outcome, count in sorted(counts.items()):
        print(f"flood: {count} {outcome}")
    for message, count in messages.most_common():
        print(f"flood message: {count} x {message}")
    for outcome, message in outcomes:
        if outcome == "client error":
            print(f"flood client error: {message}")


if __name__ == "__main__":
    mode, addr = sys.argv[1], sys.argv[2]
    if mode == "refusals":
        refusals(addr, int(sys.argv[3]))
    elif mode == "full":
        full(addr, int(sys.argv[3]))
    elif mode == "streams":
        streams(addr, int(sys.argv[3]))
    elif mode == "flood":
        flood(addr, int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")
