"""Type stubs for gzfleet: the stdlib gzip module's API, plus gzfleet's keywords."""

import io
import os
from typing import IO, Any, Iterable, List, Literal, Optional, Protocol, Union, overload

from _typeshed import ReadableBuffer, StrOrBytesPath

__version__: str
READ: Any
WRITE: Any

class _ReadableFileobj(Protocol):
    def read(self, n: int, /) -> bytes: ...

class _WritableFileobj(Protocol):
    def write(self, b: bytes, /) -> object: ...
    def flush(self) -> object: ...

_ReadBinaryMode = Literal["r", "rb"]
_WriteBinaryMode = Literal["a", "ab", "w", "wb", "x", "xb"]
_OpenTextMode = Literal["rt", "at", "wt", "xt"]
_Index = Union[bool, StrOrBytesPath, None]

class BadGzipFile(OSError): ...

def engines() -> List[str]: ...
def index_path_for(name: StrOrBytesPath) -> str: ...

class GzipFile(io.BufferedIOBase):
    myfileobj: Optional[IO[bytes]]
    fileobj: Optional[Union[_ReadableFileobj, _WritableFileobj]]
    name: Union[str, bytes]
    mode: Any
    crc: int
    size: int
    offset: int
    def __init__(
        self,
        filename: Optional[StrOrBytesPath] = None,
        mode: Optional[str] = None,
        compresslevel: int = 6,
        fileobj: Optional[Union[_ReadableFileobj, _WritableFileobj]] = None,
        mtime: Optional[float] = None,
        *,
        threads: Optional[int] = None,
        workers: Optional[Iterable[str]] = None,
        block_size: Optional[int] = None,
        index: _Index = None,
        token_file: Optional[StrOrBytesPath] = None,
        engine: Optional[str] = None,
    ) -> None: ...
    @property
    def mtime(self) -> Optional[int]: ...
    @property
    def closed(self) -> bool: ...
    def write(self, data: ReadableBuffer) -> int: ...
    def read(self, size: Optional[int] = -1) -> bytes: ...
    def read1(self, size: int = -1) -> bytes: ...
    def readinto(self, b: Any) -> int: ...
    def readinto1(self, b: Any) -> int: ...
    def peek(self, n: int = 0) -> bytes: ...
    def readline(self, size: Optional[int] = -1) -> bytes: ...
    def fileno(self) -> int: ...
    def rewind(self) -> None: ...
    def flush(self, zlib_mode: Optional[int] = None) -> None: ...
    def close(self) -> None: ...
    def seek(self, offset: int, whence: int = 0) -> int: ...
    def tell(self) -> int: ...
    def readable(self) -> bool: ...
    def writable(self) -> bool: ...
    def seekable(self) -> bool: ...

@overload
def open(
    filename: Union[StrOrBytesPath, _ReadableFileobj],
    mode: _ReadBinaryMode = "rb",
    compresslevel: int = 6,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    *,
    threads: Optional[int] = None,
    workers: Optional[Iterable[str]] = None,
    block_size: Optional[int] = None,
    index: _Index = None,
    token_file: Optional[StrOrBytesPath] = None,
    engine: Optional[str] = None,
) -> GzipFile: ...
@overload
def open(
    filename: Union[StrOrBytesPath, _WritableFileobj],
    mode: _WriteBinaryMode,
    compresslevel: int = 6,
    encoding: None = None,
    errors: None = None,
    newline: None = None,
    *,
    threads: Optional[int] = None,
    workers: Optional[Iterable[str]] = None,
    block_size: Optional[int] = None,
    index: _Index = None,
    token_file: Optional[StrOrBytesPath] = None,
    engine: Optional[str] = None,
) -> GzipFile: ...
@overload
def open(
    filename: Union[StrOrBytesPath, _ReadableFileobj, _WritableFileobj],
    mode: _OpenTextMode,
    compresslevel: int = 6,
    encoding: Optional[str] = None,
    errors: Optional[str] = None,
    newline: Optional[str] = None,
    *,
    threads: Optional[int] = None,
    workers: Optional[Iterable[str]] = None,
    block_size: Optional[int] = None,
    index: _Index = None,
    token_file: Optional[StrOrBytesPath] = None,
    engine: Optional[str] = None,
) -> io.TextIOWrapper: ...
def compress(
    data: ReadableBuffer,
    compresslevel: int = 6,
    *,
    mtime: Optional[float] = None,
    threads: Optional[int] = None,
    engine: Optional[str] = None,
) -> bytes: ...
def decompress(data: ReadableBuffer) -> bytes: ...
