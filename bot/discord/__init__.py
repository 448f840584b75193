"""The Discord adapter (discord.py 2.x): the only package that imports `discord`. See docs/discord.md."""
