"""graphtasks.odata.selection.resolve_select: $select paths resolved against the task model.

Facts: a derived type's property is selected through a type cast (`microsoft.graph.x/y`,
OData URL conventions §5.1.3); on the base collection a bare derived name is unknown, with ODataLib's
"Could not find a property named ..." message; @odata.context lists the selection as written
(docs/graph-behaviour.md, "Response bodies").
"""

from __future__ import annotations

import pytest

from graphtasks.errors import BadRequest
from graphtasks.model.schema import (
    APP_VULNERABILITY_TASK,
    DEVICE_APP_MANAGEMENT_TASK,
    SECURITY_CONFIGURATION_TASK,
    TASK_TYPES,
    UNMANAGED_DEVICE_DISCOVERY_TASK,
)
from graphtasks.model.types import EntityType
from graphtasks.odata.selection import Selection, resolve_select

BASE = DEVICE_APP_MANAGEMENT_TASK
SECURITY = SECURITY_CONFIGURATION_TASK
VULNERABILITY = APP_VULNERABILITY_TASK
DISCOVERY = UNMANAGED_DEVICE_DISCOVERY_TASK
SECURITY_NAME = "microsoft.graph.securityConfigurationTask"
VULNERABILITY_NAME = "microsoft.graph.appVulnerabilityTask"

Paths = tuple[tuple[str, ...], ...]
# What a Selection holds, by name: (cast type's qualified name or None, property name).
Items = list[tuple[str | None, str]]


def _select(paths: Paths, entity_type: EntityType = BASE) -> Selection:
    selection = resolve_select(paths, entity_type, TASK_TYPES)
    assert selection is not None
    return selection


def _items(selection: Selection) -> Items:
    return [(None if cast is None else cast.qualified_name, prop.name) for cast, prop in selection.items]


@pytest.mark.parametrize("entity_type", [BASE, SECURITY], ids=["base", "cast-segment"])
def test_none_selects_everything(entity_type: EntityType) -> None:
    assert resolve_select(None, entity_type, TASK_TYPES) is None


@pytest.mark.parametrize(
    ("paths", "entity_type", "items"),
    [
        pytest.param((("id",),), BASE, [(None, "id")], id="id"),
        pytest.param(
            (("displayName",), ("status",)),
            BASE,
            [(None, "displayName"), (None, "status")],
            id="base-properties",
        ),
        pytest.param(
            (("status",), ("displayName",)),
            BASE,
            [(None, "status"), (None, "displayName")],
            id="order-as-written",
        ),
        pytest.param(
            ((SECURITY_NAME, "managedDeviceCount"),),
            BASE,
            [(SECURITY_NAME, "managedDeviceCount")],
            id="cast-prefixed-derived",
        ),
        pytest.param(
            ((SECURITY_NAME, "status"),), BASE, [(SECURITY_NAME, "status")], id="cast-prefixed-inherited"
        ),
        pytest.param(
            (("microsoft.graph.deviceAppManagementTask", "status"),),
            BASE,
            [("microsoft.graph.deviceAppManagementTask", "status")],
            id="cast-to-the-type-itself",
        ),
        pytest.param(
            (("displayName",), (SECURITY_NAME, "insights"), (VULNERABILITY_NAME, "insights")),
            BASE,
            [(None, "displayName"), (SECURITY_NAME, "insights"), (VULNERABILITY_NAME, "insights")],
            id="same-name-on-two-derived-types",
        ),
        pytest.param(
            (("managedDeviceCount",), ("status",)),
            SECURITY,
            [(None, "managedDeviceCount"), (None, "status")],
            id="bare-derived-on-cast-segment",
        ),
        pytest.param(
            ((SECURITY_NAME, "intendedSettings"),),
            SECURITY,
            [(SECURITY_NAME, "intendedSettings")],
            id="cast-prefix-on-its-own-cast-segment",
        ),
        pytest.param(
            (("unmanagedDevices",),), DISCOVERY, [(None, "unmanagedDevices")], id="complex-collection"
        ),
    ],
)
def test_resolve_select(paths: Paths, entity_type: EntityType, items: Items) -> None:
    assert _items(_select(paths, entity_type)) == items


def test_resolved_properties_are_the_models() -> None:
    selection = _select((("status",), (SECURITY_NAME, "managedDeviceCount")))
    assert selection.items == (
        (None, BASE.property("status")),
        (SECURITY, SECURITY.property("managedDeviceCount")),
    )


