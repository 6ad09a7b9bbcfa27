"""Benchmarks for krea-mcp. Run ``python -m bench``; every figure is reported next to a baseline from the same run."""
