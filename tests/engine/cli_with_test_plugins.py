"""``python cli_with_test_plugins.py ARGS...``: the ``ganzoo`` command line with the test plugins of
``plugins_for_tests.py`` registered in the process-wide plugin host.

``GANZOO_TEST_MP_START=spawn`` sets the multiprocessing start method (DataLoader workers): spawn is
the default on macOS and Windows, and forkserver on Linux from Python 3.14; unlike fork, the
workers do not inherit the main process's signal handlers."""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

if __name__ == "__main__":
    from plugins_for_tests import add_test_plugins

    from ganzoo import plugins
    from ganzoo.cli import main

    if os.environ.get("GANZOO_TEST_MP_START"):
        multiprocessing.set_start_method(os.environ["GANZOO_TEST_MP_START"])
    add_test_plugins(plugins.get_host())
    sys.argv[0] = "ganzoo"
    main()
