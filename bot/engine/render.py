"""Replies rendered from Jinja2 templates: one template per message, for every channel."""

from __future__ import annotations

import re
from collections.abc import Hashable, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    meta,
    nodes,
)

from bot.core.markup import TemplateText, escape

_BLANK_RUNS = re.compile(r"\n{3,}")
# Rendered messages kept for reuse (see Renderer.render); the store is emptied when full.
RENDERED_KEPT = 4096
# What a person typed or who they are: a message that prints any of these is never kept (nor
# keyed by them), so after a forget no copy lingers in a process's memory either.
NEVER_KEPT = frozenset({"facts", "answers", "answer", "answer_labels", "lead", "text", "data",
                        "mention", "name", "contact"})


class BrokenTemplate(Exception):
    """A template that cannot be compiled, named with its line."""


class _Uncacheable(Exception):
    """A context value a rendered message cannot be keyed by."""


class _Same:
    """A frozen object keyed by identity (hashing it by value would cost more than rendering,
    or fail on a list inside); the key holds the object, so its id is not reused while the
    key is kept."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


def _token(value: Any) -> Hashable:
    """A hashable stand-in for a context value that equals another's only when a template
    would print both alike; _Uncacheable for values that may change behind the key (mutable
    objects, lazy mappings)."""
    kind = type(value)
    if kind is str or kind is int or kind is float or value is None or value is _MISSING:
        return value
    if kind is bool:
        return (bool, value)  # True == 1, yet a template prints them differently
    if kind is list or kind is tuple:
        return (kind, *(_token(item) for item in value))
    if kind is dict:
        return (dict, *((key, _token(item)) for key, item in value.items()))
    params = getattr(kind, "__dataclass_params__", None)
    if params is not None and params.frozen:
        return _Same(value)
    raise _Uncacheable


class _ReadingLoader(FileSystemLoader):
    """Loads templates as Jinja's loaders do, noting from that one parse the names each may
    read (every name it loads: a few of its own too, which a context never holds) and the
    templates it uses (None for one named at render time)."""

    def __init__(self, directory: Path) -> None:
        super().__init__(str(directory))
        self.reads: dict[str, tuple[frozenset[str], tuple[str | None, ...]]] = {}

    def load(self, environment: Environment, name: str,
             globals: MutableMapping[str, Any] | None = None) -> Template:
        source, filename, uptodate = self.get_source(environment, name)
        tree = environment.parse(source, name, filename)
        # Not meta.find_undeclared_variables: it generates the template's code once more.
        loaded = frozenset(node.name for node in tree.find_all(nodes.Name) if node.ctx == "load")
        self.reads[name] = (loaded, tuple(meta.find_referenced_templates(tree)))
        code = environment.compile(tree, name, filename)
        return environment.template_class.from_code(
            environment, code, environment.make_globals(None) if globals is None else globals,
            uptodate)


# A name the context lacks: one of the template's own (a loop's, a macro's), or a variable
# the template tests with `is defined`.
_MISSING = object()


class Renderer:
    """Renders templates/ with StrictUndefined; every printed value is markup-escaped."""

    def __init__(self, directory: Path, globals_: dict[str, Any] | None = None) -> None:
        self.directory = directory
        self._loader = _ReadingLoader(directory)
        self.env = Environment(
            loader=self._loader,
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
        self._reads: dict[str, tuple[str, ...] | None] = {}
        self._rendered: dict[tuple[Hashable, ...], str] = {}

    def exists(self, name: str) -> bool:
        return (self.directory / name).is_file()

    def template(self, name: str) -> Template:
        template = self._templates.get(name)
        if template is None:
            template = self._templates[name] = self.env.get_template(name)
        return template

    def compile_all(self) -> int:
        """Compile every template now (a server's start: its first people then wait for none,
        and a broken template stops the start instead of a person's message); how many."""
        names = sorted(path.relative_to(self.directory).as_posix()
                       for path in self.directory.rglob("*.j2"))
        for name in names:
            try:
                self.template(name)
            except TemplateError as error:
                line = getattr(error, "lineno", None)
                raise BrokenTemplate(f"the template {name} cannot be compiled"
                                     f"{f' (line {line})' if line else ''}: {error}") from None
        return len(names)

    def render(self, name: str, /, **context: Any) -> str:
        """Render one message, trimmed, with at most one blank line in a row. A message is
        rendered once for each set of values of the variables its template (and what it
        includes) reads: most questions read only the practice and who the check is for."""
        key = self._key(name, context)
        if key is not None:
            text = self._rendered.get(key)
            if text is not None:
                return text
        text = self.template(name).render(**context).strip()
        if "\n\n\n" in text:
            text = _BLANK_RUNS.sub("\n\n", text)
        if key is not None:
            if len(self._rendered) >= RENDERED_KEPT:
                self._rendered.clear()
            self._rendered[key] = text
        return text

    def _key(self, name: str, context: dict[str, Any]) -> tuple[Hashable, ...] | None:
        """What the message depends on, or None when it cannot be told (see `_token`)."""
        if name in self._reads:
            reads = self._reads[name]
        else:
            reads = self._reads[name] = self._all_reads(name)
        if reads is None:
            return None
        try:
            return (name, *(_token(context.get(variable, _MISSING)) for variable in reads))
        except _Uncacheable:
            return None

    def _all_reads(self, name: str) -> tuple[str, ...] | None:
        """The variables a template and everything it includes or imports read, in a fixed
        order; None when a template it uses is named at render time, or one of them prints
        something of the person's own (NEVER_KEPT)."""
        used, named_late = self._walk(name)
        if named_late:
            return None
        read = set().union(*(self._parsed(template)[0] for template in (name, *used)))
        if read & NEVER_KEPT:
            return None
        return tuple(sorted(read - set(self.env.globals)))

    def uses(self, name: str) -> set[str]:
        """The templates a template includes or imports, and theirs in turn (those named
        at render time left out)."""
        return self._walk(name)[0]

    def _walk(self, name: str) -> tuple[set[str], bool]:
        """The templates `name` uses, however deep, and whether one is named at render time."""
        used: set[str] = set()
        named_late, pending = False, [name]
        while pending:
            for template in self._parsed(pending.pop())[1]:
                if template is None:
                    named_late = True
                elif template not in used:
                    used.add(template)
                    pending.append(template)
        return used, named_late

    def _parsed(self, name: str) -> tuple[frozenset[str], tuple[str | None, ...]]:
        """What a template reads itself, and the templates it uses (compiled on first use)."""
        if name not in self._loader.reads:
            self.template(name)
        return self._loader.reads[name]

    def names(self, name: str, /, **context: Any) -> Any:
        """The variables a template sets (`{% set %}`), e.g. button labels in labels.j2."""
        return self.template(name).make_module(context)

    def reads(self, name: str) -> set[str]:
        """The context variables a template reads (beyond the environment's globals)."""
        source, _, _ = self._loader.get_source(self.env, name)
        return meta.find_undeclared_variables(self.env.parse(source)) - set(self.env.globals)
