"""Errors raised by world operations."""


class WorldError(LookupError):
    """A control operation named something that does not exist (unknown server, item,
    account, PIN or session) or is not allowed (an expired PIN); ``str()`` says which."""
