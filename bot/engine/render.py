"""Replies rendered from Jinja2 templates: one template per message, for every channel."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, meta

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
        # Each template compiled once, kept here: Jinja's own cache is an LRU under a lock,
        # which cost more per message than the lookup needs (templates never reload).
        self._templates: dict[str, Template] = {}

    def exists(self, name: str) -> bool:
        return (self.directory / name).is_file()

    def template(self, name: str) -> Template:
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self.env.get_template(name)
        return template

    def render(self, name: str, /, **context: Any) -> str:
        """Render one message, trimmed, with at most one blank line in a row."""
        text = self.template(name).render(**context).strip()
        return _BLANK_RUNS.sub("\n\n", text) if "\n\n\n" in text else text

    def names(self, name: str, /, **context: Any) -> Any:
        """The variables a template sets (`{% set %}`), e.g. button labels in labels.j2."""
        return self.template(name).make_module(context)

    def reads(self, name: str) -> set[str]:
        """The context variables a template reads (beyond the environment's globals)."""
        source, _, _ = self.env.loader.get_source(self.env, name)  # type: ignore[union-attr]
        return meta.find_undeclared_variables(self.env.parse(source)) - set(self.env.globals)
