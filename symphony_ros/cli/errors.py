"""The one exception type the CLI turns into a one-line error and exit code 2."""


class CliError(Exception):
    """Bad user input: a message naming the flag, file or field and what was expected."""
