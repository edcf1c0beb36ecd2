"""llmplan tui package."""
