"""The on-disk kernel cache (backend stage: compile).

Every generated kernel is a real module, `<cache_dir>/kernels/k_<key>.py`
(`tracead.config.cache_dir()`, env TRACEAD_CACHE_DIR), so tracebacks, pdb and
`inspect` see its source, and Numba's own cache (`njit(cache=True)`, files in
`kernels/__pycache__`) lets a new process skip LLVM entirely.

The file is its own cache entry:

    KEY = "<sha256 of the environment line and the code below it>"
    # built for tracead 0.1.0 | mathlib 1 | numba 0.68.1 | llvmlite 0.50.0 | python 3.11 | cpu rocketlake
    <generated source>

The key covers the environment line (versions, CPU) and the generated code
without its comments (`canonical`), so any change of either is a new file.
Generated identifiers are positional within a kernel (writer.Names), so
kernels identical up to renaming (repeated layers, the pieces of a split
chain) have one key: the second is a hit, in this process or a new one, and
Numba compiles it once. Its comments (graph names, user lines) are the first
such kernel's; the record of each kernel keeps its own text. Numba's cache only watches the file's
own timestamp, not what it imports, hence mathlib's version in the key.
A file is trusted only if its embedded key matches the key we expect and
the hash of its environment line and code below the key line; anything else (truncated, edited,
garbage) is rebuilt. Writes go to a temporary file and `os.replace`, so
readers never see half a file, also across processes. Numba's files get a
checksum too (cache_files.py): a damaged one is deleted and compiled again.

The cache heals itself and never stops a compile: a damaged entry is
rebuilt with one warning per process; a directory that cannot be written
(read-only, a path through a regular file, no space) makes this process use
a private temporary directory, removed at exit, also with one warning.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import linecache
import os
import re
import shutil
import sys
import tempfile
import threading
import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ... import config
from .cache_files import check_dispatchers, release_dispatchers
from .scalar import MATHLIB_VERSION

_KEY_LINE = re.compile(r'KEY = "([0-9a-f]{64})"')
# Part of every key: bump when the files' format changes (2: Numba's files checksummed).
CACHE_FORMAT = 2
# Modules imported by this process, by key, least recently used first. A module stays
# registered in sys.modules (Numba looks it up there when it loads compiled code) while it
# is among the MEMORY_LIMIT most recently used or a live kernel step holds a lease on it;
# a dropped compiled function's modules are then released. Numba never frees the machine
# code of a dispatcher (MCJIT keeps it), so reloading an evicted kernel costs memory too:
# the limit is generous.
MEMORY_LIMIT = 64
_MEMORY: OrderedDict[str, ModuleType] = OrderedDict()
_LEASES: dict[str, int] = {}  # key -> live leases (kernel steps using the module)
_LOCK = threading.RLock()
_PRIVATE: dict[str, Path] = {}  # configured directory that failed -> private replacement
_WARNED: set[str] = set()


class Lease:
    """Held by whoever runs a module's kernels: keeps the module registered (see _MEMORY)."""

    __slots__ = ("key", "__weakref__")

    def __init__(self, key: str) -> None:
        self.key = key
        _LEASES[key] = _LEASES.get(key, 0) + 1
        weakref.finalize(self, _release, key).atexit = False


@dataclass(frozen=True, slots=True)
class Loaded:
    module: ModuleType
    path: Path
    text: str  # the whole file
    status: str  # "hit", "hit (in memory)" or "miss: <why>"
    lease: Lease
    key: str = ""


def kernels_dir() -> Path:
    configured = config.cache_dir()
    return _PRIVATE.get(configured, Path(configured) / "kernels")


def warn_once(kind: str, message: str) -> None:
    """One warning per kind and process (later ones go to the TRACEAD_DEBUG=1 log)."""
    if kind in _WARNED:
        config.debug_log(1, message)
        return
    _WARNED.add(kind)
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _use_private_dir(problem: Exception) -> Path:
    """Switch this process to a private temporary kernel directory (see the module doc)."""
    configured = config.cache_dir()
    if configured not in _PRIVATE:
        private = Path(tempfile.mkdtemp(prefix="tracead-kernels-"))
        atexit.register(shutil.rmtree, private, True)
        _PRIVATE[configured] = private
        warn_once("unwritable", f"tracead: cannot use the kernel cache directory "
                                f"{Path(configured) / 'kernels'} ({type(problem).__name__}: {problem}); "
                                f"this process caches kernels in {private} instead "
                                f"(set TRACEAD_CACHE_DIR to a writable directory)")
    return _PRIVATE[configured]


def environment() -> str:
    import llvmlite
    import numba
    from llvmlite import binding

    from ... import __version__

    cpu = numba.config.CPU_NAME or binding.get_host_cpu_name()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (f"built for tracead {__version__} | mathlib {MATHLIB_VERSION} | numba {numba.__version__} "
            f"| llvmlite {llvmlite.__version__} | python {py} | cpu {cpu} | format {CACHE_FORMAT}")


