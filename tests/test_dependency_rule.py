"""The dependency rule from STYLE.md, checked by parsing every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "storage", "config")
SDKS = ("google.genai", "openai", "llama_cpp", "discord", "telegram")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from google import genai` imports google.genai.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules() -> dict[str, set[str]]:
    return {
        str(p.relative_to(ROOT)): _imports(p)
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
    }


def _hits(imports: set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in imports)


def test_layers_import_only_what_they_may():
    forbidden = {
        "bot/": ("adapters", "discord", "telegram"),
        "storage/": ("adapters", "bot"),
        "config/": ("adapters", "bot", "storage"),
    }
    problems = [
        f"{module} imports {name}"
        for module, imports in _modules().items()
        for layer, names in forbidden.items()
        if module.startswith(layer)
        for name in names
        if _hits(imports, name)
    ]
    assert problems == []


def test_each_sdk_is_imported_by_one_module_only():
    modules = _modules()
    owners = {sdk: [m for m, imports in modules.items() if _hits(imports, sdk)] for sdk in SDKS}
    assert {sdk: len(found) for sdk, found in owners.items() if len(found) > 1} == {}


def test_the_rule_checker_sees_imports():
    # Guards the checker itself: it must find the SDKs where they are used.
    assert _hits(_imports(ROOT / "adapters" / "runtime.py"), "bot.engine")
