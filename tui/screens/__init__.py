"""The wizard's screens, one per file, each with its styles in a .tcss file beside it."""
