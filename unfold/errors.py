"""The core's user-error classes: what ``unfold`` prints as one line and exits 2 for.

Anything raised that is not an :class:`UnfoldError` (nor argparse's own usage exit) is a bug, in
the core or in a plugin: the command exits 1 with the exception type and the ``file:line`` of the
raising frame, and ``UNFOLD_DEBUG=1`` shows the traceback. Plugins raise these classes for input
their users can fix. The classes still subclass ``ValueError`` so that code catching
``ValueError`` around the core keeps working.

This module imports nothing heavy (``unfold --help`` stays instant).
"""

from __future__ import annotations


class UnfoldError(ValueError):
    """An error the user can fix; printed as one line, exit status 2."""


class ConfigError(UnfoldError):
    """A config key or value, or a command-line number, that is not allowed; says what is."""


class PluginError(UnfoldError):
    """A plugin that is unknown, duplicated, broken or malformed."""


class RunDirError(UnfoldError):
    """An output directory or file that cannot be used (exists, not writable, nothing to resume)."""


class InputDataError(UnfoldError):
    """An input file or array that cannot be used (missing, unreadable, NaN, silent, too short)."""


class CheckpointError(UnfoldError):
    """A checkpoint that is missing, corrupt, truncated, unsafe or of another plugin or recipe."""


class OutputExistsError(RunDirError, FileExistsError):
    """An output file that exists and may not be overwritten (``--force`` / ``overwrite=True``)."""
