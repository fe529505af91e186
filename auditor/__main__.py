"""``python -m auditor`` is ``uccx-audit``."""

from auditor.cli.app import main

main()
