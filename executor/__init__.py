"""llmplan executor package."""
