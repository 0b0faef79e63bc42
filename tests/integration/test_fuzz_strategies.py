"""Hypothesis strategies for the fuzz tests (test_fuzz_asgi.py, test_fuzz_tokens.py, bench/fuzz.py):
JSON of random shape, near-valid task bodies, $batch payloads, query options random and shaped by the
$filter grammar (README, Querying), and header values. No tests here: it is named so that it may hold
some, and so that the fuzz tests' helpers stay among them.

Bodies are JSON text, not Python values: deep nesting and huge numbers are written out as text, since
they are what a client can send but the json module would refuse to write or read back.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

from graphtasks.model.schema import NAVIGATION_TARGETS, TASK_TYPES
from graphtasks.model.types import DATETIME_OFFSET, INT32, ComplexType, EnumType, Property

_DEEP = "@@deep@@"
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "\U0001f600" * 3,
    "\u202e",
    "\ufeff",
    "a\u0301",
    "'",
    "''",
    "%",
    "\\",
    "\n",
    "x" * 5000,
    "\u0000\u0001",
    "\u2028",
    "null",
    "true",
    "0",
]
DATES = [
    "2024-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.9999999-14:00",
    "0001-01-01T00:00:00+14:00",
    "2024-02-30T00:00:00Z",
    "2024-01-01T00:00:00.123456789012Z",
    "2024-01-01",
    "2024-01-01T24:00:00Z",
    "2024-01-01T00:00:00",
    "+002024-01-01T00:00:00Z",
    "2024-01-01T00:00:00+25:00",
    "2024-01-01t00:00:00z",
    "1970-01-01T00:00:00.000Z",
]
NUMBERS = [
    0,
    -1,
    65536,
    65537,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63,
    2**64,
    10**30,
    1.5,
    -0.0,
    1e308,
    1e-308,
]
ODATA_TYPES = [
    *(t.odata_type for t in TASK_TYPES),
    *(t.odata_type.removeprefix("#") for t in TASK_TYPES),
    *(t.odata_type.upper() for t in TASK_TYPES),
    *(t.odata_type for t in NAVIGATION_TARGETS),
    "#microsoft.graph.keyValuePair",
    "#microsoft.graph.nope",
    "",
    "#",
    "#microsoft.graph.",
    3,
    None,
    ["x"],
]
PROPERTIES: dict[str, Property] = {p.name: p for t in TASK_TYPES for p in t.properties}
NAMES = [
    *PROPERTIES,
    "@odata.etag",
    "@odata.context",
    "id",
    "createdDateTime",
    "managedDevices",
    "mobileApps",
    "unknownProp",
    "DisplayName",
    "displayname",
    "status@odata.type",
    "@odata.type@odata.type",
    "note",
]


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from(NUMBERS),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(ODD_TEXT),
        st.sampled_from(DATES),
    )


def json_values(leaves: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars() if leaves is None else leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
        max_leaves=12,
    )


@st.composite
def to_text(draw: st.DrawFn, value: Any) -> bytes:
    """`value` as JSON text; a `_DEEP` string in it becomes an array or object nested thousands deep."""
    text = json.dumps(value)
    while f'"{_DEEP}"' in text:
        depth = draw(st.sampled_from([64, 500, 1100, 5000, 100_000]))
        nested = "[" * depth + "]" * depth if draw(st.booleans()) else '{"a":' * depth + "1" + "}" * depth
        text = text.replace(f'"{_DEEP}"', nested, 1)
    return text.encode()


@st.composite
def json_texts(draw: st.DrawFn) -> bytes:
    """JSON of any shape, now and then a body that is not JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(
            st.sampled_from([b"", b" ", b"{", b"nul", b"\xff\xfe{}", b"{}garbage", b'{"a":1,}', b"NaN"])
        )
    value = draw(json_values(scalars() | st.just(_DEEP)))
    return draw(to_text(value))


