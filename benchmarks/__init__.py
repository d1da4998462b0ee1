"""Benchmarks: the baseline and ours side by side in one run, printed as a ratio."""
