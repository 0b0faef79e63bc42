"""Microsoft Graph's published beta CSDL as a test: the model and its $metadata against the real schema.

tests/data/graph-beta-csdl-excerpt.xml is the excerpt of Graph's beta CSDL (public repository
microsoftgraph/msgraph-metadata; its header names the files and commits) that declares this family. Each
side is read into facts: a path naming an element ("EntityType appVulnerabilityTask/Property appName")
and a line of its facets ("Type=Edm.String, Nullable=true"), with CSDL's defaults written out. The two
are compared both ways; DELIBERATE lists the differences we mean to keep, each with its reason, and any
other difference fails, as does a listed one that no longer occurs.

The model is read twice: directly from model/schema.py, and as model/csdl.py spells it in $metadata.
tests/integration/test_reference_metadata.py reads the document a running server serves the same way.
Descriptions (Core.Description annotations) are outside the comparison: the excerpt carries none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from graphtasks.model import csdl
from graphtasks.model.schema import (
    COMPLEX_TYPES,
    DEVICE_APP_MANAGEMENT_TASK,
    ENUM_TYPES,
    NAVIGATION_TARGETS,
    SINGLETON,
    TASK_TYPES,
    TASKS_SEGMENT,
    UPDATE_STATUS,
)
from graphtasks.model.types import NAMESPACE, EntityType, EnumType, PrimitiveType, Property

EXCERPT = Path(__file__).parents[1] / "data" / "graph-beta-csdl-excerpt.xml"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
# Every type reference is rewritten to this alias, the one the excerpt uses, whichever prefix
# (namespace or alias) the document spells it with.
ALIAS = "graph"

# path -> facets
Facts = dict[str, str]

# What an omitted facet means (OData CSDL XML 4.01, each attribute's section). Facets equal to their
# default are left out of a fact, so an explicit default and an omitted one read the same.
DEFAULTS = {
    "Abstract": "false",
    "OpenType": "false",
    "HasStream": "false",
    "IsFlags": "false",
    "UnderlyingType": "Edm.Int32",
    "ContainsTarget": "false",
    "IsBound": "false",
    "IsComposable": "false",
    "Unicode": "true",
}
# Nullable is always written out: that is the facet under test on every property and parameter.
# An absent Nullable means true; on a Collection(...) it speaks of the items (CSDL XML, the Nullable
# facet), so both sides read it the same way and no special case is needed.
NULLABLE_KINDS = frozenset({"Property", "Parameter"})
BOOLEANS = frozenset({*(k for k, v in DEFAULTS.items() if v == "false"), "Unicode", "Nullable"})
TYPE_FACETS = frozenset({"Type", "BaseType"})
# Facets first in this order, then the rest alphabetically. "Position" is the reader's own: a
# parameter's place in its action, since CSDL binds an action by its first parameter.
ORDER = ("Position", "Type", "BaseType", "Nullable", "Value")
# The excerpt places a few elements by a comment ("in EntityType deviceAppManagement:"), since it
# quotes one navigation of a type and not the type.
PLACEMENT = re.compile(r"\s*in (EntityType \w+|EntityContainer):\s*")


@dataclass(frozen=True)
class Drift:
    """One path on which graphtasks and the excerpt disagree; None is "not declared"."""

    path: str
    ours: str | None
    excerpt: str | None

    def __str__(self) -> str:
        if self.ours is None:
            return f"{self.path}: in the excerpt ({self.excerpt}), missing from graphtasks"
        if self.excerpt is None:
            return f"{self.path}: in graphtasks ({self.ours}), not in the excerpt"
        return f"{self.path}: graphtasks has ({self.ours}), the excerpt ({self.excerpt})"


@dataclass(frozen=True)
class Deliberate:
    drift: Drift
    reason: str
    # False for what the $metadata document declares and model/schema.py does not (model/csdl.py's
    # conventions of Graph's $metadata): the direct reading of the model has no such path.
    in_model: bool = True


# Every difference we keep on purpose. Keep it small and honest: a difference that is a graphtasks bug
# is fixed, not listed.
DELIBERATE = (
    Deliberate(
        Drift("EntityType entity", "Abstract=true, Key=id", None),
        "The excerpt quotes only this family's elements; graph.entity, the abstract keyed root of every "
        "Graph entity type, is declared elsewhere in the source, and $metadata must declare it for "
        'BaseType="graph.entity" to resolve.',
        in_model=False,
    ),
    Deliberate(
        Drift("EntityType entity/Property id", "Type=Edm.String, Nullable=false", None),
        "The key of graph.entity, which the excerpt does not quote (see EntityType entity).",
        in_model=False,
    ),
    Deliberate(
        Drift("EntityType deviceAppManagement", "BaseType=graph.entity", None),
        "The excerpt quotes only deviceAppManagement's navigation to the tasks; graphtasks declares the "
        "singleton's type with that one navigation, as Graph's other Intune collections are not served.",
        in_model=False,
    ),
)


# --- reading a CSDL document ---


def document_facts(text: str) -> Facts:
    """The facts of the one Schema in `text`: a bare Schema (the excerpt) or an edmx:Edmx document."""
    # Comments are kept for PLACEMENT. The text is the vendored excerpt or our own document, not input.
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))  # noqa: S314
    root = ET.fromstring(text, parser=parser)  # noqa: S314
    schemas = [root] if root.tag == f"{EDM}Schema" else root.findall(f"{EDMX}DataServices/{EDM}Schema")
    if len(schemas) != 1:
        raise ValueError(f"expected one Schema, found {len(schemas)}")
    (schema,) = schemas
    namespace, alias = schema.get("Namespace", ""), schema.get("Alias", "")
    facts = {"Schema": f"Namespace={namespace}, Alias={alias}"}
    for path, facets in _element_facts(schema, "", prefixes=(f"{namespace}.", f"{alias}.")):
        if path in facts:
            raise ValueError(f"{path} is declared twice")
        facts[path] = facets
    return facts


def _element_facts(parent: ET.Element, path: str, *, prefixes: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    placed = path
    seen: dict[str, int] = {}  # children of each kind so far: a Member's default Value, a Parameter's place
    for child in parent:
        if not isinstance(child.tag, str):  # a comment (the parser keeps them for PLACEMENT)
            placed = _placement(child.text or "", path)
            continue
        kind = child.tag.removeprefix(EDM)
        if kind in ("Annotation", "Key"):  # descriptions are not compared; the key is its type's facet
            continue
        if kind == "EntityContainer":  # the excerpt does not name the container: its children stand alone
            yield from _element_facts(child, placed, prefixes=prefixes)
            continue
        index = seen[kind] = seen.get(kind, -1) + 1
        name = f"{kind} {child.get('Name')}" if "Name" in child.attrib else kind
        child_path = f"{placed}/{name}" if placed else name
        yield child_path, _facets(kind, child, index, prefixes=prefixes)
        yield from _element_facts(child, child_path, prefixes=prefixes)


def _placement(comment: str, path: str) -> str:
    match = PLACEMENT.fullmatch(comment)
    if match is None:
        raise ValueError(f"a comment that places nothing: {comment!r}")
    target = match.group(1)
    if target == "EntityContainer":
        return path
    return f"{path}/{target}" if path else target


def _facets(kind: str, element: ET.Element, index: int, *, prefixes: tuple[str, ...]) -> str:
    facets = {name: value for name, value in element.attrib.items() if name != "Name"}
    facets = {name: _canonical(name, value, prefixes) for name, value in facets.items()}
    if kind in NULLABLE_KINDS:
        facets.setdefault("Nullable", "true")
    if kind == "Member":
        facets.setdefault("Value", str(index))  # an omitted Value is the member's position
    if kind == "Parameter":
        facets["Position"] = str(index)
    key = [ref.get("Name", "") for ref in element.iterfind(f"{EDM}Key/{EDM}PropertyRef")]
    if key:
        facets["Key"] = ",".join(key)
    return join_facets({name: value for name, value in facets.items() if DEFAULTS.get(name) != value})


def _canonical(name: str, value: str, prefixes: tuple[str, ...]) -> str:
    if name in BOOLEANS:
        return {"1": "true", "0": "false"}.get(value, value)
    return type_ref(value, prefixes) if name in TYPE_FACETS else value


def type_ref(name: str, prefixes: Iterable[str]) -> str:
    """`microsoft.graph.x` -> `graph.x`, also inside `Collection(...)`; `Edm.*` unchanged."""
    inner = name.removeprefix("Collection(").removesuffix(")")
    prefix = next((p for p in prefixes if inner.startswith(p)), None)
    canonical = f"{ALIAS}.{inner.removeprefix(prefix)}" if prefix else inner
    return f"Collection({canonical})" if name.startswith("Collection(") else canonical


def join_facets(facets: dict[str, str]) -> str:
    def rank(name: str) -> tuple[int, str]:
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    return ", ".join(f"{name}={facets[name]}" for name in sorted(facets, key=rank))


# --- reading the model directly ---


def model_facts() -> Facts:
    """The facts model/schema.py declares, with model/csdl.py's names for what the model leaves to CSDL."""
    facts = {"Schema": f"Namespace={NAMESPACE}, Alias={csdl.ALIAS}"}
    for enum_type in ENUM_TYPES:
        facts[f"EnumType {enum_type.name}"] = ""
        for member in enum_type.members:
            facts[f"EnumType {enum_type.name}/Member {member}"] = f"Value={enum_type.value_of(member)}"
    for complex_type in COMPLEX_TYPES:
        facts[f"ComplexType {complex_type.name}"] = ""
        facts |= _property_facts(f"ComplexType {complex_type.name}", complex_type.properties)
    for entity_type in (*TASK_TYPES, *NAVIGATION_TARGETS):
        facts |= _entity_facts(entity_type)
    facts[f"Action {UPDATE_STATUS.name}"] = "IsBound=true"
    binding = {"Position": "0", "Type": f"{ALIAS}.{UPDATE_STATUS.binding.name}", "Nullable": "true"}
    facts[f"Action {UPDATE_STATUS.name}/Parameter {csdl.BINDING_PARAMETER}"] = join_facets(binding)
    for position, parameter in enumerate(UPDATE_STATUS.parameters, start=1):
        type_name = _model_type(parameter.type)
        facets = {"Position": str(position), "Type": type_name, "Nullable": _bool(parameter.nullable)}
        if not parameter.unicode:
            facets["Unicode"] = "false"
        facts[f"Action {UPDATE_STATUS.name}/Parameter {parameter.name}"] = join_facets(facets)
    facts[f"Singleton {SINGLETON}"] = f"Type={ALIAS}.{csdl.SINGLETON_TYPE}"
    facts[f"EntityType {csdl.SINGLETON_TYPE}/NavigationProperty {TASKS_SEGMENT}"] = _contained(
        DEVICE_APP_MANAGEMENT_TASK.name
    )
    return facts


