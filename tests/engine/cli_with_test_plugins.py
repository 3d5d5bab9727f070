"""``python cli_with_test_plugins.py ARGS...``: the ``ganzoo`` command line with the test plugins of
``plugins_for_tests.py`` registered in the process-wide plugin host."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plugins_for_tests import add_test_plugins  # noqa: E402

from ganzoo import plugins  # noqa: E402
from ganzoo.cli import main  # noqa: E402

add_test_plugins(plugins.get_host())

if __name__ == "__main__":
    sys.argv[0] = "ganzoo"
    main()
