"""The Prefer request header (RFC 7240, OData 4.01 §8.2.8): return=minimal|representation and
odata.include-annotations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from starlette.datastructures import Headers

# name[=value], where a value may be a quoted string holding commas (include-annotations lists).
_PREFERENCE = re.compile(r'\s*([A-Za-z0-9_.!#$%&\'*+\-^`|~]+)\s*(?:=\s*("[^"]*"|[^,;\s]*))?[^,]*,?')


@dataclass(frozen=True)
class Preferences:
    values: dict[str, str]

    @property
    def return_representation(self) -> bool:
        return self.values.get("return") == "representation"

    @property
    def return_minimal(self) -> bool:
        return self.values.get("return") == "minimal"

    def includes_annotation(self, name: str) -> bool:
        """Whether odata.include-annotations asks for the annotation `name` (without its '@')."""
        patterns = [
            p.strip() for p in self.values.get("odata.include-annotations", "").split(",") if p.strip()
        ]
        excluded = any(fnmatchcase(name, p[1:]) for p in patterns if p.startswith("-"))
        return not excluded and any(fnmatchcase(name, p) for p in patterns if not p.startswith("-"))


def read_preferences(headers: Headers) -> Preferences:
    values: dict[str, str] = {}
    for header in headers.getlist("prefer"):
        for match in _PREFERENCE.finditer(header):
            values.setdefault(match.group(1).lower(), (match.group(2) or "").strip('"'))
    return Preferences(values)
