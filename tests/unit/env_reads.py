"""Which environment variables Python code reads, found in its source (no import, no execution).

A read is a string naming a variable passed to the ``whooper_common.config`` getters
(``get_str(env, "NAME")`` and the others), or used on an environment mapping: ``env.get("NAME")``,
``env["NAME"]``, ``"NAME" in env``, ``os.environ...``, ``os.getenv("NAME")``. A module-level string
constant works as well as a literal. A name that is the enclosing function's parameter is a pass-through
(the getters themselves) and is not a read. Anything else cannot be seen statically and is reported, so
a test fails rather than miss a variable.

For a function, the scan covers its own package and the ``whooper_common`` modules it imports, directly
or through other ``whooper_common`` modules; a shared module one function does not use says nothing about it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

GETTERS = frozenset({"get_str", "get_bool", "get_int", "get_float", "get_list", "require_str"})
ENV_MAPPINGS = frozenset({"env", "environ", "environment"})
SHARED_PACKAGE = "whooper_common"


@dataclass
class Reads:
    names: set[str] = field(default_factory=set)
    unresolved: list[str] = field(default_factory=list)  # "path:line: code" of reads whose name is not static

    def update(self, other: Reads) -> None:
        self.names |= other.names
        self.unresolved += other.unresolved


def _is_env_mapping(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ENV_MAPPINGS
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _reads_mapping(func: ast.Attribute) -> bool:
    """``env.get(...)``, ``os.environ.pop(...)``, ``os.getenv(...)``."""
    if func.attr in {"get", "pop", "setdefault"}:
        return _is_env_mapping(func.value)
    return func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"


def _constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update({t.id: value.value for t in targets if isinstance(t, ast.Name)})
    return found


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: Path, constants: dict[str, str]) -> None:
        self.path = path
        self.constants = constants
        self.parameters: list[set[str]] = []
        self.reads = Reads()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        self.parameters.append({a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]})
        self.generic_visit(node)
        self.parameters.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _read(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            self.reads.names.add(node.value)
        elif isinstance(node, ast.Name) and node.id in self.constants:
            self.reads.names.add(self.constants[node.id])
        elif isinstance(node, ast.Name) and self.parameters and node.id in self.parameters[-1]:
            return  # a pass-through such as get_str's own ``env.get(name)``
        else:
            self.reads.unresolved.append(f"{self.path}:{node.lineno}: {ast.unparse(node)}")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in GETTERS:
            by_keyword = [k.value for k in node.keywords if k.arg == "name"]
            for variable in node.args[1:2] or by_keyword:
                self._read(variable)
        elif isinstance(func, ast.Attribute) and node.args and _reads_mapping(func):
            self._read(node.args[0])
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_env_mapping(node.value) and isinstance(node.ctx, ast.Load):
            self._read(node.slice)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.In | ast.NotIn) and _is_env_mapping(node.comparators[0]):
            self._read(node.left)
        self.generic_visit(node)


def reads_in_file(path: Path) -> Reads:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    scanner = _Scanner(path, _constants(tree))
    scanner.visit(tree)
    return scanner.reads


def _shared_imports(path: Path, shared_dir: Path) -> set[Path]:
    """The whooper_common modules a file imports (``from whooper_common.x import``, ``from . import x``...)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    in_shared = path.parent == shared_dir
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level and in_shared:
                base = f"{SHARED_PACKAGE}.{base}".rstrip(".")
            modules.add(base)
            modules |= {f"{base}.{alias.name}" for alias in node.names}
    found = set()
    for module in modules:
        parts = module.split(".")
        if parts[0] == SHARED_PACKAGE and len(parts) > 1 and (shared_dir / f"{parts[1]}.py").is_file():
            found.add(shared_dir / f"{parts[1]}.py")
    return found


def function_reads(function_dir: Path, shared_dir: Path) -> Reads:
    """What one function reads: its package, and the shared modules it reaches through imports."""
    pending = sorted(function_dir.rglob("*.py"))
    seen: set[Path] = set()
    reads = Reads()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        reads.update(reads_in_file(path))
        pending += sorted(_shared_imports(path, shared_dir) - seen)
    return reads


def package_reads(package_dir: Path) -> set[str]:
    """Every variable a package's code reads by name (a third-party framework's, say); unresolved reads ignored."""
    names: set[str] = set()
    for path in package_dir.rglob("*.py"):
        names |= reads_in_file(path).names
    return names
