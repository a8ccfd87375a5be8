"""Stores behind bot.ports.MemoryStore: sqlite/ today, one package per store."""
