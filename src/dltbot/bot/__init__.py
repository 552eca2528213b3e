"""The Telegram bot: commands, inline mode, and delivery of new additions."""
