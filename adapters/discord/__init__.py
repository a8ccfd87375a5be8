"""The Discord adapter: discord.py is imported only inside this package."""
