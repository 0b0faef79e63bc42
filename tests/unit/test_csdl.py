"""graphtasks.model.csdl: the $metadata document, read by a validating CSDL parser and compared with the
family as Graph's public sources give it (docs/graph-behaviour.md, "Resource family" and after;
transcribed in tests/support/reference_tables.py) and with the model.

The parser is xmlschema, driven by the OASIS OData TC's own XML schemas for CSDL (edmx.xsd, edm.xsd,
"OData EDMX/EDM XML Schema Version 4.01", which accept Version="4.0"). They are kept verbatim in
tests/support/odata_csdl_xsd/, as published in the TC's npm package odata-csdl 0.11.2 (repository
oasis-tcs/odata-csdl-schemas). The schemas check the document's shape and every attribute's type; what
they cannot check (that a referenced type exists, that a term's vocabulary is included) the reading
below checks: see `unresolved_references`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from graphtasks.model import csdl
from graphtasks.model.csdl import ENTITY_TYPES, metadata_document
from graphtasks.model.schema import COMPLEX_TYPES, ENUM_TYPES, UPDATE_STATUS
from graphtasks.model.types import STRING, EntityType, Property
from tests.support import reference_tables as ref

XSD = Path(__file__).parents[1] / "support" / "odata_csdl_xsd" / "edmx.xsd"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
PRIMITIVES = {"Edm.String", "Edm.Int32", "Edm.DateTimeOffset"}

# One element of the document as the parser decodes it: "@Attr" keys hold typed attribute values
# (Nullable is a bool, Value an int), other keys list the child elements of that name.
Element = dict[str, Any]


@pytest.fixture(scope="module")
def validator() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def decode(validator: xmlschema.XMLSchema, document: str) -> Element:
    """The whole document; raises XMLSchemaValidationError when it is not valid CSDL."""
    decoded = validator.to_dict(document, force_list=True)
    assert isinstance(decoded, dict)
    return decoded


def graph_schema(document: Element) -> Element:
    (services,) = document["edmx:DataServices"]
    (schema,) = services["Schema"]
    assert isinstance(schema, dict)
    return schema


@pytest.fixture(scope="module")
def document(validator: xmlschema.XMLSchema) -> Element:
    return decode(validator, metadata_document())


@pytest.fixture(scope="module")
def schema(document: Element) -> Element:
    return graph_schema(document)


def named(schema: Element, kind: str) -> dict[str, Element]:
    return {element["@Name"]: element for element in schema.get(kind, [])}


def local_name(schema: Element, qualified: str) -> str:
    """`graph.x` or `microsoft.graph.x` -> `x`; KeyError for any other namespace."""
    for prefix in (schema["@Alias"], schema["@Namespace"]):
        if qualified.startswith(f"{prefix}."):
            return qualified.removeprefix(f"{prefix}.")
    raise KeyError(qualified)


def own_rows(element: Element) -> list[ref.Row]:
    # An absent Nullable means true (CSDL XML, the Nullable facet).
    return [(p["@Name"], p["@Type"], p.get("@Nullable", True)) for p in element.get("Property", [])]


def entity_rows(schema: Element, name: str) -> list[ref.Row]:
    """Every property of entity type `name`, inherited ones first, following BaseType to the root."""
    entity_type = named(schema, "EntityType")[name]
    base = entity_type.get("@BaseType")
    inherited = entity_rows(schema, local_name(schema, base)) if base else []
    return inherited + own_rows(entity_type)


def unresolved_references(document: Element) -> list[str]:
    """Type, base type, singleton type and annotation term names that name nothing declared."""
    schema = graph_schema(document)
    declared = {
        f"{prefix}.{name}"
        for kind in ("EntityType", "ComplexType", "EnumType")
        for name in named(schema, kind)
        for prefix in (schema["@Alias"], schema["@Namespace"])
    }
    types = [name.removeprefix("Collection(").removesuffix(")") for name in type_references(schema)]
    vocabularies = {
        include[key]
        for reference in document.get("edmx:Reference", [])
        for include in reference["edmx:Include"]
        for key in ("@Namespace", "@Alias")
        if key in include
    }
    terms = [term for term in annotation_terms(schema) if term.rpartition(".")[0] not in vocabularies]
    return sorted({t for t in types if t not in declared | PRIMITIVES} | set(terms))


def type_references(schema: Element) -> list[str]:
    structured = [*schema.get("EntityType", []), *schema.get("ComplexType", [])]
    members = [m for t in structured for m in (*t.get("Property", []), *t.get("NavigationProperty", []))]
    parameters = [p for action in schema.get("Action", []) for p in action.get("Parameter", [])]
    singletons = [s for container in schema["EntityContainer"] for s in container.get("Singleton", [])]
    bases = [t["@BaseType"] for t in structured if "@BaseType" in t]
    return bases + [element["@Type"] for element in (*members, *parameters, *singletons)]


def annotation_terms(element: Element) -> list[str]:
    """The Term of every Annotation at any depth under `element`."""
    terms = [annotation["@Term"] for annotation in element.get("Annotation", [])]
    children = [c for key, value in element.items() if not key.startswith("@") for c in value]
    return terms + [term for child in children if isinstance(child, dict) for term in annotation_terms(child)]


def description(element: Element) -> str | None:
    texts = [a["@String"] for a in element.get("Annotation", []) if a["@Term"] == "Core.Description"]
    return texts[0] if len(texts) == 1 else None


# --- a validating CSDL parser reads it ---


def test_document_is_valid_csdl(validator: xmlschema.XMLSchema) -> None:
    validator.validate(metadata_document())


def test_every_reference_resolves(document: Element) -> None:
    assert unresolved_references(document) == []


# Each mutation keeps the XML well-formed and breaks one CSDL rule; the parser must refuse every one,
# which shows the validity test above can fail.
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('Version="4.0"', 'Version="3.0"'),
        ('Nullable="false"', 'Nullable="no"'),
        ('Value="1"', 'Value="one"'),
        ('<Member Name="unknown" Value="0" />', '<Member Value="0" />'),
        ('ContainsTarget="true"', 'ContainsTarget="yes"'),
        ('IsBound="true"', 'IsBound="maybe"'),
        ('Type="graph.deviceAppManagementTaskStatus"', 'Type="graph..deviceAppManagementTaskStatus"'),
        ('<Property Name="displayName"', '<Property Name="display name"'),
        ('<PropertyRef Name="id" />', '<PropertyRef Name="id" /><Property Name="id" Type="Edm.String" />'),
        ('<Member Name="none" Value="0" />', '<Property Name="none" Type="Edm.Int32" />'),
        ("<EntityContainer ", "<EntitySet /><EntityContainer "),
        ('Namespace="microsoft.graph"', 'Namespace="microsoft graph"'),
    ],
    ids=lambda text: text,
)
def test_parser_rejects_broken_documents(validator: xmlschema.XMLSchema, old: str, new: str) -> None:
    original = metadata_document()
    assert old in original
    broken = original.replace(old, new, 1)
    ET.fromstring(broken)  # noqa: S314 - our own text. Still well-formed: the refusal is about CSDL, not XML
    assert not validator.is_valid(broken)


# What the XSD cannot see, the reading above does: these documents are valid CSDL in shape but name
# something that does not exist.
@pytest.mark.parametrize(
    ("old", "new", "unresolved"),
    [
        ('BaseType="graph.deviceAppManagementTask"', 'BaseType="graph.task"', ["graph.task"]),
        ('Type="graph.deviceAppManagementTaskStatus"', 'Type="graph.taskStatus"', ["graph.taskStatus"]),
        ('Type="graph.deviceAppManagement"', 'Type="graph.appManagement"', ["graph.appManagement"]),
        ('Type="Collection(graph.keyValuePair)"', 'Type="Collection(graph.pair)"', ["graph.pair"]),
        ('Alias="Core"', 'Alias="OData"', ["Core.Description"]),
    ],
)
def test_dangling_references_are_found(
    validator: xmlschema.XMLSchema, old: str, new: str, unresolved: list[str]
) -> None:
    original = metadata_document()
    assert old in original
    broken = original.replace(old, new, 1)
    assert unresolved_references(decode(validator, broken)) == unresolved


def test_document_read_differently_fails_the_reference_comparison(validator: xmlschema.XMLSchema) -> None:
    broken = metadata_document().replace(
        '<Property Name="dueDateTime" Type="Edm.DateTimeOffset" Nullable="false">',
        '<Property Name="dueDateTime" Type="Edm.DateTimeOffset">',
    )
    rows = entity_rows(graph_schema(decode(validator, broken)), "deviceAppManagementTask")
    assert ("dueDateTime", "Edm.DateTimeOffset", True) in rows
    assert rows != ref.ENTITY_PROPERTIES["deviceAppManagementTask"]


# --- against the transcribed sources (tests/support/reference_tables.py) ---


def test_edmx_envelope(document: Element, schema: Element) -> None:
    assert str(document["@Version"]) == "4.0"
    assert (schema["@Namespace"], schema["@Alias"]) == ("microsoft.graph", "graph")


def test_entity_is_the_abstract_keyed_root(schema: Element) -> None:
    entity = named(schema, "EntityType")["entity"]
    assert "@BaseType" not in entity
    assert entity["@Abstract"] is True
    assert [ref["@Name"] for key in entity["Key"] for ref in key["PropertyRef"]] == ["id"]
    assert own_rows(entity) == ref.ENTITY


@pytest.mark.parametrize("name", sorted(ref.ENTITY_PROPERTIES))
def test_entity_type_properties_match_reference(schema: Element, name: str) -> None:
    assert entity_rows(schema, name) == ref.ENTITY_PROPERTIES[name]


@pytest.mark.parametrize("name", sorted(ref.BASE_TYPES))
def test_base_types_match_reference(schema: Element, name: str) -> None:
    entity_type = named(schema, "EntityType")[name]
    assert (entity_type["@BaseType"], entity_type["@Abstract"]) == (ref.BASE_TYPES[name], False)


@pytest.mark.parametrize("name", sorted(ref.NAVIGATIONS))
def test_navigations_match_reference(schema: Element, name: str) -> None:
    navigations = named(schema, "EntityType")[name].get("NavigationProperty", [])
    assert [(n["@Name"], n["@Type"]) for n in navigations] == ref.NAVIGATIONS[name]
    assert all(n["@ContainsTarget"] is True for n in navigations)


@pytest.mark.parametrize("name", sorted(ref.COMPLEX_PROPERTIES))
def test_complex_type_properties_match_reference(schema: Element, name: str) -> None:
    assert own_rows(named(schema, "ComplexType")[name]) == ref.COMPLEX_PROPERTIES[name]


@pytest.mark.parametrize("name", sorted(ref.ENUM_MEMBERS))
def test_enum_members_match_reference(schema: Element, name: str) -> None:
    enum_type = named(schema, "EnumType")[name]
    assert [(m["@Name"], m["@Value"]) for m in enum_type["Member"]] == ref.ENUM_MEMBERS[name]
    assert "@IsFlags" not in enum_type


def test_update_status_is_the_bound_action_of_the_reference(schema: Element) -> None:
    (action,) = schema["Action"]
    binding, *parameters = action["Parameter"]
    assert (action["@Name"], action["@IsBound"], "ReturnType" in action) == ("updateStatus", True, False)
    assert (binding["@Name"], binding["@Type"]) == ("bindingParameter", ref.UPDATE_STATUS_BINDING)
    assert [(p["@Name"], p["@Type"]) for p in parameters] == ref.UPDATE_STATUS_PARAMETERS
    # Nullability is the model's (the transcribed sources do not give it).
    assert [p.get("@Nullable", True) for p in parameters] == [p.nullable for p in UPDATE_STATUS.parameters]


def test_singleton_reaches_the_task_collection(schema: Element) -> None:
    (container,) = schema["EntityContainer"]
    (singleton,) = container["Singleton"]
    assert (container["@Name"], singleton["@Name"]) == ("GraphService", ref.SINGLETON)
    singleton_type = named(schema, "EntityType")[local_name(schema, singleton["@Type"])]
    (navigation,) = singleton_type["NavigationProperty"]
    assert (singleton_type["@BaseType"], navigation["@ContainsTarget"]) == ("graph.entity", True)
    assert (navigation["@Name"], navigation["@Type"]) == ref.TASKS_NAVIGATION


def test_schema_declares_exactly_the_family(schema: Element) -> None:
    entity_types = {*ref.ENTITY_PROPERTIES, "entity", ref.SINGLETON}
    assert sorted(named(schema, "EntityType")) == sorted(entity_types)
    assert sorted(named(schema, "ComplexType")) == sorted(ref.COMPLEX_PROPERTIES)
    assert sorted(named(schema, "EnumType")) == sorted(ref.ENUM_MEMBERS)


# --- against the model: every type, property and description it declares is in the document ---


def test_every_model_type_is_declared_in_model_order(schema: Element) -> None:
    assert list(named(schema, "EnumType")) == [e.name for e in ENUM_TYPES]
    assert list(named(schema, "ComplexType")) == [c.name for c in COMPLEX_TYPES]
    assert [n for n in named(schema, "EntityType") if n in {t.name for t in ENTITY_TYPES}] == [
        t.name for t in ENTITY_TYPES
    ]


@pytest.mark.parametrize("entity_type", ENTITY_TYPES, ids=lambda t: t.name)
def test_every_model_property_is_declared(schema: Element, entity_type: EntityType) -> None:
    rows = entity_rows(schema, entity_type.name)
    model = [
        (p.name, p.type_name.replace("microsoft.graph.", "graph."), p.nullable)
        for p in entity_type.properties
    ]
    assert rows == model


@pytest.mark.parametrize("entity_type", ENTITY_TYPES, ids=lambda t: t.name)
def test_descriptions_come_from_the_model(schema: Element, entity_type: EntityType) -> None:
    element = named(schema, "EntityType")[entity_type.name]
    declared = {p["@Name"]: description(p) for p in element.get("Property", [])}
    declared |= {n["@Name"]: description(n) for n in element.get("NavigationProperty", [])}
    # A root type's `id` is declared once, on `entity`, which carries none of the roots' descriptions.
    own = [p for p in entity_type.own_properties if entity_type.base or p.name != "id"]
    expected = {p.name: p.description for p in own} | {n.name: n.description for n in entity_type.navigation}
    assert (description(element), declared) == (entity_type.description, expected)


def test_complex_type_descriptions_come_from_the_model(schema: Element) -> None:
    for complex_type in COMPLEX_TYPES:
        element = named(schema, "ComplexType")[complex_type.name]
        declared = [(p["@Name"], description(p)) for p in element["Property"]]
        assert description(element) == complex_type.description
        assert declared == [(p.name, p.description) for p in complex_type.properties]


def test_root_types_must_agree_on_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    keyless = EntityType("keyless", "A root type without an id.", (Property("name", STRING, True, ""),))
    monkeypatch.setattr(csdl, "ENTITY_TYPES", (*ENTITY_TYPES, keyless))
    with pytest.raises(ValueError, match="do not agree on their key 'id'"):
        metadata_document.__wrapped__()


# --- well-formed and deterministic ---


def test_well_formed_xml_with_the_odata_namespaces() -> None:
    text = metadata_document()
    root = ET.fromstring(text)  # noqa: S314 - the document under test, not untrusted input
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n")
    assert (root.tag, root.get("Version")) == (f"{EDMX}Edmx", "4.0")
    assert [child.tag for child in root] == [f"{EDMX}Reference", f"{EDMX}DataServices"]
    assert root.find(f"{EDMX}DataServices/{EDM}Schema") is not None


def test_same_text_on_every_call() -> None:
    assert metadata_document.__wrapped__() == metadata_document.__wrapped__() == metadata_document()


def test_same_bytes_in_every_process() -> None:
    # String hashing is salted per process; a set or dict order leaking into the output would show here.
    program = "from graphtasks.model.csdl import metadata_document; print(metadata_document(), end='')"
    digests = {
        hashlib.sha256(
            subprocess.run(
                [sys.executable, "-c", program],
                env={**os.environ, "PYTHONHASHSEED": seed},
                capture_output=True,
                check=True,
            ).stdout
        ).hexdigest()
        for seed in ("1", "2")
    }
    assert digests == {hashlib.sha256(metadata_document().encode()).hexdigest()}
