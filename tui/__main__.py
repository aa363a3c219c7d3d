"""``python -m tui --socket PATH`` (``metad tui`` is the usual way in)."""

from __future__ import annotations

import argparse

from tui import main

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tui", description="The metad console.")
    parser.add_argument("--socket", required=True, metavar="PATH", help="the daemon's socket")
    raise SystemExit(main(parser.parse_args().socket))
