"""Numba's own cache files for our kernels, checksummed (backend stage: compile).

`njit(cache=True)` stores each kernel's index (`.nbi`, pickled) and compiled
code (`.nbc`, pickled, holding an LLVM object file) next to the generated
module. Numba trusts those bytes: one damaged byte is an `UnpicklingError`
in every later process, or worse, LLVM aborting the process while it loads a
damaged object file ("section table goes past the end of file"), which no
`except` can catch. So each kernel dispatcher gets a `CheckedCacheFile`
(`check_dispatchers`): every file Numba writes starts with a magic line and
the sha256 of the rest, and a file whose bytes do not match, or that does not
unpickle, is deleted and the kernel compiled again (one warning per process;
`cache.warn_once`). What Numba decides about a valid file (stale source,
other Numba version) is unchanged.

`release_dispatchers` frees a dropped kernel module's compiled code (see it).
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle

from numba.core.caching import FunctionCache, IndexDataCacheFile
from numba.core.dispatcher import Dispatcher

MAGIC = b"tracead-checked-numba-cache 1\n"
_DIGEST = 32  # sha256 bytes after MAGIC


class DamagedEntry(OSError):
    """Numba's `load` treats an OSError from a data file as a missing entry."""


def frame(payload: bytes) -> bytes:
    return MAGIC + hashlib.sha256(payload).digest() + payload


def unframe(raw: bytes) -> bytes | None:
    """The payload if `raw` is intact, else None."""
    head = len(MAGIC) + _DIGEST
    if not raw.startswith(MAGIC) or len(raw) < head:
        return None
    payload = raw[head:]
    return payload if hashlib.sha256(payload).digest() == raw[len(MAGIC):head] else None


class CheckedCacheFile(IndexDataCacheFile):
    """IndexDataCacheFile whose files carry a checksum (see the module docstring)."""

    def _damaged(self, path: str, why: str) -> None:
        from .cache import warn_once

        try:
            os.unlink(path)
        except OSError:
            pass
        warn_once("damaged", f"tracead: damaged Numba cache file {path} ({why}); deleted it, "
                             f"the kernel is compiled again")

    def _read_checked(self, path: str) -> bytes | None:
        with open(path, "rb") as f:  # FileNotFoundError: no entry, as in Numba
            raw = f.read()
        payload = unframe(raw)
        if payload is None:
            self._damaged(path, "checksum mismatch" if raw.startswith(MAGIC) else "not written by tracead")
        return payload

    def _load_index(self):
        try:
            payload = self._read_checked(self._index_path)
        except FileNotFoundError:
            return {}
        if payload is None:
            return {}
        try:
            f = io.BytesIO(payload)
            version = pickle.load(f)
            if version != self._version:
                return {}
            stamp, overloads = pickle.loads(f.read())
        except Exception as exc:  # intact bytes that still do not load: rebuild them
            self._damaged(self._index_path, f"{type(exc).__name__}: {exc}")
            return {}
        return overloads if stamp == self._source_stamp else {}

    def _save_index(self, overloads):
        payload = pickle.dumps(self._version, protocol=-1) + self._dump((self._source_stamp, overloads))
        with self._open_for_write(self._index_path) as f:
            f.write(frame(payload))

    def _load_data(self, name):
        path = self._data_path(name)
        payload = self._read_checked(path)
        if payload is None:
            raise DamagedEntry(path)
        try:
            return pickle.loads(payload)
        except Exception as exc:
            self._damaged(path, f"{type(exc).__name__}: {exc}")
            raise DamagedEntry(path) from exc

    def _save_data(self, name, data):
        with self._open_for_write(self._data_path(name)) as f:
            f.write(frame(self._dump(data)))


def check_dispatchers(module) -> None:
    """Give every cached Numba dispatcher of a kernel module checksummed cache files,
    before anything is loaded from them (a dispatcher reads its cache on first compile)."""
    for value in vars(module).values():
        if isinstance(value, Dispatcher) and isinstance(getattr(value, "_cache", None), FunctionCache):
            value._cache._cache_file.__class__ = CheckedCacheFile


def release_dispatchers(module) -> None:
    """Let a dropped kernel module's dispatchers be collected.

    Numba's dispatcher finalizer (in the weakref.finalize registry, so alive) holds the
    dispatcher's overloads; a freshly compiled overload's type annotation holds the
    function's module, and the module holds the dispatcher: nothing of it is ever freed
    (~2 MiB per kernel, mostly LLVM modules). Emptying the overloads, after doing what
    that finalizer would, breaks the cycle. Only for modules no kernel step uses."""
    for value in vars(module).values():
        if isinstance(value, Dispatcher):
            for cres in value.overloads.values():
                try:
                    value.targetctx.remove_user_function(cres.entry_point)
                except KeyError:
                    pass
            value._reset_overloads()