def canonical(text: str) -> str:
    """The code of generated text: every comment and blank line dropped (generated
    code never has a '#' outside a comment: source.Writer checks)."""
    lines = (line.split("#", 1)[0].rstrip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def digest(below: str) -> str:
    """The key of the text below the key line: its first line (the environment), then
    its code."""
    env, _, code = below.partition("\n")
    return hashlib.sha256(f"{env}\n{canonical(code)}".encode()).hexdigest()


def file_text(body: str) -> tuple[str, str]:
    """(key, whole file text) for a generated module body."""
    below = f"# {environment()}\n{body}"
    key = digest(below)
    return key, f'KEY = "{key}"  # sha256 of the environment and code below, checked on load\n{below}'


def clear_memory() -> None:
    """Forget modules imported by this process (tests: force a load from disk)."""
    with _LOCK:
        for key in list(_MEMORY):
            _forget(key)


def _module_name(key: str) -> str:
    return f"tracead_kernel_{key[:32]}"


def _forget(key: str) -> None:
    _MEMORY.pop(key, None)
    if not _LEASES.get(key):
        _unregister(key)


def _unregister(key: str) -> None:
    module = sys.modules.pop(_module_name(key), None)
    if module is not None:
        # Numba read its source through linecache, by absolute and by relative path.
        for cached in [f for f in linecache.cache if f.endswith(f"k_{key[:32]}.py")]:
            linecache.cache.pop(cached, None)
        release_dispatchers(module)


def _release(key: str) -> None:
    with _LOCK:
        left = _LEASES.get(key, 1) - 1
        if left > 0:
            _LEASES[key] = left
            return
        _LEASES.pop(key, None)
        if key not in _MEMORY:
            _unregister(key)


def load(body: str) -> Loaded:
    """Import the kernel module for `body`, from memory, disk, or freshly written."""
    key, text = file_text(body)
    with _LOCK:
        if key in _MEMORY:
            _MEMORY.move_to_end(key)
            return Loaded(_MEMORY[key], kernels_dir() / f"k_{key[:32]}.py", text, "hit (in memory)",
                          Lease(key), key)
        try:
            module, path, status = _load_from(kernels_dir(), key, text)
        except (OSError, _NoNumbaLocator) as exc:
            if kernels_dir() in _PRIVATE.values():
                raise
            module, path, status = _load_from(_use_private_dir(exc), key, text)
        _MEMORY[key] = module
        while len(_MEMORY) > MEMORY_LIMIT:
            _forget(next(iter(_MEMORY)))
        return Loaded(module, path, text, status, Lease(key), key)


class _NoNumbaLocator(RuntimeError):
    """Numba found no writable place for its cache files next to the module."""


def _load_from(directory: Path, key: str, text: str) -> tuple[ModuleType, Path, str]:
    path = directory / f"k_{key[:32]}.py"
    problem = _check(path, key) if path.exists() else "not in the cache"
    if problem is None:
        status = "hit"
    else:
        status = f"miss: {problem}" + (", rebuilt" if path.exists() else "")
        if path.exists():
            warn_once("damaged", f"tracead: damaged kernel cache file {path} ({problem}); rebuilt it")
        _write(path, text)
    try:
        module = _import(path, key)
    except SyntaxError:
        if problem is not None:  # we wrote it just now: a code generator bug
            raise
        _write(path, text)  # validated yet unimportable (should not happen): rebuild once
        module, status = _import(path, key), "miss: file did not import, rebuilt"
    return module, path, status


def _check(path: Path, key: str) -> str | None:
    """None if the file is a valid entry for `key`, else what is wrong with it."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        return f"unreadable file ({type(exc).__name__})"
    first, _, below = text.partition("\n")
    match = _KEY_LINE.match(first)
    if match is None:
        return "corrupted file (no key line)"
    if match.group(1) != key:
        return "corrupted file (wrong key)"
    if digest(below) != key:
        return "corrupted file (text does not match its key)"
    return None


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Numba's compiled code for an older version of this file must not be reused.
    for stale in (path.parent / "__pycache__").glob(path.stem + ".*"):
        try:
            stale.unlink()
        except OSError:
            pass
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def import_module(path, key: str) -> ModuleType:
    """Import a kernel file written by `load` (compile workers: compile_workers.py)."""
    return _import(Path(path), key)


def _import(path: Path, key: str) -> ModuleType:
    # Numba's cache re-imports a function's module by name when it loads
    # compiled code, so the module must be registered in sys.modules.
    name = _module_name(key)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except RuntimeError as exc:
        sys.modules.pop(name, None)
        if "no locator available" in str(exc):  # Numba's njit(cache=True) at decoration
            raise _NoNumbaLocator(str(exc)) from exc
        raise
    except BaseException:
        sys.modules.pop(name, None)
        raise
    check_dispatchers(module)
    return module
