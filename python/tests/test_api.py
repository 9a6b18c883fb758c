"""The package as shipped: stubs that match the module, py.typed, docstrings, the
stdlib's names."""

import ast
import gzip
import inspect
from pathlib import Path

import gzfleet
import gzfleet._gzfleet as native

PKG = Path(gzfleet.__file__).parent


def stub_names(path):
    tree = ast.parse(path.read_text())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return top, classes


def test_shipped_with_stubs_and_py_typed():
    assert (PKG / "py.typed").exists()
    top, classes = stub_names(PKG / "__init__.pyi")
    for name in gzfleet.__all__:
        assert name in top, name
    for method in classes["GzipFile"]:
        assert hasattr(gzfleet.GzipFile, method), method
    ntop, nclasses = stub_names(PKG / "_gzfleet.pyi")
    for name in ntop:
        assert hasattr(native, name), name
    for cls, methods in nclasses.items():
        for m in methods - {"__init__"}:
            assert hasattr(getattr(native, cls), m), (cls, m)


def test_the_stdlib_names_are_all_there():
    for name in ("open", "GzipFile", "compress", "decompress", "BadGzipFile"):
        assert hasattr(gzfleet, name)
    for method in ("read", "read1", "readinto", "readline", "peek", "seek", "tell",
                   "flush", "fileno", "close", "rewind", "readable", "writable"):
        assert callable(getattr(gzfleet.GzipFile, method))
    assert issubclass(gzfleet.BadGzipFile, OSError)
    assert gzfleet.BadGzipFile is gzip.BadGzipFile  # `except gzip.BadGzipFile` works
    stdlib = inspect.signature(gzip.GzipFile).parameters
    ours = inspect.signature(gzfleet.GzipFile).parameters
    assert list(stdlib) == list(ours)[:len(stdlib)]


def test_public_api_has_docstrings():
    for obj in (gzfleet, gzfleet.open, gzfleet.compress, gzfleet.decompress,
                gzfleet.GzipFile, gzfleet.GzipFile.write, gzfleet.GzipFile.flush,
                gzfleet.GzipFile.seek, native.Writer.write, native.Reader.read):
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, obj
