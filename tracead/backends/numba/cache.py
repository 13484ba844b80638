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
Generated identifiers are positional within a kernel (source.Names), so
kernels identical up to renaming (repeated layers, the pieces of a split
chain) have one key: the second is a hit, in this process or a new one, and
Numba compiles it once. Its comments (graph names, user lines) are the first
such kernel's; the record of each kernel keeps its own text. Numba's cache only watches the file's
own timestamp, not what it imports, hence mathlib's version in the key.
A file is trusted only if its embedded key matches the key we expect and
the hash of its environment line and code below the key line; anything else (truncated, edited,
garbage) is rebuilt. Writes go to a temporary file and `os.replace`, so
readers never see half a file, also across processes.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ... import config
from .scalar import MATHLIB_VERSION

_KEY_LINE = re.compile(r'KEY = "([0-9a-f]{64})"')
_MEMORY: dict[str, ModuleType] = {}  # key -> module imported by this process
_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Loaded:
    module: ModuleType
    path: Path
    text: str  # the whole file
    status: str  # "hit", "hit (in memory)" or "miss: <why>"
    key: str = ""


def kernels_dir() -> Path:
    return Path(config.cache_dir()) / "kernels"


def environment() -> str:
    import llvmlite
    import numba
    from llvmlite import binding

    from ... import __version__

    cpu = numba.config.CPU_NAME or binding.get_host_cpu_name()
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (f"built for tracead {__version__} | mathlib {MATHLIB_VERSION} | numba {numba.__version__} "
            f"| llvmlite {llvmlite.__version__} | python {py} | cpu {cpu}")


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
        _MEMORY.clear()


def load(body: str) -> Loaded:
    """Import the kernel module for `body`, from memory, disk, or freshly written."""
    key, text = file_text(body)
    path = kernels_dir() / f"k_{key[:32]}.py"
    with _LOCK:
        if key in _MEMORY:
            return Loaded(_MEMORY[key], path, text, "hit (in memory)", key)
        problem = _check(path, key) if path.exists() else "not in the cache"
        if problem is None:
            status = "hit"
        else:
            status = f"miss: {problem}" + (", rebuilt" if path.exists() else "")
            _write(path, text)
        try:
            module = _import(path, key)
        except SyntaxError:
            if problem is not None:  # we wrote it just now: a code generator bug
                raise
            _write(path, text)  # validated yet unimportable (should not happen): rebuild once
            module, status = _import(path, key), "miss: file did not import, rebuilt"
        _MEMORY[key] = module
        return Loaded(module, path, text, status, key)


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
    name = f"tracead_kernel_{key[:32]}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