def _entity_facts(entity_type: EntityType) -> Facts:
    path = f"EntityType {entity_type.name}"
    base = entity_type.base.name if entity_type.base else csdl.ROOT_ENTITY
    # A root type's key is inherited from graph.entity in CSDL, so it is not the root type's own property.
    own = [p for p in entity_type.own_properties if entity_type.base or p.name != csdl.KEY]
    navigation = {f"{path}/NavigationProperty {n.name}": _contained(n.target) for n in entity_type.navigation}
    return {path: f"BaseType={ALIAS}.{base}"} | _property_facts(path, own) | navigation


def _contained(target: str) -> str:
    # The model's navigation collections are reached only through their parent (a task's managedDevices),
    # which is CSDL's containment; the model has no other kind.
    return f"Type=Collection({ALIAS}.{target}), ContainsTarget=true"


def _property_facts(path: str, properties: Iterable[Property]) -> Facts:
    return {
        f"{path}/Property {p.name}": join_facets(
            {"Type": type_ref(p.type_name, [f"{NAMESPACE}."]), "Nullable": _bool(p.nullable)}
        )
        for p in properties
    }


def _model_type(type_: PrimitiveType | EnumType) -> str:
    return type_.name if isinstance(type_, PrimitiveType) else f"{ALIAS}.{type_.name}"