@pytest.mark.parametrize(
    ("paths", "entity_type", "message"),
    [
        pytest.param(
            (("managedDeviceCount",),),
            BASE,
            "Could not find a property named 'managedDeviceCount' on type "
            "'microsoft.graph.deviceAppManagementTask'.",
            id="bare-derived-on-base",
        ),
        pytest.param(
            (("nope",),),
            BASE,
            "Could not find a property named 'nope' on type 'microsoft.graph.deviceAppManagementTask'.",
            id="unknown",
        ),
        pytest.param(
            (("DisplayName",),),
            BASE,
            "Could not find a property named 'DisplayName' on type "
            "'microsoft.graph.deviceAppManagementTask'.",
            id="names-are-case-sensitive",
        ),
        pytest.param(
            (("managedDevices",),),
            SECURITY,
            "Could not find a property named 'managedDevices' on type "
            "'microsoft.graph.securityConfigurationTask'.",
            id="navigation-property",
        ),
        pytest.param(
            (("appName",),),
            SECURITY,
            "Could not find a property named 'appName' on type 'microsoft.graph.securityConfigurationTask'.",
            id="sibling-property-on-cast-segment",
        ),
        pytest.param(
            ((SECURITY_NAME, "appName"),),
            BASE,
            f"Could not find a property named 'appName' on type '{SECURITY_NAME}'.",
            id="cast-with-a-property-of-another-type",
        ),
        pytest.param(
            (("microsoft.graph.nope", "x"),),
            BASE,
            "The type 'microsoft.graph.nope' is not derived from 'microsoft.graph.deviceAppManagementTask'.",
            id="unknown-cast-type",
        ),
        pytest.param(
            ((VULNERABILITY_NAME, "appName"),),
            SECURITY,
            f"The type '{VULNERABILITY_NAME}' is not derived from '{SECURITY_NAME}'.",
            id="sibling-cast-on-cast-segment",
        ),
        pytest.param(
            (("a", "b"),),
            BASE,
            "The $select path 'a/b' does not name a property.",
            id="unqualified-two-segments",
        ),
        pytest.param(
            ((SECURITY_NAME, "intendedSettings", "name"),),
            BASE,
            f"The $select path '{SECURITY_NAME}/intendedSettings/name' does not name a property.",
            id="three-segments",
        ),
    ],
)
def test_resolve_select_rejects(paths: Paths, entity_type: EntityType, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        resolve_select(paths, entity_type, TASK_TYPES)
    error = caught.value
    assert (error.status, error.code, error.message) == (400, "BadRequest", message)


def test_one_bad_path_fails_the_whole_selection() -> None:
    with pytest.raises(BadRequest):
        resolve_select((("displayName",), ("nope",)), BASE, TASK_TYPES)


@pytest.mark.parametrize(
    ("paths", "text"),
    [
        ((("id",), ("status",)), "id,status"),
        (
            ((SECURITY_NAME, "managedDeviceCount"), ("displayName",)),
            f"{SECURITY_NAME}/managedDeviceCount,displayName",
        ),
        ((("displayName",),), "displayName"),
    ],
)
def test_selection_text(paths: Paths, text: str) -> None:
    assert _select(paths).text == text


MIXED: Paths = (
    ("displayName",),
    (SECURITY_NAME, "managedDeviceCount"),
    (VULNERABILITY_NAME, "appName"),
    ("microsoft.graph.deviceAppManagementTask", "status"),
)


@pytest.mark.parametrize(
    ("entity_type", "names"),
    [
        pytest.param(BASE, {"displayName", "status"}, id="base"),
        pytest.param(SECURITY, {"displayName", "status", "managedDeviceCount"}, id="security"),
        pytest.param(VULNERABILITY, {"displayName", "status", "appName"}, id="vulnerability"),
        pytest.param(DISCOVERY, {"displayName", "status"}, id="discovery"),
    ],
)
def test_names_for_shows_a_cast_property_only_on_that_type(entity_type: EntityType, names: set[str]) -> None:
    assert _select(MIXED).names_for(entity_type) == names


def test_names_for_on_a_cast_segment() -> None:
    selection = _select((("managedDeviceCount",), ("insights",)), SECURITY)
    assert selection.names_for(SECURITY) == {"managedDeviceCount", "insights"}
