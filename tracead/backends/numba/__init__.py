"""The Numba backend: fused kernels generated from the graph.

  backend.py        NumbaBackend: plan, generate, load, compile -> NumbaExecutable
  executable.py     NumbaExecutable: slots, memory-plan buffers, the call path
  steps.py          per-kernel call: fused module, np.matmul + epilogue, NumPy impl
  codegen.py        Kernel -> readable loop source: checks, parallel or not, the module
  gen_elementwise.py, gen_reduce.py, gen_rowwise.py
                    one generator per kernel kind, each walking its kernel once
  writer.py         the one writer: lines, loops, frames, reduction loops; Names; size_expr
  scalar.py         one node -> one expression, from the primitive's template
  cache.py          generated modules on disk, keyed by their code (canonical) and validated
  compile_workers.py  cold compiles of a graph's new kernels in worker processes
  mathlib.py        vectorisable exp/log/tanh/sigmoid; vectorcheck.py: SIMD report
"""
