"""Widgets and display formatting shared by the wizard's screens."""
