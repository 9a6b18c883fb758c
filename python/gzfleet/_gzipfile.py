"""GzipFile: the stdlib's gzip.GzipFile, compressing through gzfleet's pool or fleet.

Writing hands the data to the native writer (``_gzfleet.Writer``) with the GIL
released and writes the compressed bytes it gives back to the file object in the
caller's thread, so every Python-level I/O happens where the stdlib does it and an
error from the pool surfaces at the next call. Reading wraps the native reader in an
io.BufferedReader, as the stdlib wraps its _GzipReader.
"""

import builtins
import errno
import gzip
import io
import os
import time

from . import _gzfleet

READ, WRITE = gzip.READ, gzip.WRITE

# Python-level writes smaller than this are gathered before crossing into Rust: a
# million 10-byte writes should not cost a million GIL releases.
_GATHER = 64 * 1024


def _header_name(name):
    """The FNAME field as the stdlib writes it: the base name, less .gz, in Latin-1."""
    try:
        fname = os.path.basename(name)
        if not isinstance(fname, bytes):
            fname = fname.encode("latin-1")
        if fname.endswith(b".gz"):
            fname = fname[:-3]
    except UnicodeEncodeError:
        fname = b""
    return fname or None


def index_path_for(name):
    """Where ``gzfleet index`` and ``--index`` put the index of ``name``: FILE.gz ->
    FILE.gzi, anything else -> NAME.gzi."""
    name = os.fsdecode(name)
    return name + "i" if name.endswith(".gz") else name + ".gzi"


class _Raw(io.RawIOBase):
    """The native reader as a raw stream for io.BufferedReader. Seeks go to the native
    reader when it has an index; otherwise forward seeks read ahead and backward ones
    start again from the beginning of the file, as the stdlib does."""

    def __init__(self, fileobj, path, index, threads):
        self._fileobj = fileobj
        self._path = path
        self._index = index
        self._threads = threads
        self._start = fileobj.tell() if path is None and _seekable(fileobj) else None
        self._open()

    def _open(self):
        source = self._path if self._path is not None else self._fileobj
        self._native = _gzfleet.Reader(source, index=self._index, threads=self._threads)
        self._pos = 0

    @property
    def mtime(self):
        return self._native.mtime

    def readable(self):
        return True

    def seekable(self):
        return self._native.seekable() or self._path is not None or self._start is not None

    def readinto(self, b):
        with memoryview(b) as view, view.cast("B") as out:
            data = self._native.read(len(out))
            n = len(data)
            out[:n] = data
        self._pos += n
        return n

    def readall(self):
        data = self._native.readall()
        self._pos += len(data)
        return data

    def tell(self):
        return self._pos

    def seek(self, offset, whence=io.SEEK_SET):
        if whence == io.SEEK_CUR:
            offset = self._pos + offset
        elif whence == io.SEEK_END:
            while self.read(io.DEFAULT_BUFFER_SIZE * 16):
                pass
            offset = self._pos + offset
        elif whence != io.SEEK_SET:
            raise ValueError("Invalid value for whence: {}".format(whence))
        offset = max(offset, 0)
        if self._native.seekable():
            self._pos = self._native.seek(offset)
            return self._pos
        if offset < self._pos:
            if self._path is None:
                if self._start is None:
                    raise io.UnsupportedOperation("can't rewind an unseekable stream")
                self._fileobj.seek(self._start)
            self._open()
        while self._pos < offset:
            if not self.read(min(offset - self._pos, 1 << 20)):
                break
        return self._pos


def _seekable(f):
    try:
        return f.seekable()
    except (AttributeError, OSError, ValueError):
        return False


