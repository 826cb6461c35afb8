"""Project errors. The CLI turns each into one line on stderr and an exit code."""


class RnnexpError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(RnnexpError):
    """The config file or an override is wrong. ``messages`` holds one line per problem."""

    exit_code = 2

    def __init__(self, messages: list[str] | str):
        self.messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__("\n".join(self.messages))


class DataError(RnnexpError):
    """Input data is missing, unreadable or does not fit the config."""

    exit_code = 2


class RunDirError(RnnexpError):
    """A run folder is missing, incomplete, or cannot be used for what was asked."""

    exit_code = 2


class StorageError(RnnexpError):
    """A file could not be written because the disk is full or a size limit was hit: the run
    failed, the input was fine."""

    exit_code = 1


class CheckpointError(RnnexpError):
    """A checkpoint cannot be written or read back."""

    exit_code = 1


class TrainingError(RnnexpError):
    """Training itself failed (device unavailable, numerical failure, ...)."""

    exit_code = 1


class DivergedError(TrainingError):
    """The loss became NaN or infinite."""
