"""Reports a change board can read: HTML, Markdown, JSON, JUnit, and the pre/post diff."""

from auditor.render.context import ReportMeta
from auditor.render.formats import EXTENSIONS, FORMATS, render, write_report

__all__ = ["EXTENSIONS", "FORMATS", "ReportMeta", "render", "write_report"]
