"""Benchmarks of the pipeline (scripts, not tests)."""
