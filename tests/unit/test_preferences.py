"""graphtasks.web.preferences: the Prefer header read in one pass and include-annotations matched as
names (docs/resilience.md, "Prefer and $batch headers"; OData 4.01 Protocol, "Preference
include-annotations"; RFC 7240). The cases of the old parser stay in tests/unit/test_web_pure.py."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from graphtasks.web.preferences import (
    MAX_ANNOTATION_PATTERNS,
    MAX_PREFERENCES,
    AnnotationFilter,
    read_preferences,
)

NOTE = "graphtasks.statusNote"


def prefer(*values: str) -> Headers:
    return Headers(raw=[(b"prefer", value.encode("latin-1")) for value in values])


def include(value: str) -> str:
    return f'odata.include-annotations="{value}"'


@pytest.mark.parametrize(
    ("headers", "values"),
    [
        pytest.param(
            ('return=minimal; a="x,y", wait=1',), {"return": "minimal", "wait": "1"}, id="comma-in-param"
        ),
        pytest.param(('a="x\\"y", b=2',), {"a": 'x"y', "b": "2"}, id="escaped-quote"),
        pytest.param(('a="x,y\\\\", b=2',), {"a": "x,y\\", "b": "2"}, id="escaped-backslash"),
        pytest.param(('a="unclosed, b=2',), {"a": "unclosed, b=2"}, id="unclosed-quote-runs-to-the-end"),
        pytest.param((",, ,return=minimal,",), {"return": "minimal"}, id="empty-elements"),
        pytest.param(('"quoted"=1, return=minimal',), {"return": "minimal"}, id="quoted-name-ignored"),
        pytest.param(("=1, ;x, return=minimal",), {"return": "minimal"}, id="no-name-ignored"),
        pytest.param(
            ("Return=minimal, return=representation",), {"return": "minimal"}, id="first-wins-any-case"
        ),
        pytest.param(("return=Minimal",), {"return": "Minimal"}, id="values-keep-their-case"),
        pytest.param(("return=",), {"return": ""}, id="empty-value"),
        pytest.param(("\treturn\t=\tminimal\t",), {"return": "minimal"}, id="tabs"),
    ],
)
def test_read_preferences(headers: tuple[str, ...], values: dict[str, str]) -> None:
    assert read_preferences(prefer(*headers)).values == values


def test_elements_past_the_limit_are_ignored_across_headers() -> None:
    first = ",".join(f"p{i}" for i in range(MAX_PREFERENCES - 1))
    preferences = read_preferences(prefer(first, "return=minimal, wait=5", "respond-async"))
    assert len(preferences.values) == MAX_PREFERENCES
    assert (preferences.values["return"], "wait" in preferences.values) == ("minimal", False)


@pytest.mark.parametrize(
    ("value", "annotation", "included"),
    [
        # The most specific item decides (OData 4.01 Protocol, "Preference include-annotations").
        ("-*,graphtasks.*", NOTE, True),
        ("-*,graphtasks.statusNote", NOTE, True),
        ("graphtasks.*,-graphtasks.statusNote", NOTE, False),
        ("-graphtasks.*,graphtasks.statusNote", NOTE, True),
        ("*,-graphtasks.*", NOTE, False),
        ("a.*,-a.b.*", "a.b.c", False),
        ("-a.*,a.b.*", "a.b.c", True),
        ("-a.*,a.b.*", "a.c", False),
        # Equally specific inclusion and exclusion: left out.
        ("graphtasks.statusNote,-graphtasks.statusNote", NOTE, False),
        ("-*,*", NOTE, False),
        # Namespaces match recursively, and only at a dot.
        ("graphtasks.*", "graphtasks.sub.note", True),
        ("graph.*", NOTE, False),
        ("graphtasks.*", "graphtasks", False),
        # Qualifiers: a qualified item names only that qualifier; an unqualified one any.
        ("graphtasks.*#tablet", NOTE, False),
        ("graphtasks.*#tablet", f"{NOTE}#tablet", True),
        ("graphtasks.*", f"{NOTE}#tablet", True),
        ("graphtasks.*,-graphtasks.*#tablet", f"{NOTE}#tablet", False),
        # Anything that is not `*`, `namespace.*` or a name matches nothing: no glob, no regex.
        ("*a*", NOTE, False),
        ("graphtasks.status*", NOTE, False),
        ("graphtasks.statusNot?", NOTE, False),
        ("[g]raphtasks.statusNote", NOTE, False),
        ("GRAPHTASKS.STATUSNOTE", NOTE, False),
        ("", NOTE, False),
        (" , ,", NOTE, False),
        ("-", NOTE, False),
    ],
)
def test_includes_annotation(value: str, annotation: str, included: bool) -> None:
    assert read_preferences(prefer(include(value))).includes_annotation(annotation) is included


@pytest.mark.parametrize(
    ("count", "included"),
    [(MAX_ANNOTATION_PATTERNS, True), (MAX_ANNOTATION_PATTERNS + 1, False)],
)
def test_a_list_past_the_limit_is_ignored_whole(count: int, included: bool) -> None:
    """Ignored whole, not cut: cutting could drop an exclusion at its end."""
    value = ",".join([*(f"n{i}.t" for i in range(count - 1)), NOTE])
    assert read_preferences(prefer(include(value))).includes_annotation(NOTE) is included


def test_no_pattern_is_ever_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client's pattern never becomes a regular expression (nor enters fnmatch's cache)."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a pattern was compiled")

    monkeypatch.setattr(re, "compile", refuse)
    monkeypatch.setattr(fnmatch, "_compile_pattern", refuse)
    value = ",".join(["*a*a*a*a*a*a*a*a", "graphtasks.*", "-x.*", "[a-z]+", NOTE])
    assert read_preferences(prefer(include(value))).includes_annotation(NOTE)


# What a probe sent, and what backtracks in a regular expression: each answers with bounded results.
HUGE: list[Any] = [
    pytest.param(lambda: include(",".join(f"ns{i}.term{i}" for i in range(270_000))), id="270k-patterns"),
    pytest.param(lambda: include("*a" * 500_000), id="1MB-star-a"),
    pytest.param(lambda: " " * 1_000_000 + '"', id="spaces-then-a-quote"),
    pytest.param(lambda: '"' + '\\"' * 500_000 + "\\", id="escapes-never-closed"),
    pytest.param(lambda: 'a="' * 300_000, id="quotes-and-equals"),
    pytest.param(lambda: ",".join(f"p{i}=v" for i in range(200_000)), id="200k-preferences"),
    pytest.param(lambda: "a=x" + ";b=c" * 300_000, id="300k-parameters"),
]


@pytest.mark.parametrize("header", HUGE)
def test_huge_headers_give_bounded_results(header: Callable[[], str]) -> None:
    preferences = read_preferences(prefer(header()))
    assert len(preferences.values) <= MAX_PREFERENCES
    assert len(AnnotationFilter.parse(preferences.values.get("odata.include-annotations", "")).patterns) <= (
        MAX_ANNOTATION_PATTERNS
    )
    assert preferences.includes_annotation(NOTE) is False


_PIECES = st.sampled_from(['"', "\\", ",", ";", "=", " ", "\t", "a", "*", "-", ".", "#", "return", "minimal"])


@given(st.lists(_PIECES, max_size=60), st.integers(1, 2_000))
def test_any_header_reads_to_bounded_well_formed_values(pieces: list[str], repeat: int) -> None:
    preferences = read_preferences(prefer("".join(pieces) * repeat))
    assert len(preferences.values) <= MAX_PREFERENCES
    assert all(re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9a-z]+", name) for name in preferences.values)
    annotation_filter = AnnotationFilter.parse(preferences.values.get("odata.include-annotations", ""))
    assert len(annotation_filter.patterns) <= MAX_ANNOTATION_PATTERNS
