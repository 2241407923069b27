"""The YAML dialect of flow and command files: only true/false are booleans."""

from __future__ import annotations

import re

import yaml

# libyaml's parser where PyYAML was built with it (its wheels are): ten times faster than the
# pure-Python one, which took 0.15 s of every start-up to read the flows.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FlowLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """YAML with only true/false as booleans, so answers like `no`, `yes`, `on` stay text."""


FlowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "tTfF":
    FlowLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), [_first]
    )
