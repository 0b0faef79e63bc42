"""The OData CSDL XML document (`GET /beta/$metadata`) of the deviceAppManagementTask family.

Owns how the model (model/schema.py) is spelled as CSDL 4.0 XML, and the few conventions of Graph's
own $metadata that the model does not carry: the abstract `entity` root that holds the key, the
`deviceAppManagement` entity type behind the singleton, the `graph` alias and the `bindingParameter`
name. Every type, property, member, navigation and action comes from schema.py; none is declared here.

Pure: builds a string; must not import from web/, auth/ or storage/ (serving it is the web layer's job).
"""

from __future__ import annotations

from functools import cache
from xml.etree import ElementTree as ET

from graphtasks.model.schema import (
    COMPLEX_TYPES,
    DEVICE_APP_MANAGEMENT_TASK,
    ENUM_TYPES,
    NAVIGATION_TARGETS,
    SINGLETON,
    TASK_TYPES,
    TASKS_SEGMENT,
    UPDATE_STATUS,
    navigation_target,
)
from graphtasks.model.types import (
    NAMESPACE,
    Action,
    ActionParameter,
    ComplexType,
    EntityType,
    EnumType,
    NavigationProperty,
    PrimitiveType,
    Property,
)

EDMX_NS = "http://docs.oasis-open.org/odata/ns/edmx"
EDM_NS = "http://docs.oasis-open.org/odata/ns/edm"
# Graph's $metadata declares microsoft.graph with this alias and spells every type reference with it.
ALIAS = "graph"
CONTAINER = "GraphService"
ROOT_ENTITY = "entity"
KEY = "id"
# Graph's name for the binding parameter of every bound operation.
BINDING_PARAMETER = "bindingParameter"
# Graph's type behind a singleton has the singleton's name (deviceAppManagement : graph.entity).
SINGLETON_TYPE = SINGLETON
# A document may use only the terms of schemas it includes (CSDL XML: edmx:Reference, edmx:Include).
CORE_VOCABULARY = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml"
CORE_NAMESPACE = "Org.OData.Core.V1"
CORE_ALIAS = "Core"
DESCRIPTION_TERM = f"{CORE_ALIAS}.Description"

ENTITY_TYPES: tuple[EntityType, ...] = (*TASK_TYPES, *NAVIGATION_TARGETS)

ReferencedType = PrimitiveType | EnumType | ComplexType | EntityType


@cache
def metadata_document() -> str:
    """The $metadata document; the same string on every call."""
    # Prefixed tag names with explicit xmlns attributes, rather than ElementTree's namespace registry:
    # that registry is process-global, and its generated prefixes (ns0, ns1) are not Graph's.
    root = ET.Element("edmx:Edmx", {"Version": "4.0", "xmlns:edmx": EDMX_NS})
    root.append(_core_reference())
    ET.SubElement(root, "edmx:DataServices").append(_schema())
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _core_reference() -> ET.Element:
    reference = ET.Element("edmx:Reference", {"Uri": CORE_VOCABULARY})
    ET.SubElement(reference, "edmx:Include", {"Namespace": CORE_NAMESPACE, "Alias": CORE_ALIAS})
    return reference


def _schema() -> ET.Element:
    """Enums, entity types, complex types, the action, the container: the order Graph's $metadata uses."""
    schema = ET.Element("Schema", {"Namespace": NAMESPACE, "Alias": ALIAS, "xmlns": EDM_NS})
    schema.extend(_enum_type(enum_type) for enum_type in ENUM_TYPES)
    schema.append(_root_entity_type())
    schema.extend(_entity_type(entity_type) for entity_type in ENTITY_TYPES)
    schema.append(_singleton_type())
    schema.extend(_complex_type(complex_type) for complex_type in COMPLEX_TYPES)
    schema.append(_action(UPDATE_STATUS))
    schema.append(_container())
    return schema


def _enum_type(enum_type: EnumType) -> ET.Element:
    element = ET.Element("EnumType", {"Name": enum_type.name})
    for member in enum_type.members:
        ET.SubElement(element, "Member", {"Name": member, "Value": str(enum_type.value_of(member))})
    return element


def _root_entity_type() -> ET.Element:
    """`entity`, the abstract root of every entity type, holding the key `id`
    (docs/graph-behaviour.md, "$metadata")."""
    element = ET.Element("EntityType", {"Name": ROOT_ENTITY, "Abstract": "true"})
    ET.SubElement(ET.SubElement(element, "Key"), "PropertyRef", {"Name": KEY})
    element.append(_property(_key_property()))
    return element