def _bool(value: bool) -> str:
    return "true" if value else "false"


# --- comparing ---


@cache
def excerpt_facts() -> Facts:
    return document_facts(EXCERPT.read_text(encoding="utf-8"))


def drift(ours: Facts, excerpt: Facts) -> list[Drift]:
    """Every path declared differently, or on one side only, in path order."""
    paths = sorted(ours.keys() | excerpt.keys())
    return [Drift(p, ours.get(p), excerpt.get(p)) for p in paths if ours.get(p) != excerpt.get(p)]


def assert_only_deliberate(ours: Facts, *, model: bool) -> None:
    """`ours` differs from the excerpt exactly as DELIBERATE says; else every drift and stale entry."""
    listed = [d.drift for d in DELIBERATE if d.in_model or not model]
    found = drift(ours, excerpt_facts())
    problems = [f"not deliberate: {d}" for d in found if d not in listed]
    problems += [f"listed as deliberate, not found: {d}" for d in listed if d not in found]
    assert problems == [], "\n".join(["graphtasks and Graph's beta CSDL disagree:", *problems])


SOURCES: dict[str, Callable[[], Facts]] = {
    "model/schema.py": model_facts,
    "model/csdl.py": lambda: document_facts(csdl.metadata_document()),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_differs_from_the_excerpt_only_deliberately(source: str) -> None:
    assert_only_deliberate(SOURCES[source](), model=source == "model/schema.py")


def test_excerpt_is_read_whole() -> None:
    # Elements of each kind the excerpt declares, counted by hand: a reader that lost some on both
    # sides would otherwise compare less than it seems to.
    kinds = [path.rpartition("/")[2].split(" ")[0] for path in excerpt_facts()]
    counts = {kind: kinds.count(kind) for kind in sorted(set(kinds))}
    assert counts == {
        "Action": 1,
        "ComplexType": 2,
        "EntityType": 7,
        "EnumType": 7,
        "Member": 40,
        "NavigationProperty": 4,
        "Parameter": 3,
        "Property": 50,
        "Schema": 1,
        "Singleton": 1,
    }


# --- the reader: CSDL's defaults and the excerpt's placement comments ---

SCHEMA = (
    '<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="microsoft.graph" Alias="graph">'
    "{}</Schema>"
)
TEXT = "Type=Edm.String, Nullable=true"


@pytest.mark.parametrize(
    ("element", "path", "facets"),
    [
        ('<ComplexType Name="c"><Property Name="p" Type="Edm.String" /></ComplexType>', "p", TEXT),
        (
            '<ComplexType Name="c"><Property Name="p" Type="Edm.String" Nullable="true" /></ComplexType>',
            "p",
            TEXT,
        ),
        # On a collection, Nullable speaks of the items; it reads as written, absent meaning true.
        (
            '<ComplexType Name="c"><Property Name="p" Type="Collection(microsoft.graph.c)" /></ComplexType>',
            "p",
            "Type=Collection(graph.c), Nullable=true",
        ),
        (
            '<ComplexType Name="c"><Property Name="p" Type="Collection(c)" Nullable="false" /></ComplexType>',
            "p",
            "Type=Collection(c), Nullable=false",
        ),
        ('<EnumType Name="e"><Member Name="a" /><Member Name="b" /></EnumType>', "b", "Value=1"),
        (
            '<EntityType Name="t" Abstract="false" BaseType="microsoft.graph.entity" />',
            "t",
            "BaseType=graph.entity",
        ),
        (
            '<EntityType Name="t" Abstract="1"><Key><PropertyRef Name="id" /></Key></EntityType>',
            "t",
            "Abstract=true, Key=id",
        ),
        (
            '<EntityType Name="t">'
            '<NavigationProperty Name="n" Type="Collection(t)" ContainsTarget="false" /></EntityType>',
            "n",
            "Type=Collection(t)",
        ),
        (
            '<Action Name="a"><Parameter Name="b" Type="t" />'
            '<Parameter Name="s" Type="Edm.String" Unicode="false" /></Action>',
            "s",
            "Position=1, Type=Edm.String, Nullable=true, Unicode=false",
        ),
        (
            '<EntityContainer Name="GraphService"><Singleton Name="s" Type="graph.t" /></EntityContainer>',
            "s",
            "Type=graph.t",
        ),
        (
            '<!-- in EntityType t: --><NavigationProperty Name="n" Type="Collection(t)" />',
            "n",
            "Type=Collection(t)",
        ),
        ('<!-- in EntityContainer: --><Singleton Name="s" Type="graph.t" />', "s", "Type=graph.t"),
    ],
    ids=[
        "nullable-by-default",
        "nullable-explicit",
        "collection-items-nullable",
        "collection-items-not-nullable",
        "member-value-by-position",
        "defaults-omitted",
        "abstract-keyed",
        "not-contained",
        "parameter-position-and-unicode",
        "container-transparent",
        "placed-in-entity-type",
        "placed-in-container",
    ],
)
def test_reader_writes_out_csdl_defaults(element: str, path: str, facets: str) -> None:
    found = {p.rpartition(" ")[2]: f for p, f in document_facts(SCHEMA.format(element)).items()}
    assert found[path] == facets


def test_reader_places_by_comment() -> None:
    facts = document_facts(SCHEMA.format('<!-- in EntityType t: --><NavigationProperty Name="n" Type="t" />'))
    assert list(facts) == ["Schema", "EntityType t/NavigationProperty n"]


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ("<!-- somewhere else -->", "a comment that places nothing: ' somewhere else '"),
        ('<EnumType Name="e" /><EnumType Name="e" />', "EnumType e is declared twice"),
    ],
)
def test_reader_refuses_what_it_cannot_place(element: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        document_facts(SCHEMA.format(element))


@pytest.mark.parametrize(
    ("drift_", "text"),
    [
        (Drift("EnumType e", None, ""), "EnumType e: in the excerpt (), missing from graphtasks"),
        (
            Drift("Singleton s", "Type=graph.t", None),
            "Singleton s: in graphtasks (Type=graph.t), not in the excerpt",
        ),
        (
            Drift("EnumType e/Member m", "Value=1", "Value=2"),
            "EnumType e/Member m: graphtasks has (Value=1), the excerpt (Value=2)",
        ),
    ],
)
def test_drift_reads_as_a_sentence(drift_: Drift, text: str) -> None:
    assert str(drift_) == text


# --- the comparison finds drift in either direction ---

DUE = '<Property Name="dueDateTime" Type="Edm.DateTimeOffset" Nullable="false"'
SETTINGS = '<Property Name="intendedSettings" Type="Collection(graph.keyValuePair)"'
BINDING = '<Parameter Name="bindingParameter" Type="graph.deviceAppManagementTask"'
SINGLETON_XML = '<Singleton Name="deviceAppManagement" Type="graph.deviceAppManagement"'
DEVICES = 'Type="Collection(graph.vulnerableManagedDevice)"'
SECURITY_TASK = '<EntityType Name="securityConfigurationTask" BaseType="graph.deviceAppManagementTask"'
LOW = '<Member Name="low" Value="2" />'
TASK, SECURITY, APP = (
    "EntityType deviceAppManagementTask",
    "EntityType securityConfigurationTask",
    "EntityType appVulnerabilityTask",
)
PRIORITY = "EnumType deviceAppManagementTaskPriority"
SETTINGS_TYPE = "Type=Collection(graph.keyValuePair)"
DEVICES_TYPE = "Type=Collection(graph.vulnerableManagedDevice)"


@pytest.mark.parametrize(
    ("side", "old", "new", "found"),
    [
        (
            "ours",
            DUE,
            DUE.replace(' Nullable="false"', ""),
            [
                Drift(
                    f"{TASK}/Property dueDateTime",
                    "Type=Edm.DateTimeOffset, Nullable=true",
                    "Type=Edm.DateTimeOffset, Nullable=false",
                ),
            ],
        ),
        (
            "ours",
            SETTINGS,
            f'{SETTINGS} Nullable="false"',
            [
                Drift(
                    f"{SECURITY}/Property intendedSettings",
                    f"{SETTINGS_TYPE}, Nullable=false",
                    f"{SETTINGS_TYPE}, Nullable=true",
                ),
            ],
        ),
        (
            "ours",
            '<Property Name="appName"',
            '<Property Name="applicationName"',
            [
                Drift(f"{APP}/Property appName", None, TEXT),
                Drift(f"{APP}/Property applicationName", TEXT, None),
            ],
        ),
        ("ours", LOW, LOW.replace('"2"', '"3"'), [Drift(f"{PRIORITY}/Member low", "Value=3", "Value=2")]),
        (
            "ours",
            LOW,
            f'{LOW}<Member Name="urgent" Value="3" />',
            [Drift(f"{PRIORITY}/Member urgent", "Value=3", None)],
        ),
        (
            "ours",
            f'{DEVICES} ContainsTarget="true"',
            DEVICES,
            [
                Drift(
                    f"{SECURITY}/NavigationProperty managedDevices",
                    DEVICES_TYPE,
                    f"{DEVICES_TYPE}, ContainsTarget=true",
                ),
            ],
        ),
        (
            "ours",
            SECURITY_TASK,
            f'{SECURITY_TASK} Abstract="true"',
            [
                Drift(
                    SECURITY,
                    "BaseType=graph.deviceAppManagementTask, Abstract=true",
                    "BaseType=graph.deviceAppManagementTask",
                ),
            ],
        ),
        (
            "ours",
            BINDING,
            BINDING.replace("deviceAppManagementTask", "securityConfigurationTask"),
            [
                Drift(
                    "Action updateStatus/Parameter bindingParameter",
                    "Position=0, Type=graph.securityConfigurationTask, Nullable=true",
                    "Position=0, Type=graph.deviceAppManagementTask, Nullable=true",
                ),
            ],
        ),
        (
            "ours",
            SINGLETON_XML,
            SINGLETON_XML.replace("graph.deviceAppManagement", "graph.entity"),
            [
                Drift("Singleton deviceAppManagement", "Type=graph.entity", "Type=graph.deviceAppManagement"),
            ],
        ),
        (
            "excerpt",
            '<Property Name="remediation" Type="Edm.String" />',
            "",
            [
                Drift(f"{APP}/Property remediation", TEXT, None),
            ],
        ),
        (
            "excerpt",
            LOW,
            f'{LOW}<Member Name="urgent" Value="3" />',
            [Drift(f"{PRIORITY}/Member urgent", None, "Value=3")],
        ),
    ],
    ids=[
        "nullability",
        "collection-item-nullability",
        "renamed-property",
        "member-value",
        "extra-member",
        "containment",
        "abstractness",
        "binding-type",
        "singleton-type",
        "property-missing-from-excerpt",
        "member-missing-from-ours",
    ],
)
def test_comparison_finds_drift(side: str, old: str, new: str, found: list[Drift]) -> None:
    ours, excerpt = csdl.metadata_document(), EXCERPT.read_text(encoding="utf-8")
    before = drift(document_facts(ours), document_facts(excerpt))
    assert old in (ours if side == "ours" else excerpt)
    if side == "ours":
        ours = ours.replace(old, new, 1)
    else:
        excerpt = excerpt.replace(old, new, 1)
    after = drift(document_facts(ours), document_facts(excerpt))
    assert [d for d in after if d not in before] == found


def test_an_entry_no_longer_found_fails() -> None:
    # The excerpt compared with itself has no drift, so every entry of DELIBERATE is reported stale.
    with pytest.raises(AssertionError, match="listed as deliberate, not found: EntityType entity: in"):
        assert_only_deliberate(excerpt_facts(), model=False)
