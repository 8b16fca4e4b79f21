"""Benchmarks: runnable scripts measuring WAASP against peers in the same run."""
