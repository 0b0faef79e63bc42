"""$select paths resolved against the model: which properties each returned entity shows.

A derived type's property is selected through its cast (`microsoft.graph.securityConfigurationTask/
insights`), or by name on a type-cast segment; on the base collection a bare derived name is unknown,
as in $filter. Pure: reads only the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphtasks.errors import BadRequest
from graphtasks.model.types import EntityType, Property


@dataclass(frozen=True)
class Selection:
    # (cast type or None, property), in the order written.
    items: tuple[tuple[EntityType | None, Property], ...]

    @property
    def text(self) -> str:
        """The selection as @odata.context shows it: `displayName,microsoft.graph.x/insights`."""
        return ",".join(
            p.name if cast is None else f"{cast.qualified_name}/{p.name}" for cast, p in self.items
        )

    def names_for(self, entity_type: EntityType) -> frozenset[str]:
        """The selected properties an entity of `entity_type` shows."""
        ancestors = set(entity_type.ancestors())
        return frozenset(p.name for cast, p in self.items if cast is None or cast in ancestors)


def resolve_select(
    paths: tuple[tuple[str, ...], ...] | None, entity_type: EntityType, types: tuple[EntityType, ...]
) -> Selection | None:
    """None selects everything. `types` are the types a collection may hold (for cast prefixes)."""
    if paths is None:
        return None
    return Selection(tuple(_resolve(path, entity_type, types) for path in paths))


def _resolve(
    path: tuple[str, ...], entity_type: EntityType, types: tuple[EntityType, ...]
) -> tuple[EntityType | None, Property]:
    if len(path) == 1:
        return None, _property(entity_type, path[0])
    if len(path) == 2 and "." in path[0]:
        cast = next((t for t in types if t.qualified_name == path[0]), None)
        if cast is None or entity_type not in cast.ancestors():
            raise BadRequest(f"The type '{path[0]}' is not derived from '{entity_type.qualified_name}'.")
        return cast, _property(cast, path[1])
    raise BadRequest(f"The $select path '{'/'.join(path)}' does not name a property.")


def _property(entity_type: EntityType, name: str) -> Property:
    prop = entity_type.property(name)
    if prop is None:
        raise BadRequest(f"Could not find a property named '{name}' on type '{entity_type.qualified_name}'.")
    return prop


# (type cast or None, navigation name) pairs of an $expand.
Expansion = tuple[tuple[EntityType | None, str], ...]
# The most entities an expanded navigation collection shows inline; the rest are behind its
# `<navigation>@odata.nextLink`. Graph's "Use query parameters to customize responses" page: $expand
# "typically returns a maximum of 20 items for the expanded relationship" (docs/resilience.md, "$expand").
EXPANDED_PAGE_SIZE = 20


def resolve_expand(
    paths: tuple[tuple[str, ...], ...], entity_type: EntityType, types: tuple[EntityType, ...]
) -> Expansion:
    """$expand of the navigation collections. On the base collection a bare name (`managedDevices`)
    is accepted and expands on every task whose type has it, so the SDK can see them inline; the cast
    form limits it to one type. `*` expands every navigation."""
    if not paths:
        return ()
    derived = [t for t in types if entity_type in t.ancestors()] or [entity_type]
    names = {n.name for t in derived for n in t.navigation}
    items: list[tuple[EntityType | None, str]] = []
    for path in paths:
        if path == ("*",):
            items += [(None, name) for name in sorted(names)]
        elif len(path) == 1 and path[0] in names:
            items.append((None, path[0]))
        elif len(path) == 2 and "." in path[0]:
            cast = next((t for t in derived if t.qualified_name == path[0]), None)
            if cast is None or cast.navigation_property(path[1]) is None:
                raise BadRequest(f"Could not find a navigation property named '{'/'.join(path)}'.")
            items.append((cast, path[1]))
        else:
            name = "/".join(path)
            raise BadRequest(
                f"Could not find a navigation property named '{name}' on type '{entity_type.qualified_name}'."
            )
    return tuple(dict.fromkeys(items))


def expands(expansion: Expansion, entity_type: EntityType, navigation: str) -> bool:
    """Whether an entity of `entity_type` shows `navigation` inline under `expansion`."""
    if entity_type.navigation_property(navigation) is None:
        return False
    return any(
        name == navigation and (cast is None or cast in entity_type.ancestors()) for cast, name in expansion
    )
