"""The conversation engine: platform-neutral, a message in and a streamed reply out."""
