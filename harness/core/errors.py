"""Errors a user can cause: the CLI prints them as one line and exits with code 2."""


class UsageError(Exception):
    """Bad input from the user (unknown name, bad file, conflicting run directory...)."""
