"""Tracing: one eager run recorded into a Graph; graph-to-graph autodiff."""
