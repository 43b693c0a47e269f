"""Errors that mean "the user asked for something that cannot work", as opposed to bugs.

The command line prints these as one line and exits with code 2, without a traceback. They derive from
``ValueError`` so library callers that already catch ``ValueError`` keep working.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Iterable


class UserInputError(ValueError):
    """A bad argument, path, setting or data set, described well enough to fix without reading code."""


def report_user_errors(call: Callable[[], object]) -> int:
    """Run ``call`` for a command-line program: a user error (``UserInputError`` and its subclasses, or a
    missing file) is printed as one ``error:`` line on stderr and gives exit code 2; anything else is a bug
    and keeps its traceback. Returns ``call``'s exit code (0 when it returns no int)."""
    try:
        result = call()
    except FileNotFoundError as error:
        where = f"{error.strerror}: {error.filename}" if error.filename is not None else str(error)
        print(f"error: {where}", file=sys.stderr)  # not "[Errno 2] ...: 'path'"
        return 2
    except UserInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) else 0


def suggest(name: str, valid: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest valid name, or an empty string."""
    matches = difflib.get_close_matches(name, list(valid), n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def check_known_keys(given: Iterable[str], valid: Iterable[str], what: str) -> None:
    """Refuse keys that ``what`` does not have, naming each with a close match and listing the valid ones."""
    valid = sorted(set(valid))
    unknown = [key for key in given if key not in valid]
    if unknown:
        described = ", ".join(f"{key!r}{suggest(key, valid)}" for key in unknown)
        raise UserInputError(f"unknown {what} key(s): {described}. Valid keys: {', '.join(valid)}")
