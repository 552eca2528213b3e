"""The one exception family: the CLI turns any of these into a message and an exit code."""


class DltbotError(Exception):
    """An error a user can act on; its message names the input or setting at fault."""


class ConfigError(DltbotError):
    """The configuration is invalid; the message starts with the key path."""


class GitSourceError(DltbotError):
    """A list repository could not be cloned, fetched or read."""


class ListFileMissingError(GitSourceError):
    """The list file is not in the tracked branch (deleted or renamed)."""


class StorageError(DltbotError):
    """The database cannot be used (newer schema, locked, unwritable)."""


class ConcurrentSyncError(StorageError):
    """Another sync of the same list recorded a commit first; this one stands down."""
