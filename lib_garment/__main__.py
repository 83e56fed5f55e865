"""``python -m lib_garment``: the command line (see lib_garment/cli/)."""

from __future__ import annotations

import sys

from lib_garment.cli.main import main

sys.exit(main())
