"""The Numba backend: fused kernels generated from the graph.

  backend.py        NumbaBackend: plan, generate, load, compile -> NumbaExecutable
  executable.py     NumbaExecutable: slots, memory-plan buffers, the call path
  steps.py          per-kernel call: fused module, np.matmul + epilogue, NumPy impl
  codegen.py        Kernel -> readable loop source (elementwise, reduce, rowwise)
  scalar.py         one node -> one statement, from the primitive's template
  source.py         writer, loop nests, names shared by the generators
  cache.py          generated modules on disk, keyed by their code (canonical) and validated
  compile_workers.py  cold compiles of a graph's new kernels in worker processes
  mathlib.py        vectorisable exp/log/tanh/sigmoid; vectorcheck.py: SIMD report
"""
