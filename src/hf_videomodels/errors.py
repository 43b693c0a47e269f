"""Errors that mean "the user asked for something that cannot work", as opposed to bugs.

The command line prints these as one line and exits with code 2, without a traceback. They derive from
``ValueError`` so library callers that already catch ``ValueError`` keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserInputError(ValueError):
    """A bad argument, path, setting or data set, described well enough to fix without reading code."""


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
