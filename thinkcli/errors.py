"""Errors the user should see, and the exit codes they map to.

Every module raises a ``ThinkError`` subclass for a problem the user can act on;
the CLI's single error boundary turns it into one line on stderr and an exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Documented exit codes (docs/troubleshooting.md, "Exit codes")."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INTERRUPTED = 130


class ThinkError(Exception):
    """A problem the user should be told about in one line."""

    exit_status = ExitStatus.ERROR


class UsageError(ThinkError):
    """The command line asked for something that makes no sense."""

    exit_status = ExitStatus.USAGE


class ConfigError(ThinkError):
    """The config file or an environment variable is unreadable or mistyped."""


class ModelError(ThinkError):
    """A model file is missing, not GGUF, truncated, or failed to load."""


class ChatTemplateError(ModelError):
    """A chat template is broken, raised an error, or went over a limit.

    Args:
        detail: what went wrong, one line.
        origin: whose template it is (``"of smollm2-135m"``, ``"file t.jinja"``), if known.
    """

    def __init__(self, detail: str, origin: str = "") -> None:
        self.detail, self.origin = detail, origin
        super().__init__(f"chat template{' ' + origin if origin else ''}: {detail}")

    def named(self, origin: str) -> ChatTemplateError:
        """The same error, saying whose template it is."""
        return self if self.origin else type(self)(self.detail, origin)


class TemplateLimitError(ChatTemplateError):
    """A chat template ran too long or made too much (it may loop forever)."""


class PullError(ThinkError):
    """Downloading or verifying a model failed."""


class ContextOverflowError(ThinkError):
    """The prompt does not fit in the model's context window."""


class InputError(ThinkError):
    """The user's input could not be read (missing file, not UTF-8)."""


class RemoteError(ThinkError):
    """A remote server could not be reached, refused the request, or cut the stream."""


class PathError(ThinkError):
    """Some paths of a batch failed in a step (a server's request); the others go on.

    Args:
        failures: the error of each failed sequence.
        tokens: the tokens the step produced for the other sequences.
    """

    def __init__(self, failures: dict, tokens: list) -> None:
        super().__init__("; ".join(dict.fromkeys(str(e) for e in failures.values())))
        self.failures = failures
        self.tokens = tokens
