"""`tertulia tune`: refinamiento of the local model with LoRA on the person's own data.

The only package that imports PyTorch, transformers, peft and gguf (the optional `tune`
extra, `make tune`); the bot itself never needs them.
"""
