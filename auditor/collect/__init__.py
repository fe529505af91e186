"""What is out there: inventories, handshakes, certificates, keystores, the VOS CLI, and
:func:`gather`, the one collector every command calls."""

from auditor.collect.gather import gather, gather_many

__all__ = ["gather", "gather_many"]
