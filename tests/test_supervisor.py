"""`tertulia run`'s supervisor: restarts with backoff, stops children on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from adapters.supervisor import Backoff, Supervisor


def test_backoff_grows_and_is_capped() -> None:
    b = Backoff(first=1, cap=10)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 10, 10]


async def test_a_dying_child_is_restarted_and_a_healthy_one_is_left_alone(tmp_path: Path) -> None:
    dies = [sys.executable, "-c", "import sys; sys.exit(3)"]
    lives = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup = Supervisor({"dies": dies, "lives": lives}, backoff=Backoff(first=0.05, cap=0.1))
    task = asyncio.create_task(sup.run())
    for _ in range(200):
        if sup.starts["dies"] >= 3:
            break
        await asyncio.sleep(0.05)
    sup.stop()
    assert await asyncio.wait_for(task, 15) == 0
    assert sup.starts["dies"] >= 3
    assert sup.starts["lives"] == 1


async def test_a_configuration_error_stops_everything_with_code_2() -> None:
    bad = [sys.executable, "-c", "import sys; sys.exit(2)"]
    lives = [sys.executable, "-c", "import time; time.sleep(60)"]
    sup = Supervisor({"bad": bad, "lives": lives}, backoff=Backoff(first=0.05))
    assert await asyncio.wait_for(sup.run(), 15) == 2
    assert sup.starts["bad"] == 1


def test_sigterm_stops_the_supervisor_and_its_children(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = tmp_path / "sup.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, signal, sys
            from adapters.supervisor import Supervisor
            async def main():
                child = [sys.executable, "-c",
                         "import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); time.sleep(60)"]
                sup = Supervisor({{"child": child}})
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, sup.stop)
                sys.exit(await sup.run())
            asyncio.run(main())
            """
        )
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=root, env={**os.environ, "PYTHONPATH": str(root)}
    )
    for _ in range(200):
        if marker.exists() and marker.read_text():
            break
        import time

        time.sleep(0.05)
    child_pid = int(marker.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    try:
        os.kill(child_pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive
