"""``python -m auditor`` is ``uccx-audit``."""

from auditor.cli import main

main()
