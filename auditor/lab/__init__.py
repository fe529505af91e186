"""The built-in lab: CA hierarchies and loopback TLS endpoints that behave like UCCX 11.5."""

from auditor.lab.scenarios import SCENARIOS, Scenario, get_scenario
from auditor.lab.server import Lab

__all__ = ["SCENARIOS", "Lab", "Scenario", "get_scenario"]
