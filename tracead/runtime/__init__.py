"""Runtime: guards, variants, the compiled-function wrapper."""
