"""`tertulia run`: one child process per configured platform, restarted when it dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from adapters.logs import ENV_FILE_CHECKED
from adapters.platforms import CONFIG_ERROR

log = logging.getLogger(__name__)

# A child that ran this long before dying is considered healthy: its backoff starts over.
STABLE_AFTER = 60.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential restart delays: first, first*2, ... up to `cap` seconds."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.first * 2.0 ** max(failures - 1, 0))


def platform_commands(platforms: Sequence[str], env_file: str) -> dict[str, list[str]]:
    """The command line that starts each platform's adapter process."""
    return {p: [sys.executable, "-m", "adapters.cli", "--env-file", env_file, p] for p in platforms}


class Supervisor:
    """Keeps one process per platform alive until stopped."""

    def __init__(
        self,
        commands: Mapping[str, Sequence[str]],
        *,
        backoff: Backoff = Backoff(),
        stop_timeout: float = 10.0,
    ) -> None:
        self.commands = commands
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self.starts: dict[str, int] = {name: 0 for name in commands}
        self._stopping = asyncio.Event()
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self.exit_code = 0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> int:
        await asyncio.gather(*(self._keep(name, cmd) for name, cmd in self.commands.items()))
        return self.exit_code

    async def _keep(self, name: str, cmd: Sequence[str]) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(*cmd)
            self._procs[name] = proc
            self.starts[name] += 1
            log.warning("%s started (pid %s)", name, proc.pid)
            code = await self._wait_or_stop(proc)
            if self._stopping.is_set():
                return
            if code == CONFIG_ERROR:
                log.error("%s exited with a configuration error; not restarting", name)
                self.exit_code = CONFIG_ERROR
                self.stop()
                return
            failures = 1 if time.monotonic() - started > STABLE_AFTER else failures + 1
            delay = self.backoff.delay(failures)
            log.warning("%s exited with code %s; restarting in %.1f s", name, code, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _wait_or_stop(self, proc: asyncio.subprocess.Process) -> int:
        waiter = asyncio.ensure_future(proc.wait())
        stopper = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not waiter.done():
            proc.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(waiter), self.stop_timeout)
            except TimeoutError:
                log.warning(
                    "pid %s ignored SIGTERM for %.0f s; killing it", proc.pid, self.stop_timeout
                )
                proc.kill()
                await waiter
        return waiter.result()


def main(platforms: Sequence[str], env_file: str) -> int:
    """Run every configured platform until SIGTERM or Ctrl-C; 2 if one cannot start."""

    async def run() -> int:
        supervisor = Supervisor(platform_commands(platforms, env_file))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, supervisor.stop)
        return await supervisor.run()

    # The children read the same settings file: its permissions were checked here, once.
    os.environ[ENV_FILE_CHECKED] = "1"
    print(f"tertulia: running {', '.join(platforms)}; Ctrl-C stops", file=sys.stderr)
    return asyncio.run(run())