def _key_property() -> Property:
    """The `id` every root type of the model declares for itself, which CSDL declares once, on `entity`."""
    roots = [entity_type for entity_type in ENTITY_TYPES if entity_type.base is None]
    keys = [key for root in roots if (key := root.property(KEY)) is not None]
    if len(keys) != len(roots) or len({(k.type, k.nullable, k.collection) for k in keys}) != 1:
        raise ValueError(f"the root entity types do not agree on their key '{KEY}'")
    # Each root type describes its own id; `entity`'s key is shared, so it carries none of them.
    return Property(KEY, keys[0].type, keys[0].nullable, "")


def _entity_type(entity_type: EntityType) -> ET.Element:
    base = entity_type.base.name if entity_type.base else ROOT_ENTITY
    element = ET.Element("EntityType", {"Name": entity_type.name, "BaseType": f"{ALIAS}.{base}"})
    _describe(element, entity_type.description)
    # A root type inherits `id` from `entity`; CSDL forbids declaring an inherited name again.
    own = [p for p in entity_type.own_properties if entity_type.base or p.name != KEY]
    element.extend(_property(prop) for prop in own)
    element.extend(_navigation(entity_type, navigation) for navigation in entity_type.navigation)
    return element


def _navigation(entity_type: EntityType, navigation: NavigationProperty) -> ET.Element:
    target = navigation_target(entity_type, navigation.name)
    if target is None:
        raise ValueError(f"{entity_type.name}.{navigation.name} has no target type")
    element = _contained_collection(navigation.name, target)
    _describe(element, navigation.description)
    return element


def _singleton_type() -> ET.Element:
    """The type of the deviceAppManagement singleton, reduced to this family's one navigation."""
    element = ET.Element("EntityType", {"Name": SINGLETON_TYPE, "BaseType": f"{ALIAS}.{ROOT_ENTITY}"})
    element.append(_contained_collection(TASKS_SEGMENT, DEVICE_APP_MANAGEMENT_TASK))
    return element


def _contained_collection(name: str, target: EntityType) -> ET.Element:
    # Contained, as Graph's preprocessed CSDL has them (docs/graph-behaviour.md, "Navigation collections").
    attributes = {"Name": name, "Type": _type_ref(target, collection=True), "ContainsTarget": "true"}
    return ET.Element("NavigationProperty", attributes)


def _complex_type(complex_type: ComplexType) -> ET.Element:
    element = ET.Element("ComplexType", {"Name": complex_type.name})
    _describe(element, complex_type.description)
    element.extend(_property(prop) for prop in complex_type.properties)
    return element


def _property(prop: Property) -> ET.Element:
    attributes = {"Name": prop.name, "Type": _type_ref(prop.type, collection=prop.collection)}
    # On a collection the facet speaks of its items, as the model's `nullable` does: intendedSettings,
    # whose items may be null, has no Nullable attribute, as in Graph's $metadata.
    nullable = prop.items_nullable if prop.collection else prop.value_nullable
    element = ET.Element("Property", _with_nullable(attributes, nullable=nullable))
    _describe(element, prop.description)
    return element


def _action(action: Action) -> ET.Element:
    element = ET.Element("Action", {"Name": action.name, "IsBound": "true"})
    binding = {"Name": BINDING_PARAMETER, "Type": _type_ref(action.binding)}
    ET.SubElement(element, "Parameter", binding)
    element.extend(_parameter(parameter) for parameter in action.parameters)
    return element


def _parameter(parameter: ActionParameter) -> ET.Element:
    attributes = {"Name": parameter.name, "Type": _type_ref(parameter.type)}
    if not parameter.unicode:
        attributes["Unicode"] = "false"
    return ET.Element("Parameter", _with_nullable(attributes, nullable=parameter.nullable))


def _container() -> ET.Element:
    container = ET.Element("EntityContainer", {"Name": CONTAINER})
    ET.SubElement(container, "Singleton", {"Name": SINGLETON, "Type": f"{ALIAS}.{SINGLETON_TYPE}"})
    return container


def _type_ref(type_: ReferencedType, *, collection: bool = False) -> str:
    """A type as the document references it: `Edm.String`, `graph.keyValuePair`, `Collection(...)`."""
    name = type_.name if isinstance(type_, PrimitiveType) else f"{ALIAS}.{type_.name}"
    return f"Collection({name})" if collection else name


def _with_nullable(attributes: dict[str, str], *, nullable: bool) -> dict[str, str]:
    # An absent Nullable means true for properties and parameters (CSDL XML, the Nullable facet); like
    # Graph's own $metadata, the attribute is written only where it says false.
    return attributes if nullable else {**attributes, "Nullable": "false"}


def _describe(element: ET.Element, description: str) -> None:
    if description:
        ET.SubElement(element, "Annotation", {"Term": DESCRIPTION_TERM, "String": description})
