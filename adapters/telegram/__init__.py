"""The Telegram adapter: python-telegram-bot is imported only inside this package."""