class GzipFile(io.BufferedIOBase):
    """The stdlib's gzip.GzipFile, written by gzfleet's parallel engine: one standard
    gzip member whatever the number of threads or workers.

    ``filename``, ``mode``, ``compresslevel``, ``fileobj`` and ``mtime`` mean what they
    mean in gzip.GzipFile (``compresslevel`` defaults to 6, as pigz's and gzfleet's).
    gzfleet's own, keyword-only:

    - ``threads``: compression threads of the embedded pool (default: every core).
    - ``workers``: a list of ``host:port`` gzfleet-worker addresses: the fleet
      compresses instead of the pool (token from ``GZFLEET_TOKEN``, or the file ``token_file``).
    - ``block_size``: bytes per chunk handed to a thread or worker (default 1 MiB).
    - ``engine``: the deflate engine (``gzfleet.engines()``: zlib-rs, libdeflate, isal
      where built in); the default is the command's.
    - ``index``: writing, ``True`` writes a gztool-format index beside the file
      (FILE.gz -> FILE.gzi) as ``gzfleet --index`` does, or a path to write it to;
      reading, the index to seek with (default: FILE.gzi beside the file if there is
      one; ``False``: none). With an index, reading is parallel and seeks are direct.
    """

    myfileobj = None

    def __init__(self, filename=None, mode=None, compresslevel=6, fileobj=None,
                 mtime=None, *, threads=None, workers=None, block_size=None,
                 index=None, token_file=None, engine=None):
        if mode and ("t" in mode or "U" in mode):
            raise ValueError("Invalid mode: {!r}".format(mode))
        if mode and "b" not in mode:
            mode += "b"
        if fileobj is None:
            fileobj = self.myfileobj = builtins.open(filename, mode or "rb")
            path = filename
        else:
            path = None
        if filename is None:
            filename = getattr(fileobj, "name", "")
            if not isinstance(filename, (str, bytes)):
                filename = ""
        else:
            filename = os.fspath(filename)
        origmode = mode
        if mode is None:
            mode = getattr(fileobj, "mode", "rb")
        self.name = filename
        self.fileobj = None
        try:
            if mode.startswith("r"):
                self._init_read(fileobj, path, index, threads)
            elif mode.startswith(("w", "a", "x")):
                if origmode is None:
                    import warnings
                    warnings.warn(
                        "GzipFile was opened for writing, but this will change in "
                        "future Python releases.  Specify the mode argument for "
                        "opening it for writing.", FutureWarning, 2)
                self._init_write(fileobj, mode, compresslevel, mtime, threads,
                                 workers, block_size, index, token_file, engine)
            else:
                raise ValueError("Invalid mode: {!r}".format(mode))
        except BaseException:
            if self.myfileobj is not None:
                self.myfileobj.close()
                self.myfileobj = None
            raise
        self.fileobj = fileobj

    def _init_read(self, fileobj, path, index, threads):
        self.mode = READ
        if index is True:
            index = None  # the one beside, as by default
        elif index is not None and index is not False:
            index = os.fsdecode(index)
        native_path = os.fsdecode(path) if path is not None else None
        self._raw = _Raw(fileobj, native_path, index, threads)
        self._buffer = io.BufferedReader(self._raw, buffer_size=128 * 1024)

    def _init_write(self, fileobj, mode, level, mtime, threads, workers, block_size,
                    index, token_file, engine):
        self.mode = WRITE
        if level == -1:  # zlib's "default", as the stdlib accepts it
            level = 6
        if not isinstance(level, int) or level < 0:
            raise ValueError("Invalid compression level: {!r}".format(level))
        if index is True:
            if not self.name:
                raise ValueError("index=True needs a file name: pass index=PATH")
            if mode.startswith("a"):
                raise ValueError("index=True indexes a whole file: not with mode 'a'")
            index = index_path_for(self.name)
        self._index_path = os.fsdecode(index) if index not in (None, False) else None
        self.offset = 0
        self.size = 0
        self.crc = 0
        self._pending = []
        self._pending_len = 0
        when = time.time() if mtime is None else mtime
        self._writer = _gzfleet.Writer(
            level=level, threads=threads, workers=workers, token_file=token_file,
            block_size=block_size, name=_header_name(self.name), mtime=int(when),
            index=self._index_path, overwrite=not mode.startswith("x"), engine=engine)

    @property
    def mtime(self):
        """Reading: the modification time in the first member's header (None before it
        is read; the stdlib gives the last member's read so far, which differs only for
        files of several members). Writing: None."""
        return self._raw.mtime if self.mode == READ else None

    def __repr__(self):
        s = repr(self.fileobj)
        return "<gzip " + s[1:-1] + " " + hex(id(self)) + ">"

    def _check_not_closed(self):
        if self.closed:
            raise ValueError("I/O operation on closed file.")

    def _check_mode(self, want, what):
        self._check_not_closed()
        if self.mode != want:
            which = "read-only" if self.mode == READ else "write-only"
            raise OSError(errno.EBADF, "{}() on {} GzipFile object".format(what, which))

    @property
    def closed(self):
        return self.fileobj is None

    def fileno(self):
        """The file descriptor of the underlying file (io.UnsupportedOperation if none)."""
        return self.fileobj.fileno()

    def readable(self):
        return self.mode == READ

    def writable(self):
        return self.mode == WRITE

    def seekable(self):
        return True

    # Writing

    def write(self, data):
        """Compresses ``data`` (any bytes-like object); returns its length in bytes. The
        work runs on the pool with the GIL released; an error from the pool or a worker
        is raised here, or at the next call."""
        self._check_mode(WRITE, "write")
        if isinstance(data, (bytes, bytearray)):
            length = len(data)
        else:
            data = memoryview(data)
            length = data.nbytes
        if length == 0:
            return 0
        if length < _GATHER:
            self._pending.append(bytes(data))
            self._pending_len += length
            if self._pending_len >= _GATHER:
                self._push()
        else:
            self._push()
            self._send(self._writer.write(data if isinstance(data, bytes) else bytes(data)))
        self.size += length
        self.offset += length
        return length

    def _push(self):
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_len = 0
            self._send(self._writer.write(data))

    def _send(self, out):
        if out:
            self.fileobj.write(out)

    def flush(self, zlib_mode=None):
        """A sync point as in gzip: all data written so far is compressed and written to
        the file, ending on a byte boundary (a decoder can read it all), then the file is
        flushed."""
        self._check_not_closed()
        if self.mode == WRITE:
            self._push()
            self._send(self._writer.flush())
            self.fileobj.flush()

    def close(self):
        """Finishes the member (trailer, and the index if asked for) and closes the file
        if GzipFile opened it. Closing twice is harmless."""
        fileobj = self.fileobj
        if fileobj is None:
            return
        try:
            if self.mode == WRITE:
                self._push()
                tail, self.crc = self._writer.finish()
                self._send(tail)
            else:
                self._buffer.close()
        finally:
            self.fileobj = None
            myfileobj = self.myfileobj
            if myfileobj is not None:
                self.myfileobj = None
                myfileobj.close()

    # Reading

    def read(self, size=-1):
        self._check_mode(READ, "read")
        return self._buffer.read(size)

    def read1(self, size=-1):
        self._check_mode(READ, "read1")
        if size < 0:
            size = io.DEFAULT_BUFFER_SIZE
        return self._buffer.read1(size)

    def readinto(self, b):
        self._check_mode(READ, "readinto")
        return self._buffer.readinto(b)

    def readinto1(self, b):
        self._check_mode(READ, "readinto1")
        return self._buffer.readinto1(b)

    def peek(self, n=0):
        self._check_mode(READ, "peek")
        return self._buffer.peek(n)

    def readline(self, size=-1):
        self._check_not_closed()
        return self._buffer.readline(size)

    def rewind(self):
        """Back to the start of the uncompressed data (reading only)."""
        if self.mode != READ:
            raise OSError("Can't rewind in write mode")
        self._buffer.seek(0)

    def seek(self, offset, whence=io.SEEK_SET):
        """Reading: any position (direct with an index; otherwise by reading, from the
        start when going back). Writing: forward only, writing zeros, as gzip does."""
        if self.mode == WRITE:
            self._check_not_closed()
            if whence != io.SEEK_SET:
                if whence == io.SEEK_CUR:
                    offset = self.offset + offset
                else:
                    raise ValueError("Seek from end not supported")
            if offset < self.offset:
                raise OSError("Negative seek in write mode")
            count = offset - self.offset
            chunk = b"\0" * 65536
            for _ in range(count // len(chunk)):
                self.write(chunk)
            self.write(b"\0" * (count % len(chunk)))
            return self.offset
        self._check_not_closed()
        return self._buffer.seek(offset, whence)

    def tell(self):
        self._check_not_closed()
        if self.mode == WRITE:
            return self.offset
        return self._buffer.tell()
