"""Model folders that load without this package (``--with-code``): the model's code written beside its weights,
named by ``auto_map``, for ``trust_remote_code=True``.

transformers' dynamic-module loader (``transformers/dynamic_module_utils.py``) copies the file an ``auto_map`` entry
names, then every file that file imports as ``from .name import ...`` (a single dot: the same folder; found by a
regular expression, so only that form), and it refuses a file that imports any package that is not installed
(``check_imports``: every ``import`` outside a ``try`` block, the ones inside functions included). So the bundle is
flat: each module of this package that the config, model and video processor classes import, transitively, is
written into the folder under a unique name, its imports of the package rewritten to ``from .<name> import ...``.
The package's ``__init__`` files are not followed where nothing imports them (the top one registers every
architecture with the Auto classes: loading one model must not), and a module that reaches the registration table
cannot be bundled (two-stream looks its streams' processors up there): that is refused, with the reason.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import UserInputError

PACKAGE = __package__
# Modules that hold the whole package's state rather than one model's code.
UNBUNDLABLE = {PACKAGE: "the package itself", f"{PACKAGE}.registration": "the table of every architecture"}
# Imports of the package's optional extras (pyproject's [project.optional-dependencies]; a test keeps the two in
# step): the code imports them only once it knows they are installed, so in the bundle they go inside a try block,
# which check_imports skips, instead of becoming a requirement.
OPTIONAL_IMPORTS = frozenset({"torchcodec"})
# Needed beside what the bundle imports: transformers' BaseVideoProcessor, which every video processor here subclasses,
# declares the "torchvision" backend (``@requires``) and refuses to build without it.
VIDEO_PROCESSOR_BACKENDS = frozenset({"torchvision"})
CONFIG_FILE = "config.json"
VIDEO_PROCESSOR_FILE = "video_preprocessor_config.json"


@dataclass(frozen=True)
class CodeBundle:
    """What ``write_model_code`` wrote: the Python files, the ``auto_map`` entries, and the pip packages the code
    imports (besides the standard library)."""

    files: list[Path]
    auto_map: dict[str, str]
    requirements: list[str]


@dataclass(frozen=True)
class _PackageImport:
    """A ``from <package module> import names`` statement: its node, and the module it names."""

    node: ast.ImportFrom
    source: str  # the package module the names come from


def _module_source(name: str) -> str:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"cannot find the source of {name}")
    return Path(spec.origin).read_text(encoding="utf-8")


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package: ``name`` is an attribute
        return False


def _is_package(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def _package_imports(module: str, tree: ast.Module) -> list[_PackageImport]:
    """Every import of a package module in ``module`` (at any depth of the file, as check_imports reads it).

    Only ``from <module> import <names>`` can be made flat; another form in the package's own code is a bug of the
    package (RuntimeError), not something a user can change."""
    package_of = module if _is_package(module) else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == PACKAGE for alias in node.names):
            raise RuntimeError(f"{module}: `import {node.names[0].name}` cannot be bundled; use `from ... import`")
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            target = importlib.util.resolve_name("." * node.level + (node.module or ""), package_of)
        else:
            target = node.module or ""
        if target.split(".")[0] != PACKAGE:
            continue
        submodules = [alias.name for alias in node.names if _is_module(f"{target}.{alias.name}")]
        if submodules:  # "from . import x": transformers' loader follows only "from .x import ..."
            raise RuntimeError(
                f"{module} imports the module(s) {', '.join(submodules)} of {target} as names, which the bundle "
                "cannot express; import the names from the module instead"
            )
        found.append(_PackageImport(node, target))
    return found


def _collect(roots: list[str]) -> dict[str, tuple[str, ast.Module, list[_PackageImport]]]:
    """The package modules ``roots`` import, transitively: {module: (source, tree, its package imports)}."""
    collected: dict = {}
    queue = list(roots)
    importers: dict[str, str] = {}
    while queue:
        module = queue.pop()
        if module in collected:
            continue
        if module in UNBUNDLABLE:
            raise UserInputError(
                f"--with-code cannot bundle this model: {importers.get(module, module)} imports {module} "
                f"({UNBUNDLABLE[module]}); push it without --with-code (users then install hf-videomodels)"
            )
        source = _module_source(module)
        tree = ast.parse(source)
        imports = _package_imports(module, tree)
        collected[module] = (source, tree, imports)
        for item in imports:
            importers.setdefault(item.source, module)
            queue.append(item.source)
    return collected


def flat_names(modules) -> dict[str, str]:
    """A unique file stem per module: its last name (a package's own name for its ``__init__``), with parent
    names prefixed only where two modules would otherwise share one."""
    parts = {module: module.removeprefix(PACKAGE + ".").split(".") for module in modules}
    depth = dict.fromkeys(modules, 1)
    while True:
        names = {module: "_".join(parts[module][-depth[module] :]) for module in modules}
        clashes = {module for module in modules if list(names.values()).count(names[module]) > 1}
        growable = {module for module in clashes if depth[module] < len(parts[module])}
        if not growable:
            if clashes:
                raise RuntimeError(f"modules {sorted(clashes)} cannot be given distinct file names")
            return names
        for module in growable:
            depth[module] += 1


def _statement(node: ast.ImportFrom, module: str) -> str:
    names = ", ".join(alias.name + (f" as {alias.asname}" if alias.asname else "") for alias in node.names)
    return f"from .{module} import {names}"


def _optional_import_guard(node: ast.stmt, indent: str) -> str:
    """The import inside ``try`` (check_imports skips it) with the ImportError passed on unchanged."""
    statement = ast.unparse(node)
    return f"try:  # optional dependency\n{indent}    {statement}\n{indent}except ImportError:\n{indent}    raise"


def _is_optional_import(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name.split(".")[0] in OPTIONAL_IMPORTS for alias in node.names)
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return (node.module or "").split(".")[0] in OPTIONAL_IMPORTS
    return False


def _inside_try(tree: ast.Module) -> set[int]:
    return {id(inner) for node in ast.walk(tree) if isinstance(node, ast.Try) for inner in ast.walk(node)}


def rewrite_module(source: str, tree: ast.Module, imports: list[_PackageImport], names: dict[str, str]) -> str:
    """``source`` with its package imports made flat and relative, and its optional imports guarded."""
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    guarded = _inside_try(tree)
    edits = [(item.node, _statement(item.node, names[item.source])) for item in imports]
    for node in ast.walk(tree):
        if _is_optional_import(node) and id(node) not in guarded:
            indent = lines[node.lineno - 1][: node.col_offset]
            edits.append((node, _optional_import_guard(node, indent)))
    text = source
    for node, replacement in sorted(edits, key=lambda edit: (edit[0].lineno, edit[0].col_offset), reverse=True):
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        text = text[:start] + replacement + text[end:]
    return text


def third_party_imports(trees) -> set[str]:
    """The top-level modules the bundle imports outside try blocks, the standard library and itself excluded."""
    found = set()
    for tree in trees:
        guarded = _inside_try(tree)
        for node in ast.walk(tree):
            if id(node) in guarded:
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in (PACKAGE, "__future__")}


def requirements_of(modules: set[str]) -> list[str]:
    """pip names of the distributions that provide ``modules`` (``PIL`` -> ``pillow``), sorted."""
    providers = importlib.metadata.packages_distributions()
    return sorted({name for module in modules for name in providers.get(module, [module])}, key=str.lower)


def _class_ref(cls: type, names: dict[str, str]) -> str:
    return f"{names[cls.__module__]}.{cls.__name__}"


def _bundled_classes(model_type: str) -> tuple[dict[str, type], type]:
    """The classes a bundle names, by Auto class, and the video processor class of ``model_type``."""
    from .registration import BY_MODEL_TYPE

    arch = BY_MODEL_TYPE.get(model_type)
    if arch is None:
        raise UserInputError(f"--with-code: {model_type!r} is not one of this package's model types")
    classes = {"AutoConfig": arch.config_class, "AutoModel": arch.model_class}
    if arch.classification_class is not None:
        classes["AutoModelForVideoClassification"] = arch.classification_class
    return classes, arch.video_processor_class


def check_bundlable(model_type: str) -> None:
    """Raise ``UserInputError`` now if ``--with-code`` could not bundle ``model_type``'s code."""
    classes, processor_class = _bundled_classes(model_type)
    _collect([cls.__module__ for cls in (*classes.values(), processor_class)])


def write_model_code(folder, config, video_processor) -> CodeBundle:
    """Write the code of ``config``'s architecture and of ``video_processor`` into ``folder`` (which already holds
    the saved ``config.json`` and video processor) and name its classes in their ``auto_map``."""
    folder = Path(folder)
    classes, _ = _bundled_classes(config.model_type)
    processor_class = type(video_processor)
    collected = _collect([cls.__module__ for cls in (*classes.values(), processor_class)])
    names = flat_names(collected)
    files, written = [], []
    for module, (source, tree, imports) in collected.items():
        path = folder / f"{names[module]}.py"
        text = rewrite_module(source, tree, imports, names)
        path.write_text(text, encoding="utf-8")
        files.append(path)
        written.append(ast.parse(text))
    auto_map = {auto: _class_ref(cls, names) for auto, cls in classes.items()}
    _set_auto_map(folder / CONFIG_FILE, auto_map)
    _set_auto_map(folder / VIDEO_PROCESSOR_FILE, {"AutoVideoProcessor": _class_ref(processor_class, names)})
    requirements = requirements_of(third_party_imports(written) | VIDEO_PROCESSOR_BACKENDS)
    return CodeBundle(sorted(files), auto_map, requirements)


def _set_auto_map(json_file: Path, auto_map: dict | None) -> None:
    data = json.loads(json_file.read_text(encoding="utf-8"))
    if auto_map is None:
        if "auto_map" not in data:
            return
        del data["auto_map"]
    else:
        data["auto_map"] = auto_map
    json_file.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def remove_auto_map(folder) -> None:
    """Drop ``auto_map`` from a folder saved without its code: a model loaded from a ``--with-code`` repo keeps
    the entry in its config, and saving it elsewhere would point at files that are not there."""
    for name in (CONFIG_FILE, VIDEO_PROCESSOR_FILE):
        if (Path(folder) / name).is_file():
            _set_auto_map(Path(folder) / name, None)
