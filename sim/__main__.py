"""``python -m sim``: the simulator without the rest of ``metad`` (benchmarks, demos)."""

from __future__ import annotations

import argparse
import sys

from sim.cli import add_arguments, run


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim", description="metad's Graph API simulator"
    )
    parser.add_argument("-c", "--config", default="metad.toml", metavar="FILE")
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
