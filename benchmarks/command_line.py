"""What every benchmark's command line shares: errors in one line, with exit status 2.

A wrong option (`OneLineParser`) or a failed check before any work (`CheckFailed`, which the
command prints as `error: <message>` and turns into exit status 2) is one line on stderr that
names the option, the bad value and what to do, never a usage block or a traceback.
"""

from __future__ import annotations

import argparse


class CheckFailed(Exception):
    """A check before training failed; the message is the one line shown to the user."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block) with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value
