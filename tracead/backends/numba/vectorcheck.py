"""Does a compiled Numba kernel use SIMD in its loops? (backend stage: diagnostics)

``vector_report(dispatcher, sig)`` reads ``dispatcher.inspect_asm(sig)`` (x86
AT&T syntax), finds the loops (a jump back to an earlier label; the loop body
is everything between the label and the jump) and collects the packed
arithmetic instructions in them: ``v...ps`` / ``v...pd`` (add, mul, fma, div,
min/max, compare, blend, convert...) and packed integer ops (``vp...``).  The
register names give the width: xmm = 128, ymm = 256, zmm = 512 bits.

Moves, broadcasts and ``vxorps`` (zeroing idiom) are ignored, because scalar
code uses them too.  A loop whose arithmetic is all ``...ss`` / ``...sd`` is
scalar and reports width 0.  ``vector_width`` is the widest loop.

What we found with it (numba 0.68.1, llvmlite 0.50 / LLVM 20, Rocket Lake
CPU with AVX-512; tests/test_mathlib.py checks the first three):

* Plain ``range`` loops vectorise exactly as well as ``prange`` loops, also
  with 1-D strided or 2-D nested indexing and with the mathlib calls not
  inlined at Numba-IR level (LLVM inlines them).
* What blocks vectorisation is any exception branch in the loop body.  The
  common one: under Numba's default ``error_model="python"`` a float ``/``
  raises ZeroDivisionError, so ``x / (1 + x*x)`` keeps a ``range`` loop
  scalar.  ``parallel=True`` compiles the prange body with the "numpy" error
  model, which is why "only prange vectorised".  Use
  ``@njit(error_model="numpy")`` for generated kernels (mathlib itself
  divides through a bare ``fdiv`` and is safe under either model).
* libm calls (``math.exp`` etc.) keep any loop scalar: no SVML here.
* A float64 Python literal in float32 code (``0.5 * v``) promotes the chain
  to float64 (vcvtps2pd in the report): generated f32 code needs f32 constants.
* LLVM prefers 256-bit vectors on this CPU (ymm: 8 x f32, 4 x f64).  With
  ``NUMBA_CPU_FEATURES=<host features>,-prefer-256-bit`` it uses zmm and
  fexp / flog loops got faster in cache (process-wide setting; benchmarks/NOTES.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numba

__all__ = ["LoopInfo", "VectorReport", "vector_report", "vector_width"]

_LABEL = re.compile(r"^([.\w$@]+):")
_INSN = re.compile(r"^\s+([a-z][a-z0-9]*)\b\s*(.*)$")
_PACKED_FLOAT = re.compile(
    r"^v(?:add|sub|mul|div|sqrt|max|min|cmp\w*|blendv|blendm|round|rndscale|and|andn|or"
    r"|fn?m(?:add|sub|addsub|subadd)\d+|cvt\w+|scalef|getexp|getmant|perm\w*|shuf)p[sd]$")
_PACKED_INT = re.compile(r"^vp(?:add|sub|mul|sll|srl|sra|and|or|xor|cmp|blend|max|min|abs)\w*$")
_WIDTHS = (("%zmm", 512), ("%ymm", 256), ("%xmm", 128))


@dataclass(frozen=True, slots=True)
class LoopInfo:
    """One loop of the assembly: its size, vector width (bits, 0 = scalar), packed ops."""

    n_instructions: int
    width: int
    packed_ops: frozenset[str]


@dataclass(frozen=True, slots=True)
class VectorReport:
    """All loops of a compiled signature; ``width`` is the widest one (0: none vectorised)."""

    loops: tuple[LoopInfo, ...]

    @property
    def width(self) -> int:
        return max((loop.width for loop in self.loops), default=0)

    def lanes(self, itemsize: int) -> int:
        """Elements per vector at the widest width (e.g. 8 for float32 in ymm)."""
        return self.width // (8 * itemsize)

    def ops(self) -> frozenset[str]:
        """Packed ops over the vectorised loops of the widest width."""
        found: set[str] = set()
        for loop in self.loops:
            if loop.width and loop.width == self.width:
                found |= loop.packed_ops
        return frozenset(found)

    def __str__(self) -> str:
        vec = [lp for lp in self.loops if lp.width]
        return (f"VectorReport(width={self.width}, loops={len(self.loops)}, "
                f"vectorised={len(vec)}, ops={sorted(self.ops())})")


def _is_packed(mnemonic: str) -> bool:
    if mnemonic in ("vxorps", "vxorpd", "vpxor", "vpxord", "vpxorq"):
        return False  # zeroing idiom, also used by scalar code
    return bool(_PACKED_FLOAT.match(mnemonic) or _PACKED_INT.match(mnemonic))


def _width(operands: str) -> int:
    for reg, bits in _WIDTHS:
        if reg in operands:
            return bits
    return 0


def _loops(asm: str) -> list[list[str]]:
    lines = asm.splitlines()
    labels: dict[str, int] = {}
    bodies = []
    for i, line in enumerate(lines):
        label = _LABEL.match(line)
        if label:
            labels[label.group(1)] = i
            continue
        insn = _INSN.match(line)
        if insn and insn.group(1).startswith("j"):
            target = insn.group(2).split("#")[0].strip()
            if target in labels:  # backward jump: a loop
                bodies.append(lines[labels[target]:i + 1])
    return bodies


def analyse_asm(asm: str) -> VectorReport:
    """VectorReport of x86 AT&T assembly text."""
    loops = []
    for body in _loops(asm):
        ops: set[str] = set()
        width = 0
        count = 0
        for line in body:
            insn = _INSN.match(line.split("#")[0])
            if not insn:
                continue
            count += 1
            mnemonic, operands = insn.group(1), insn.group(2)
            if _is_packed(mnemonic):
                ops.add(mnemonic)
                width = max(width, _width(operands))
        loops.append(LoopInfo(count, width, frozenset(ops)))
    return VectorReport(tuple(loops))


def vector_report(dispatcher, sig=None) -> VectorReport:
    """Loops and SIMD use of ``dispatcher`` compiled for ``sig`` (default: its only signature).

    ``dispatcher`` must already be compiled for ``sig`` (call it once first).
    Code loaded from Numba's on-disk cache has no assembly to inspect; it is
    then compiled once more, uncached, with the same options.
    """
    if sig is None:
        sigs = dispatcher.signatures
        if len(sigs) != 1:
            raise ValueError(f"{dispatcher} has {len(sigs)} signatures; pass sig")
        sig = sigs[0]
    sig = tuple(sig.args) if hasattr(sig, "args") else tuple(sig)
    library = dispatcher.overloads[sig].library
    if getattr(library, "_disable_inspection", False):  # loaded from the cache
        options = {k: v for k, v in dispatcher.targetoptions.items() if k != "nopython"}
        dispatcher = numba.njit(**options)(dispatcher.py_func)
        dispatcher.compile(sig)
    return analyse_asm(dispatcher.inspect_asm(sig))


def vector_width(dispatcher, sig=None) -> int:
    """Widest packed register width (bits) used by arithmetic inside any loop; 0 if scalar."""
    return vector_report(dispatcher, sig).width
