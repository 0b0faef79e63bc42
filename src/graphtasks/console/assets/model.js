// The task types as the server describes them in its $metadata document: enum members, each type's
// properties in the docs' order, and which navigation collections each type has. Read from the server
// rather than written out here, so the console never disagrees with the model it shows.

import {GRAPH} from "./api.js";

const EDM = "http://docs.oasis-open.org/odata/ns/edm";
export const BASE_TASK = "deviceAppManagementTask";

let loaded = null;

// The model, fetched once per page. $metadata needs no token.
export function loadModel() {
  loaded ??= fetch(`${GRAPH}/$metadata`, {credentials: "same-origin"})
    .then((response) => {
      if (!response.ok) throw new Error(`The server's $metadata answered ${response.status}.`);
      return response.text();
    })
    .then((text) => readModel(new DOMParser().parseFromString(text, "application/xml")));
  return loaded;
}

function readModel(document) {
  const enums = new Map();
  for (const node of document.getElementsByTagNameNS(EDM, "EnumType")) {
    enums.set(node.getAttribute("Name"), children(node, "Member").map((m) => m.getAttribute("Name")));
  }
  const types = new Map();
  for (const tag of ["EntityType", "ComplexType"]) {
    for (const node of document.getElementsByTagNameNS(EDM, tag)) {
      types.set(node.getAttribute("Name"), readType(node));
    }
  }
  return new Model(enums, types);
}

function readType(node) {
  return {
    name: node.getAttribute("Name"),
    base: localName(node.getAttribute("BaseType")),
    properties: children(node, "Property").map(readProperty),
    navigation: children(node, "NavigationProperty").map((n) => ({
      name: n.getAttribute("Name"),
      target: localName(n.getAttribute("Type")),
      description: description(n),
    })),
  };
}

function readProperty(node) {
  const type = node.getAttribute("Type");
  return {
    name: node.getAttribute("Name"),
    type: localName(type),
    edm: type.startsWith("Edm.") ? type : null,
    collection: type.startsWith("Collection("),
    description: description(node),
  };
}

function children(node, tag) {
  return [...node.children].filter((c) => c.localName === tag);
}

function description(node) {
  const note = children(node, "Annotation").find((a) => a.getAttribute("Term") === "Core.Description");
  return note?.getAttribute("String") ?? "";
}

// "Collection(graph.keyValuePair)" -> "keyValuePair"; "Edm.String" -> "Edm.String".
function localName(type) {
  if (!type) return null;
  const inner = type.replace(/^Collection\((.*)\)$/, "$1");
  return inner.startsWith("Edm.") ? inner : inner.split(".").pop();
}

class Model {
  constructor(enums, types) {
    this.enums = enums;
    this.types = types;
  }

  members(enumName) {
    return this.enums.get(enumName) ?? [];
  }

  isEnum(typeName) {
    return this.enums.has(typeName);
  }

  // A type's properties, inherited ones first, as the server serializes them.
  properties(typeName) {
    const type = this.types.get(typeName);
    if (!type) return [];
    return [...(type.base ? this.properties(type.base) : []), ...type.properties];
  }

  navigation(typeName) {
    return this.types.get(typeName)?.navigation ?? [];
  }

  // The task types a create may name: the base type and every type derived from it.
  taskTypes() {
    return [...this.types.values()].filter((t) => t.name === BASE_TASK || t.base === BASE_TASK)
      .map((t) => t.name);
  }

  // The type of a property, looked up on the base task type and then on each derived one, with the
  // derived type that declares it (needed for a cast in $filter).
  owner(propertyName) {
    for (const name of this.taskTypes()) {
      const own = this.types.get(name).properties.find((p) => p.name === propertyName);
      if (own) return {type: name, property: own};
    }
    return null;
  }
}
