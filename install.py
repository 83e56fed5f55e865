"""WebUI install hook (run by the launcher at every start): install only what Garment Studio is missing.

Never changes a package the WebUI pins; makes no pip call when everything is already there.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib_garment.installer import main

# The launcher runs this file as a script; run the check on a plain import too, but only exit from a script.
_exit_code = main()
if __name__ == "__main__":
    sys.exit(_exit_code)
