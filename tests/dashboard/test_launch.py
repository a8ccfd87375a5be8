"""`tertulia dashboard` as a real subprocess: where it refuses to listen, and the command it runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.dashboard import launch
from config.settings import Settings, SettingsError
from tests.processes import NO_SETTINGS, ROOT, clean_env


def _settings(**env: str) -> Settings:
    return Settings(_env_file=None, **env)  # type: ignore[call-arg, arg-type]


def dashboard(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", "--env-file", NO_SETTINGS, "dashboard"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**clean_env(), "TERTULIA_DB": str(tmp_path / "t.db"), **env},
    )


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "192.168.1.20", "dashboard.example"])
def test_it_refuses_to_listen_beyond_this_machine_without_a_password(
    address: str, tmp_path: Path
) -> None:
    done = dashboard({"TERTULIA_DASHBOARD_ADDRESS": address}, tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "TERTULIA_DASHBOARD_PASSWORD is required" in line and address in line
    assert not (tmp_path / "t.db").exists()  # refused before anything was opened


def test_a_bad_port_is_one_line_naming_it(tmp_path: Path) -> None:
    done = dashboard({"TERTULIA_DASHBOARD_PORT": "70000"}, tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("tertulia: TERTULIA_DASHBOARD_PORT:")


def test_loopback_addresses_need_no_password() -> None:
    assert all(map(launch.is_loopback, ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"]))
    assert not any(map(launch.is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.com"]))


def test_a_password_allows_any_address_and_is_never_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TERTULIA_DASHBOARD_PASSWORD", raising=False)
    settings = _settings(
        TERTULIA_DASHBOARD_ADDRESS="0.0.0.0",
        TERTULIA_DASHBOARD_PASSWORD="hunter2-secret",
        TERTULIA_DASHBOARD_PORT="8600",
    )
    launch.check(settings)  # does not raise
    argv = launch.command(settings, "my.env")
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
    assert argv[argv.index("--server.port") + 1] == "8600"
    assert argv[argv.index("--server.headless") + 1] == "true"
    assert argv[argv.index("--browser.gatherUsageStats") + 1] == "false"
    assert argv[-3:] == ["--", "--env-file", "my.env"]
    assert not any("hunter2" in part for part in argv)
    assert "hunter2" not in repr(settings)
    with pytest.raises(SettingsError, match="TERTULIA_DASHBOARD_PASSWORD"):
        launch.check(_settings(TERTULIA_DASHBOARD_ADDRESS="0.0.0.0"))
    # A password that a guess a second could find is refused, wherever it listens.
    for weak in ("a", " " * 20, "hunter2"):
        with pytest.raises(SettingsError, match="TERTULIA_DASHBOARD_PASSWORD must have 12"):
            launch.check(_settings(TERTULIA_DASHBOARD_PASSWORD=weak))


def test_without_the_extra_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SettingsError, match="run `make dashboard`"):
        launch.check(_settings())
