from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# The parse cache (auditor/cache.py) of this test session, the CLIs it starts included,
# lives in a fresh folder: tests neither read a stale one nor write into the home folder.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="uccx-audit-test-cache-")
