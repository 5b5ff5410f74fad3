"""Azure Functions route templates ('calls/{id}', '{id:int?}', '{*rest}') as matchers."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\?)?\}")
_CONSTRAINTS = {"int": r"-?[0-9]+", "alpha": r"[A-Za-z]+", "guid": r"[0-9a-fA-F-]{36}"}


@dataclass(frozen=True)
class RouteTemplate:
    template: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, template: str) -> RouteTemplate:
        regex = ""
        position = 0
        for match in _PARAM.finditer(template):
            regex += re.escape(template[position : match.start()])
            catch_all, name, constraint, optional = match.groups()
            body = ".*" if catch_all else _CONSTRAINTS.get(constraint or "", r"[^/]+")
            group = f"(?P<{name}>{body})"
            if optional or catch_all:
                # An optional last segment takes its slash with it: 'items/{id?}' matches 'items'.
                if regex.endswith("/"):
                    regex = regex[:-1] + f"(?:/{group})?"
                else:
                    regex += f"{group}?"
            else:
                regex += group
            position = match.end()
        regex += re.escape(template[position:])
        return cls(template, re.compile(regex, re.IGNORECASE))

    def match(self, path: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path.strip("/"))
        if found is None:
            return None
        return {name: value for name, value in found.groupdict().items() if value is not None}
