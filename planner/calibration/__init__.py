"""Fits against published runs and benchmarks and their out-of-sample errors."""
