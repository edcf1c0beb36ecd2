"""Reports and sweeps: Markdown and text renderings, scenario tables, the JSON Schema."""
