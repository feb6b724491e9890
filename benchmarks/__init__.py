"""Benchmarks and studies, run from the repository root: python -m benchmarks.NAME."""
