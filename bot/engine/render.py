"""Replies rendered from Jinja2 templates: one template per message, for every channel."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from bot.core.markup import TemplateText, escape

_BLANK_RUNS = re.compile(r"\n{3,}")


class Renderer:
    """Renders templates/ with StrictUndefined; every printed value is markup-escaped."""

    def __init__(self, directory: Path, globals_: dict[str, Any] | None = None) -> None:
        self.directory = directory
        self.env = Environment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            finalize=escape,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,  # an include ends its paragraph
            auto_reload=False,  # templates are read once; no file check on every message
            extensions=["jinja2.ext.do"],
        )
        self.env.globals.update(globals_ or {})
        self.env.filters["markup"] = TemplateText

    def exists(self, name: str) -> bool:
        return (self.directory / name).is_file()

    def template(self, name: str) -> Template:
        return self.env.get_template(name)

    def render(self, name: str, /, **context: Any) -> str:
        """Render one message, trimmed, with at most one blank line in a row."""
        text = self.env.get_template(name).render(**context)
        return _BLANK_RUNS.sub("\n\n", text.strip())

    def names(self, name: str, /, **context: Any) -> Any:
        """The variables a template sets (`{% set %}`), e.g. button labels in labels.j2."""
        return self.env.get_template(name).make_module(context)
