"""Compute, memory and the parallel layout: precision table, step time, memory per GPU, the layout rules and search."""
