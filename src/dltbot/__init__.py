"""dltbot: follow a curated list's git history and tell readers what changed."""

__version__ = "0.1.0"
