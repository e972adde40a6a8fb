"""The one error type user input raises: a one-line message naming the field and the fix."""

from flexibility.common import ModelInputError


class InputError(ModelInputError):
    """Bad user input (scenario file, sessions CSV, CLI option).

    The message is a single line that names the offending field (and row, for data) and says
    how to fix it. The CLI prints it without a traceback.
    """
