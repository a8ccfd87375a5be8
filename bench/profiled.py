"""`python -m bench.profiled OUT.prof ARGS...`: tertulia's CLI under cProfile, timed in CPU seconds.

bench_external uses it when BENCH_PROFILE is set: CPU time, not wall time, so the event
loop's idle waits do not show up as cost.
"""

from __future__ import annotations

import cProfile
import sys
import time

from adapters.cli import main

if __name__ == "__main__":
    profile = cProfile.Profile(time.process_time)
    code = profile.runcall(main, sys.argv[2:])
    profile.dump_stats(sys.argv[1])
    sys.exit(code)