def valid_values(prop: Property) -> st.SearchStrategy[Any]:
    """Values of `prop`'s own type, as a well-behaved client would send them."""
    kind = prop.type
    if isinstance(kind, EnumType):
        one: st.SearchStrategy[Any] = st.sampled_from(kind.members)
    elif kind is INT32:
        one = st.integers(*(prop.value_range or (-(2**31), 2**31 - 1)))
    elif kind is DATETIME_OFFSET:
        one = st.sampled_from(DATES[:2])
    elif isinstance(kind, ComplexType):
        one = st.fixed_dictionaries(
            {p.name: st.text(max_size=5) for p in kind.properties if p.type is not INT32}
        )
    else:
        one = st.text(max_size=20)
    return st.lists(one, max_size=3) if prop.collection else one


def nasty_values(*, deep: bool) -> st.SearchStrategy[Any]:
    return st.one_of(
        scalars(),
        st.just(_DEEP if deep else []),
        json_values(),
        st.lists(st.dictionaries(st.sampled_from(NAMES), scalars())),
    )


@st.composite
def task_bodies(draw: st.DrawFn) -> bytes:
    """A task body that is almost right: real property names with values mostly of their type."""
    return draw(to_text(draw(task_values(deep=True))))


@st.composite
def task_values(draw: st.DrawFn, *, deep: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["@odata.type"] = draw(st.sampled_from(ODATA_TYPES))
    for name in draw(st.lists(st.sampled_from(NAMES), max_size=6, unique=True)):
        prop = PROPERTIES.get(name)
        good = prop is not None and draw(st.integers(0, 2)) > 0
        body[name] = draw(valid_values(prop)) if good and prop is not None else draw(nasty_values(deep=deep))
    return body


BATCH_URLS = [
    "/deviceAppManagement/deviceAppManagementTasks",
    "/deviceAppManagement/deviceAppManagementTasks?$top=1&$filter=status eq 'active'",
    "/deviceAppManagement/deviceAppManagementTasks/$count",
    "deviceAppManagement/deviceAppManagementTasks",
    "https://graph.microsoft.com/beta/deviceAppManagement/deviceAppManagementTasks",
    "https://graph.microsoft.com/v1.0/deviceAppManagement",
    "/$batch",
    "/$metadata",
    "/openapi.json",
    "/../..",
    "%zz",
    "http://[",
    "ftp://x/",
    "/deviceAppManagement/x/y/z",
    "/deviceAppManagement/deviceAppManagementTasks/00000000-0000-0000-0000-000000000000",
    "/deviceAppManagement/deviceAppManagementTasks?$filter=é eq 'ü'",
]


@st.composite
def batch_items(draw: st.DrawFn, ids: list[str]) -> dict[str, Any]:
    """A batch request, now and then with one field wrong (which makes the whole batch a 400)."""
    item: dict[str, Any] = {
        "id": draw(st.sampled_from(ids)),
        "method": draw(st.sampled_from(["GET", "POST", "PATCH", "DELETE", "get"])),
        "url": draw(st.sampled_from(BATCH_URLS)),
    }
    if draw(st.booleans()):
        item["headers"] = draw(
            st.dictionaries(st.sampled_from(BATCH_HEADERS), st.sampled_from(BATCH_HEADER_VALUES), max_size=3)
        )
    if draw(st.booleans()):
        raw = draw(st.text(max_size=20)).encode()
        item["body"] = draw(json_values() | st.just(base64.b64encode(raw).decode()) | task_values())
        item.setdefault("headers", {})["Content-Type"] = "application/json"
    if draw(st.booleans()):
        item["dependsOn"] = draw(st.lists(st.sampled_from(ids), max_size=2))
    if draw(st.integers(0, 7)) == 0:  # one field of any shape
        item[draw(st.sampled_from(["id", "method", "url", "headers", "body", "dependsOn"]))] = draw(scalars())
    return item


BATCH_HEADERS = ["Content-Type", "If-Match", "Prefer", "Authorization", "x-custom"]
BATCH_HEADER_VALUES = ["application/json", "text/plain", "*", "return=minimal", "\u00e9", "", "Bearer x"]


@st.composite
def batches(draw: st.DrawFn) -> bytes:
    requests = draw(st.lists(batch_items(["1", "2", "3", "4", "5", "a", "A"]), min_size=1, max_size=6))
    unique = list({r["id"].lower() if isinstance(r["id"], str) else r["id"]: r for r in requests}.values())
    document: object = {"requests": unique if draw(st.integers(0, 3)) else requests}
    if draw(st.integers(0, 9)) == 0:
        document = draw(
            json_values()
            | st.builds(
                lambda n: {"requests": [{"id": str(i), "method": "GET", "url": "/x"} for i in range(n)]},
                st.integers(0, 25),
            )
        )
    return json.dumps(document).encode()


# --- query options ---

OPTION_NAMES = [
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$expand",
    "$search",
    "$skiptoken",
    "$format",
    "$apply",
    "$compute",
    "filter",
    "$FILTER",
    "$Top",
    "$",
    "$$top",
    "",
    "$top ",
]
_TEXT_PROPERTIES = [
    n
    for n, p in PROPERTIES.items()
    if p.type.__class__.__name__ == "PrimitiveType" and p.type not in (INT32, DATETIME_OFFSET)
]


def option_values(name: str) -> st.SearchStrategy[str]:
    names = st.sampled_from(
        [
            *PROPERTIES,
            "id",
            "*",
            "managedDevices",
            "mobileApps",
            "nope",
            "microsoft.graph.appVulnerabilityTask/appName",
            "microsoft.graph.nope/x",
        ]
    )
    by_name: dict[str, st.SearchStrategy[str]] = {
        "$filter": filters(),
        "$select": st.lists(names, max_size=4).map(",".join),
        "$orderby": st.lists(
            st.tuples(names, st.sampled_from(["", " asc", " desc", " up", "  desc"])), max_size=3
        ).map(lambda keys: ",".join(k + d for k, d in keys)),
        "$top": st.sampled_from(
            [
                "0",
                "1",
                "-1",
                "1000",
                "1001",
                "2147483648",
                "99999999999999999999",
                "1e3",
                " 1",
                "0x10",
                "",
                "\uff11",
            ]
        ),
        "$count": st.sampled_from(["true", "false", "TRUE", "1", "", "yes"]),
        "$expand": st.sampled_from(
            [
                "*",
                "managedDevices",
                "mobileApps",
                "managedDevices($select=id)",
                "managedDevices($top=1)",
                "nope",
                "*,*",
                "managedDevices/x",
            ]
        ),
    }
    by_name["$skip"] = by_name["$top"]
    return by_name.get(name, st.text(max_size=40))


@st.composite
def query_options(draw: st.DrawFn) -> list[tuple[str, str]]:
    options = []
    for name in draw(st.lists(st.sampled_from(OPTION_NAMES) | st.text(max_size=6), max_size=4)):
        canonical = name if name in OPTION_NAMES[:9] else draw(st.sampled_from(OPTION_NAMES[:9]))
        value = draw(option_values(canonical) | st.text(max_size=30))
        options.append((name, value))
    return options


def literals() -> st.SearchStrategy[str]:
    quoted = st.text(max_size=10).map(lambda t: "'" + t.replace("'", "''") + "'")
    return st.one_of(
        quoted,
        st.sampled_from(["null", "true", "false", "0", "-1", "2147483648", "1.5", "1e400", "'", "''''", "-"]),
        st.sampled_from([d for d in DATES if "T" in d]),
        st.sampled_from(["00000000-0000-0000-0000-000000000000", "'active'", "'high'", "'none'", "'nope'"]),
        st.integers().map(str),
    )


def typed_literals(prop: Property) -> st.SearchStrategy[str]:
    """Literals of `prop`'s type, as the $filter grammar writes them."""
    kind = prop.type
    if isinstance(kind, EnumType):
        member = st.sampled_from(kind.members)
        return member.map(lambda m: f"'{m}'") | member.map(lambda m: f"{kind.qualified_name}'{m}'")
    if kind is INT32:
        return st.integers(-(2**31), 2**31 - 1).map(str)
    if kind is DATETIME_OFFSET:
        return st.sampled_from([d for d in DATES if "T" in d])
    return st.text(max_size=8).map(lambda t: "'" + t.replace("'", "''") + "'") | st.just("null")


def _scalar_properties() -> list[Property]:
    return [p for p in PROPERTIES.values() if not p.collection and not isinstance(p.type, ComplexType)]


@st.composite
def typed_comparisons(draw: st.DrawFn) -> str:
    prop = draw(st.sampled_from(_scalar_properties()))
    owner = next(t for t in TASK_TYPES if prop in t.own_properties)
    path = prop.name if owner is TASK_TYPES[0] else f"{owner.qualified_name}/{prop.name}"
    kind = draw(st.integers(0, 4))
    if kind == 0 and prop.type not in (INT32, DATETIME_OFFSET) and not isinstance(prop.type, EnumType):
        function = draw(st.sampled_from(["contains", "startswith", "endswith"]))
        return f"{function}({draw(st.sampled_from([path, f'tolower({path})']))},{draw(typed_literals(prop))})"
    if kind == 1:
        return f"{path} in ({','.join(draw(st.lists(typed_literals(prop), min_size=1, max_size=4)))})"
    return (
        f"{path} {draw(st.sampled_from(['eq', 'ne', 'gt', 'ge', 'lt', 'le']))} {draw(typed_literals(prop))}"
    )


def comparisons() -> st.SearchStrategy[str]:
    prop = st.sampled_from([*PROPERTIES, "id", "nope", "microsoft.graph.appVulnerabilityTask/appName"])
    text_prop = st.sampled_from(_TEXT_PROPERTIES)
    ops = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le", "has", "EQ"])
    functions = st.sampled_from(["contains", "startswith", "endswith", "tolower", "nope"])
    lambdas = st.sampled_from(
        ["name eq 'x'", "os eq null", "x", "displayName eq 'd'", "lastSeenDateTime gt 2024-01-01T00:00:00Z"]
    )
    # Mostly well-typed, so that trees of several leaves still parse and reach the database.
    return st.one_of(
        *[typed_comparisons()] * 12,
        st.builds(lambda p, o, v: f"{p} {o} {v}", prop, ops, literals()),
        st.builds(lambda f, p, v: f"{f}({p},{v})", functions, text_prop, literals()),
        st.builds(
            lambda p, q: f"{p}/any(d:d/{q})",
            st.sampled_from(["intendedSettings", "unmanagedDevices"]),
            lambdas,
        ),
        st.sampled_from(
            ["isof('microsoft.graph.appVulnerabilityTask')", "isof('nope')", "true", "null eq null"]
        ),
    )


def filters() -> st.SearchStrategy[str]:
    """$filter text shaped by its grammar, now and then broken: an operator or a parenthesis short."""
    tree = st.recursive(
        comparisons(),
        lambda inner: st.one_of(
            st.builds(
                lambda a, o, b: f"{a} {o} {b}", inner, st.sampled_from(["and", "or", "AND", "xor"]), inner
            ),
            inner.map(lambda a: f"not ({a})"),
            inner.map(lambda a: f"({a})"),
        ),
        max_leaves=4,
    )
    broken = st.builds(lambda t, n: t[:n], tree, st.integers(0, 40))
    return st.one_of(tree, tree, tree, tree, tree, broken, st.text(max_size=30))


def header_values() -> st.SearchStrategy[dict[str, bytes]]:
    latin1 = st.text(
        st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=40
    )
    values = {
        "Content-Type": [
            "application/json",
            "application/json; charset=utf-8",
            "application/JSON",
            "text/plain",
            "",
            "application/json;odata.metadata=full",
            "application/jsonx",
            "multipart/form-data; boundary=x",
        ],
        "If-Match": ["*", 'W/"x"', '"x"', "", ",", 'W/"', '*, W/"x"'],
        "If-None-Match": ["*", 'W/"x"', "", ","],
        "Prefer": [
            "return=minimal",
            "return=representation",
            'odata.include-annotations="*"',
            "odata.maxpagesize=1",
            "return",
            "=",
            '"',
            ";;",
            "return=minimal, return=representation",
        ],
    }
    return st.fixed_dictionaries(
        {},
        optional={
            name: (st.sampled_from(choices) | latin1).map(lambda v: v.encode("latin-1"))
            for name, choices in values.items()
        },
    )
