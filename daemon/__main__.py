"""``python -m daemon`` is ``metad``."""

import sys

from daemon.cli import main

sys.exit(main())
