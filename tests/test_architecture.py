"""The house rules of docs/architecture.md, checked on the source (no database needed).

Layers, from the top: entry points (``crm.app``, ``crm.cli`` and every domain's ``commands``, ``crm.domains``,
``jobs``) → web (every module that
imports litestar) → services (the rest of ``crm``) → models (``crm.models``). An import may only point down.
Imports inside functions count too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENTRY = {"crm.app", "crm.cli", "crm.domains", "crm.demo"}
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for base in ("crm", "jobs"):
        for path in sorted((ROOT / base).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module this one imports (absolute names), at any depth of the file."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)  # `from crm.x import module`
    return out


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _is_web(name: str) -> bool:
    return any(i == "litestar" or i.startswith("litestar.") for i in IMPORTS[name])


def _layer(name: str) -> int:
    if name in ENTRY or name.endswith(".commands") or name == "crm.cliutil" or name.split(".")[0] == "jobs":
        return 3
    if _is_web(name):
        return 2
    if name == "crm.models" or name.startswith("crm.models."):
        return 0
    return 1


LAYER_NAMES = {0: "models", 1: "services", 2: "web", 3: "entry"}


def test_imports_only_point_down_the_layers() -> None:
    upward = []
    for name in MODULES:
        for target in IMPORTS[name]:
            if target not in MODULES or target == name:
                continue
            if _layer(target) > _layer(name):
                upward.append(f"{name} ({LAYER_NAMES[_layer(name)]}) imports {target} ({LAYER_NAMES[_layer(target)]})")
    assert upward == []


def test_nothing_in_crm_imports_the_worker_package() -> None:
    offenders = [
        name
        for name in MODULES
        if name.startswith("crm.") and name != "crm.cli"
        for target in IMPORTS[name]
        if target == "jobs" or target.startswith("jobs.")
    ]
    assert offenders == []


def test_no_module_is_found_by_name() -> None:
    offenders = [
        name
        for name, path in MODULES.items()
        if "import_module" in path.read_text() or "__import__(" in path.read_text()
    ]
    assert offenders == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("crm")))
def test_no_module_over_500_lines(name: str) -> None:
    assert len(MODULES[name].read_text().splitlines()) <= MAX_LINES


def test_the_layer_check_sees_a_violation() -> None:
    """The rule above would catch a service importing a page module (guards against a check that cannot fail)."""
    assert _layer("crm.directory.pages") == 2 and _layer("crm.directory.organisations") == 1
    assert _layer("crm.models") == 0 and _layer("crm.domains") == 3
    assert "crm.directory.organisations" in IMPORTS["crm.directory.pages"]


def test_every_domain_module_of_the_manifest_exists_and_is_used() -> None:
    """Each domain's jobs, commands, demo and route modules are imported by the manifest (none left unwired)."""
    wired = IMPORTS["crm.domains"]
    for name in MODULES:
        package, _, leaf = name.rpartition(".")
        if (
            leaf in {"jobs", "commands", "demo", "pages", "admin", "api"}
            and package.count(".") == 1
            and package != "crm.web"
        ):
            assert name in wired, f"{name} is not in crm/domains.py"


def test_two_jobs_with_one_id_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import crm.domains as manifest

    first = manifest.all_jobs()[0]
    monkeypatch.setattr(manifest, "DOMAINS", (*manifest.DOMAINS, manifest.Domain("twin", jobs=(first,))))
    with pytest.raises(RuntimeError, match=first.id):
        manifest.all_jobs()
