"""llmplan presets package."""
