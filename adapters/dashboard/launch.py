"""`tertulia dashboard`: check where it may listen, then become `streamlit run` on the app."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import sys
from pathlib import Path

from config.settings import Settings, SettingsError

APP = Path(__file__).resolve().parent / "app.py"
MIN_PASSWORD = 12  # a guess a second per session: a short one would fall to many sessions


def is_loopback(address: str) -> bool:
    """Whether only this machine can reach `address` (127.0.0.0/8, ::1, localhost)."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name may resolve anywhere: treated as public


def check(settings: Settings) -> None:
    """Refuse to listen beyond this machine without a password, and to start without Streamlit."""
    address = settings.dashboard_address
    password = settings.dashboard_password
    if not is_loopback(address) and password is None:
        raise SettingsError(
            f"TERTULIA_DASHBOARD_PASSWORD is required to listen on {address}"
            " (TERTULIA_DASHBOARD_ADDRESS is not a loopback address)"
        )
    if password is not None and len(password.get_secret_value().strip()) < MIN_PASSWORD:
        raise SettingsError(f"TERTULIA_DASHBOARD_PASSWORD must have {MIN_PASSWORD}+ characters")
    if importlib.util.find_spec("streamlit") is None:
        raise SettingsError("the dashboard is not installed: run `make dashboard`")


def command(settings: Settings, env_file: str) -> list[str]:
    """The `streamlit run` command line: headless, no usage statistics, no file watching."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", settings.dashboard_address,
        "--server.port", str(settings.dashboard_port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--client.toolbarMode", "minimal",
        "--global.developmentMode", "false",
        "--", "--env-file", env_file,
    ]  # fmt: skip


def main(settings: Settings, env_file: str) -> int:
    """Replace this process with the Streamlit server (signals then reach it directly)."""
    check(settings)
    argv = command(settings, env_file)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
    return 0  # not reached: execv only returns by raising
