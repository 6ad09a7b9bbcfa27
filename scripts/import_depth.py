"""The longest chain of imports between krea_mcp's own modules (TYPE_CHECKING blocks excluded; the emulator left out).

Usage: python scripts/import_depth.py [src/krea_mcp]
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "src/krea_mcp")
PKG = ROOT.name


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


modules = {module_of(p): p for p in ROOT.rglob("*.py") if "fake_api" not in p.parts}


def imports(name: str) -> set[str]:
    tree = ast.parse(modules[name].read_text())
    found: set[str] = set()

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only = True
        if not typing_only:
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    package = name.split(".") if modules[name].name == "__init__.py" else name.split(".")[:-1]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                if base.startswith(PKG):
                    for alias in node.names:
                        full = f"{base}.{alias.name}"
                        found.add(full if full in modules else base)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith(PKG))
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(tree, False)
    return {m for m in found if m in modules and m != name}


@cache
def depth(name: str, stack: tuple[str, ...] = ()) -> int:
    if name in stack:
        return 0
    return 1 + max((depth(m, (*stack, name)) for m in imports(name)), default=0)


deepest = max(modules, key=depth)
chain, here = [deepest], deepest
while imports(here):
    here = max(imports(here), key=depth)
    chain.append(here)
print(f"{len(modules)} modules; longest import chain: {depth(deepest)} levels")
print(" -> ".join(m.removeprefix(PKG + ".") for m in chain))
