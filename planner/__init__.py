"""llmplan planner package."""
