"""The model and its size: scaling laws, the exact shape, parameter and FLOP counts, the data."""
