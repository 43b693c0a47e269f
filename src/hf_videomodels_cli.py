"""Entry point of the ``hf-videomodels`` command: ``--help`` and argument errors answer in a fraction of a second.

``import hf_videomodels`` registers the architectures with transformers' Auto classes, which imports torch and
transformers' modeling code (10-15 s); library users and model cards rely on that. Parsing the command line
needs none of it, and ``hf_videomodels.cli`` imports only the standard library, so this module loads it with
the package's ``__init__`` held back, parses the arguments, and only then runs the ``__init__``.
"""

from __future__ import annotations

import importlib.util
import sys

# The package module created here with its __init__ not yet run, until main() runs it.
_held_back = None


def main(argv: list[str] | None = None) -> int:
    global _held_back
    if "hf_videomodels" not in sys.modules:
        _held_back = importlib.util.module_from_spec(importlib.util.find_spec("hf_videomodels"))
        sys.modules["hf_videomodels"] = _held_back  # so importing hf_videomodels.cli does not run the __init__
    from hf_videomodels import cli

    args = cli.build_parser().parse_args(argv)  # exits here on --help and argument errors
    if _held_back is not None:
        package, _held_back = _held_back, None
        package.__spec__.loader.exec_module(package)  # registers the architectures
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
