"""The Numba backend: fused kernels generated from the graph.

  backend.py        NumbaBackend / NumbaExecutable: plan, load, compile, run
  codegen.py        Kernel -> readable loop source (elementwise, reduce, rowwise)
  scalar.py         one node -> one statement, from the primitive's template
  source.py         writer, loop nests, names shared by the generators
  cache.py          generated modules on disk, keyed and validated
  fallback_plan.py  used only while passes/fuse.py is missing
  mathlib.py        vectorisable exp/log/tanh/sigmoid; vectorcheck.py: SIMD report
"""
