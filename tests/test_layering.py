"""The layering of ``pipelines/``, read from the imports of every module (an ``ast`` walk).

Rooms, from the bottom up:
- ``schemas``: the table contracts; imports nothing of the project but other schemas.
- ``metrics``: pure maths over counts and frames (they may name their output's contract).
- helpers ``text``, ``countries``, ``http``, ``atomic``: string normalisation, ISO countries, the
  one HTTP client, atomic file replacement.
- ``sources``: readers, bytes or HTTP in, contract-shaped frames and rejects out; they know only
  schemas, helpers and each other.
- domains ``mining``, ``nodes``, ``market``, ``ai``: frames in, frames out; they know metrics,
  schemas, the pure helpers and their own package, never IO.
- everything else (config, lake, warehouse, resources, raw_tables, seeds, defs, sql models, report,
  cli) wires these together; ``defs`` is imported by nobody but ``defs`` and the tests, and
  nothing in the rooms above imports Dagster or the resource.

Every import counts, including those inside functions (a deferred import still couples).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pipelines"
PURE_HELPERS = {"pipelines.text", "pipelines.countries"}
HELPERS = PURE_HELPERS | {"pipelines.http", "pipelines.atomic"}
DOMAINS = ("mining", "nodes", "market", "ai")
# Modules that may import Dagster or the resource: the orchestration layer.
FORBIDDEN_BELOW_DEFS = ("dagster", "pipelines.defs", "pipelines.resources")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names; ``from a import b`` counts as ``a.b`` too
    when ``a.b`` is a module of the project)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if module_path(candidate) is not None:
                    found.add(candidate)
    return found


def module_path(name: str) -> Path | None:
    if not name.startswith("pipelines"):
        return None
    base = PACKAGE.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


MODULES = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def project(imports: set[str]) -> set[str]:
    return {name for name in imports if name == "pipelines" or name.startswith("pipelines.")}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def room(name: str) -> str:
    parts = name.split(".")
    if len(parts) > 1 and parts[1] in ("schemas", "metrics", "sources", *DOMAINS):
        return parts[1]
    return "helper" if name in HELPERS else "wiring"


def allowed(name: str) -> tuple[str, ...]:
    """Project modules ``name`` may import, as prefixes."""
    kind = room(name)
    if kind == "schemas":
        return ("pipelines.schemas",)
    if kind == "metrics":
        return ("pipelines.metrics", "pipelines.schemas")
    if kind == "helper":
        return tuple(HELPERS)
    if kind == "sources":
        return ("pipelines.sources", "pipelines.schemas", *HELPERS)
    if kind in DOMAINS:
        return (f"pipelines.{kind}", "pipelines.metrics", "pipelines.schemas", *PURE_HELPERS)
    return ("pipelines",)


def violations() -> list[str]:
    found = []
    for name, imports in MODULES.items():
        prefixes = allowed(name)
        for imported in sorted(project(imports)):
            if imported != "pipelines" and not within(imported, *prefixes):
                found.append(f"{name} ({room(name)}) imports {imported}")
        if room(name) != "wiring":
            for imported in sorted(imports):
                if within(imported, *FORBIDDEN_BELOW_DEFS):
                    found.append(f"{name} ({room(name)}) imports {imported}")
        if not within(name, "pipelines.defs"):
            for imported in sorted(imports):
                if within(imported, "pipelines.defs"):
                    found.append(f"{name} imports {imported}: only defs may import defs")
    return found


def test_every_module_keeps_to_its_room() -> None:
    assert violations() == []


def test_the_walk_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from pipelines.lake import Lake\n    import dagster\n")
    assert {"pipelines.lake", "dagster"} <= imports_of(module)


@pytest.mark.parametrize(
    ("module", "imported", "ok"),
    [
        ("pipelines.sources.block_files", "pipelines.schemas.mining", True),
        ("pipelines.sources.block_files", "pipelines.mining.attribution", False),
        ("pipelines.mining.attribution", "pipelines.metrics.concentration", True),
        ("pipelines.mining.attribution", "pipelines.config", False),
        ("pipelines.nodes.dispersion", "pipelines.sources.seeds", False),
        ("pipelines.schemas.mining", "pipelines.schemas.rejects", True),
        ("pipelines.schemas.mining", "pipelines.text", False),
        ("pipelines.metrics.trends", "pipelines.schemas.decentralization", True),
        ("pipelines.metrics.trends", "pipelines.mining.concentration", False),
        ("pipelines.defs.blocks", "pipelines.sources.registry", True),
    ],
)
def test_rules(module: str, imported: str, ok: bool) -> None:
    assert within(imported, *allowed(module)) is ok
