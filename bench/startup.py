"""How long ``metad run`` takes from process start to its READY line.

Prints, one per line:
  startup_to_ready_s        median over warm starts (existing data directory: every
                            restart after the first, the case systemd lives with)
  startup_cold_to_ready_s   the first start on an empty state directory (initdb included)
Goal: startup_to_ready_s <= 2.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import Daemon, write_demo_config


def one_start(config: Path) -> float:
    d = Daemon(config)
    try:
        d.wait_for("READY", timeout=120)
        elapsed = time.monotonic() - d.started_at
        d.proc.send_signal(signal.SIGTERM)
        code, err = d.rest(timeout=20)
        if code != 0:
            raise SystemExit(f"metad exited {code}: {err}")
        return elapsed
    finally:
        d.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm starts to measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metad-bench-") as tmp:
        config = write_demo_config(Path(tmp))
        cold = one_start(config)
        warm = [one_start(config) for _ in range(args.runs)]
    print(f"startup_cold_to_ready_s={cold:.3f}")
    print(f"startup_to_ready_s={statistics.median(warm):.3f}")


if __name__ == "__main__":
    main()
