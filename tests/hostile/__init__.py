"""Hostile input: arbitrary text through the engine, the splitter, both renderers, delivery."""
