"""Render an audit as HTML, Markdown, JSON or JUnit XML; one function per format."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from auditor.common.fileio import write_atomic, write_atomic_chunks
from auditor.common.resources import templates_dir
from auditor.common.textsafe import visible
from auditor.evaluate.plan import planned
from auditor.model.audit import Audit, audit_to_json, save_audit
from auditor.model.facts import state_words
from auditor.render.context import ReportMeta, build_context
from auditor.render.markdown import render_markdown

if TYPE_CHECKING:
    from jinja2 import Environment

FORMATS = ("html", "md", "json", "junit")
EXTENSIONS = {"html": "html", "md": "md", "json": "json", "junit": "xml"}


def _inert(value: object) -> object:
    """Every string a template prints, control characters shown as escapes (before
    autoescaping makes it text)."""
    if isinstance(value, Markup):  # markup the template built from escaped values
        return Markup(visible(str(value), multiline=True))
    return visible(value, multiline=True) if isinstance(value, str) else value


_CSS_PLAIN = re.compile(r"[A-Za-z0-9 ,.:()_-]")


def css_string(value: object) -> Markup:
    """Text for a CSS string in a ``<style>`` element: every character except letters,
    digits and a little punctuation becomes a CSS escape, so nothing from a server or a
    ticket can end the string, the rule or the element."""
    text = "".join(c if _CSS_PLAIN.fullmatch(c) else f"\\{ord(c):06x} " for c in str(value))
    return Markup(text)


@cache
def environment() -> Environment:
    """Jinja2 with autoescaping for HTML: every value from a server is text, never markup.
    Imported here: only HTML needs it (~25 ms), not Markdown, JSON, JUnit or the terminal."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(str(templates_dir())),
                      autoescape=select_autoescape(["html", "html.j2"], default=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, finalize=_inert)
    env.filters["state"] = state_words
    env.filters["css_string"] = css_string
    return env


def render_html(audit: Audit, meta: ReportMeta) -> str:
    return environment().get_template("report.html.j2").render(build_context(audit, meta))


def render(audit: Audit, fmt: str, meta: ReportMeta | None = None) -> str:
    """The report in one of :data:`FORMATS`."""
    meta = meta or ReportMeta()
    if fmt == "html":
        return render_html(audit, meta)
    if fmt == "md":
        return render_markdown(audit, meta)
    if fmt == "json":
        return audit_to_json(planned(audit))
    if fmt == "junit":
        from auditor.render.junit import render_junit
        return render_junit(audit, meta)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def write_report(audit: Audit, fmt: str, path: str | Path,
                 meta: ReportMeta | None = None) -> Path:
    """Render and write atomically (a reader never sees half a report)."""
    if fmt == "json":
        return save_audit(audit, path)
    if fmt == "html":
        # streamed into the file: on a thousand endpoints the page (~14 MB) as one string,
        # with the pieces it is joined from, raised the audit's peak memory by a third
        template = environment().get_template("report.html.j2")
        return write_atomic_chunks(path, template.generate(build_context(
            audit, meta or ReportMeta())))
    return write_atomic(path, render(audit, fmt, meta))
