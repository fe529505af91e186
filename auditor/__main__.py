"""``python -m auditor`` is ``uccx-audit``."""

import sys

try:
    from auditor.cli.app import main
except KeyboardInterrupt:  # Ctrl-C while the tool was still loading
    sys.stderr.write("interrupted: nothing was written\n")
    sys.exit(130)

main()
