"""Reports a change board can read: HTML, Markdown, JSON, JUnit, and the pre/post diff."""

from auditor.report.context import ReportMeta
from auditor.report.render import EXTENSIONS, FORMATS, render, write_report

__all__ = ["EXTENSIONS", "FORMATS", "ReportMeta", "render", "write_report"]
