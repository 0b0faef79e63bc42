"""The resource model: Graph types (schema), EDM literals (edm), body validation and task records."""
