"""Errors a user can fix; entry points print them as one line instead of a traceback."""


class GanforgeError(Exception):
    """A problem with the user's input, with a message that says what to do."""


class ConfigError(GanforgeError):
    """An impossible or inconsistent configuration value."""


class DataError(GanforgeError):
    """A dataset that is missing, unreadable or malformed."""


class CheckpointError(GanforgeError):
    """A checkpoint that is missing, corrupt or not ganforge's."""


def one_line(err: BaseException, limit: int = 160) -> str:
    """An exception's message squeezed onto one line, for quoting inside a user error."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
