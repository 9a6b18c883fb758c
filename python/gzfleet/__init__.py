"""gzfleet: parallel gzip for Python, a drop-in for the stdlib's gzip module.

``gzfleet.open``, ``GzipFile``, ``compress`` and ``decompress`` take what the stdlib's
do (plus ``threads``, ``workers``, ``block_size`` and ``index``) and write ONE standard
gzip member, compressed by every core (the embedded pool) or by a fleet of
``gzfleet-worker`` processes, with the GIL released. Reading is parallel and seekable
with a gztool-format index (``.gzi``)::

    import gzfleet
    with gzfleet.open("big.csv.gz", "wt", index=True) as f:  # big.csv.gzi beside it
        f.write("a,b\\n")
    with gzfleet.open("big.csv.gz", "rt") as f:
        print(f.readline())
"""

import atexit
import io
import os

from . import _gzfleet
from ._gzipfile import READ, WRITE, GzipFile, index_path_for

BadGzipFile = _gzfleet.BadGzipFile
engines = _gzfleet.engines

__all__ = ["BadGzipFile", "GzipFile", "open", "compress", "decompress", "engines"]
__version__ = _gzfleet.__version__

# No thread of ours takes the GIL back once the interpreter is exiting (see gil.rs).
atexit.register(_gzfleet._shutdown)


def open(filename, mode="rb", compresslevel=6, encoding=None, errors=None,
         newline=None, *, threads=None, workers=None, block_size=None, index=None,
         token_file=None, engine=None):
    """Opens a gzip file in binary or text mode, as gzip.open does.

    ``filename``: a path (str, bytes, os.PathLike) or a binary file object (io.BytesIO,
    a socket's makefile, an fsspec file...). ``mode``: r, rb, w, wb, x, xb, a, ab, or
    rt, wt, xt, at for text (an io.TextIOWrapper with ``encoding``, ``errors`` and
    ``newline``). The keyword-only arguments are GzipFile's.
    """
    if "t" in mode:
        if "b" in mode:
            raise ValueError("Invalid mode: %r" % (mode,))
    else:
        if encoding is not None:
            raise ValueError("Argument 'encoding' not supported in binary mode")
        if errors is not None:
            raise ValueError("Argument 'errors' not supported in binary mode")
        if newline is not None:
            raise ValueError("Argument 'newline' not supported in binary mode")
    gz_mode = mode.replace("t", "")
    extra = dict(threads=threads, workers=workers, block_size=block_size, index=index,
                 token_file=token_file, engine=engine)
    if isinstance(filename, (str, bytes, os.PathLike)):
        binary_file = GzipFile(filename, gz_mode, compresslevel, **extra)
    elif hasattr(filename, "read") or hasattr(filename, "write"):
        binary_file = GzipFile(None, gz_mode, compresslevel, filename, **extra)
    else:
        raise TypeError("filename must be a str or bytes object, or a file")
    if "t" in mode:
        if hasattr(io, "text_encoding"):
            encoding = io.text_encoding(encoding)
        return io.TextIOWrapper(binary_file, encoding, errors, newline)
    return binary_file


def compress(data, compresslevel=6, *, mtime=None, threads=None, engine=None):
    """``data`` compressed as one gzip member by every core (or ``threads``), the GIL
    released. ``mtime``: the header's time (default: now; 0 for reproducible output)."""
    import time
    when = time.time() if mtime is None else mtime
    return _gzfleet.compress(_as_bytes(data), compresslevel, int(when), threads, engine)


def decompress(data):
    """Every member of ``data`` decompressed, as gzip.decompress: BadGzipFile for what is
    not gzip, EOFError for a truncated member."""
    return _gzfleet.decompress(_as_bytes(data))


def _as_bytes(data):
    if isinstance(data, bytes):
        return data
    return bytes(memoryview(data).cast("B")) if not isinstance(data, bytearray) else bytes(data)
