"""The Prefer request header (RFC 7240; OData 4.01 Protocol, "Header Fields", "Prefer"):
return=minimal|representation and odata.include-annotations.

A client writes this header, so reading it costs time in proportion to its length and no more: the
header is read in one forward pass (its elements, quoted strings and names found by possessive
matches, which never backtrack), at most MAX_PREFERENCES of its elements are looked at, and
include-annotations patterns are compared as names, never compiled into regular expressions, kept in
no cache, and at most MAX_ANNOTATION_PATTERNS of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, islice

from starlette.datastructures import Headers

from graphtasks.web.responses import GraphResponse

INCLUDE_ANNOTATIONS = "odata.include-annotations"
# RFC 7240 and OData define about a dozen preferences between them; past this many elements (in all
# the request's Prefer headers) the rest are ignored, as RFC 7240 lets a server ignore any preference.
MAX_PREFERENCES = 64
# Clients name one annotation or a namespace or two; Graph documents no limit. A longer list makes
# the whole preference ignored, as OData allows for this one ("only a hint to the service"): dropping
# only the tail could drop an exclusion and include what the client declined.
MAX_ANNOTATION_PATTERNS = 32

# One comma-separated element: runs without quotes or commas, and quoted strings (escapes and an
# unclosed end included). The two alternatives start on different characters and every repetition
# is possessive, so no match is ever retried.
_ELEMENT = re.compile(r'(?:[^",]++|"(?:[^"\\]++|\\.)*+"?)*+', re.DOTALL)
# A preference's name (RFC 9110 token characters) and, when it has a value, the `=` before it.
_HEAD = re.compile(r"\s*+([!#$%&'*+\-.^_`|~0-9A-Za-z]++)\s*+(=\s*+)?")
_QUOTED = re.compile(r'"((?:[^"\\]++|\\.)*+)"?', re.DOTALL)
_WORD = re.compile(r"[^;\s]*+")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True)
class Preferences:
    # Each preference named once, by its lower-case name; the value unquoted ("" when none).
    values: dict[str, str]

    @property
    def return_representation(self) -> bool:
        return self.values.get("return") == "representation"

    @property
    def return_minimal(self) -> bool:
        return self.values.get("return") == "minimal"

    def includes_annotation(self, name: str) -> bool:
        """Whether odata.include-annotations asks for the annotation `name` (without its '@')."""
        asked = self.values.get(INCLUDE_ANNOTATIONS)
        return asked is not None and AnnotationFilter.parse(asked).includes(name)


def as_represented(response: GraphResponse) -> GraphResponse:
    """A write's answer showing the entity, as `Prefer: return=representation` asked."""
    response.headers["preference-applied"] = "return=representation"
    return response


def read_preferences(headers: Headers) -> Preferences:
    if "prefer" not in headers:  # most requests: nothing to parse
        return Preferences({})
    values: dict[str, str] = {}
    elements = chain.from_iterable(_elements(header) for header in headers.getlist("prefer"))
    for element in islice(elements, MAX_PREFERENCES):
        preference = _preference(element)
        if preference is not None:
            # RFC 7240, section 2: names compare without regard to case, and only the first instance
            # of a preference counts.
            values.setdefault(preference[0].lower(), preference[1])
    return Preferences(values)


def _elements(header: str) -> Iterator[str]:
    """The comma-separated elements of one header; a comma inside a quoted string separates nothing."""
    position = 0
    while position <= len(header):
        element = _ELEMENT.match(header, position)
        if element is None:  # never: the pattern matches the empty string
            return
        yield element.group()
        position = element.end() + 1  # past the comma


def _preference(element: str) -> tuple[str, str] | None:
    """`name[=value][; parameters]` as (name, value); parameters are passed over (no preference served
    takes one), and an element that does not start with a name is ignored, as an unknown one is."""
    head = _HEAD.match(element)
    if head is None:
        return None
    if head.group(2) is None:
        return head.group(1), ""
    quoted = _QUOTED.match(element, head.end())
    if quoted is None:
        word = _WORD.match(element, head.end())
        return head.group(1), word.group() if word is not None else ""
    value = quoted.group(1)
    return head.group(1), _ESCAPED.sub(r"\1", value) if "\\" in value else value


@dataclass(frozen=True)
class _Pattern:
    """One include-annotations item (OData ABNF `annotationIdentifier`): `*`, `namespace.*` or a
    qualified term name, optionally `#qualifier`, excluded when written with a leading `-`."""

    excluded: bool
    # "" for `*`; "namespace." for `namespace.*`; the whole name for a term.
    name: str
    wildcard: bool
    qualifier: str | None

    @classmethod
    def parse(cls, text: str) -> _Pattern:
        excluded = text.startswith("-")
        body, _, qualifier = text.removeprefix("-").partition("#")
        wildcard = body == "*" or body.endswith(".*")
        return cls(excluded, body[:-1] if wildcard else body, wildcard, qualifier or None)

    def specificity(self, name: str, qualifier: str | None) -> tuple[int, int, int] | None:
        """How closely this pattern names the annotation, or None when it does not match it. OData 4.01
        Protocol, "Preference include-annotations": an explicit name takes precedence over a pattern, a
        longer pattern over a shorter one; a qualifier is more specific still."""
        if self.qualifier is not None and self.qualifier != qualifier:
            return None
        if self.wildcard and name.startswith(self.name):
            return (0, len(self.name), self.qualifier is not None)
        if not self.wildcard and name == self.name:
            return (1, len(self.name), self.qualifier is not None)
        return None


@dataclass(frozen=True)
class AnnotationFilter:
    """The annotations an include-annotations value asks for; any other item is simply never matched."""

    patterns: tuple[_Pattern, ...]

    @classmethod
    def parse(cls, value: str) -> AnnotationFilter:
        items = [item for item in (text.strip() for text in value.split(",")) if item]
        if len(items) > MAX_ANNOTATION_PATTERNS:
            return cls(())
        return cls(tuple(_Pattern.parse(item) for item in items))

    def includes(self, annotation: str) -> bool:
        name, _, qualifier = annotation.partition("#")
        best: tuple[tuple[int, int, int], bool] | None = None
        for pattern in self.patterns:
            specificity = pattern.specificity(name, qualifier or None)
            # Equally specific inclusion and exclusion: undefined in OData; leaving it out is the
            # answer that gives the client nothing it declined.
            if specificity is not None and (best is None or (specificity, pattern.excluded) > best):
                best = (specificity, pattern.excluded)
        return best is not None and not best[1]
