"""The one exception type for bad user input (files, folders, config values)."""


class InputError(Exception):
    """A problem with what the user gave us. The message is one line: what is wrong and how to fix it.

    Command-line scripts turn it into that line on stderr and exit status 2 (see `ike_utils.cli`).
    """
