"""Platform adapters: each chat surface runs as its own process and drives the engine."""
