"""Command-line commands, one module per area."""
