"""Entry point of the ``hf-videomodels`` command: ``--help`` and argument errors answer in a fraction of a second.

``import hf_videomodels`` registers the architectures with transformers' Auto classes, which imports torch and
transformers' modeling code (10-15 s); library users and model cards rely on that. Parsing the command line
needs none of it, and ``hf_videomodels.cli`` imports only the standard library, so this module loads it with
the package's ``__init__`` held back, parses the arguments, and only then runs the ``__init__``.
"""

from __future__ import annotations

import importlib.util
import sys


def main(argv: list[str] | None = None) -> int:
    deferred = None
    if "hf_videomodels" not in sys.modules:
        spec = importlib.util.find_spec("hf_videomodels")
        deferred = importlib.util.module_from_spec(spec)  # the package's module, its __init__ not yet run
        sys.modules["hf_videomodels"] = deferred  # so importing hf_videomodels.cli does not run it either
    from hf_videomodels import cli

    args = cli.build_parser().parse_args(argv)  # exits here on --help and argument errors
    if deferred is not None:
        deferred.__spec__.loader.exec_module(deferred)  # registers the architectures
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())
