"""Errors that reach the user as one clear line instead of a traceback."""


class UserError(Exception):
    """A problem the user can fix: a bad flag, a missing file, an unreadable image.

    The command-line entry points print ``str(error)`` on one line of stderr
    and exit non-zero; ``--debug`` shows the traceback instead.
    """


class DataError(UserError):
    """The dataset, an archive or an image cannot be used as given."""


class TrainingStopped(UserError):
    """Training stopped on purpose (Ctrl-C, SIGTERM) after saving a checkpoint; rerunning resumes."""

    exit_code = 130
