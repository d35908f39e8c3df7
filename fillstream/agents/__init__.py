"""Faust agents: thin loops that decode, call the core, store state and publish events."""
