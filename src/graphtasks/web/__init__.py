"""The HTTP layer: route table, handlers, Graph JSON serialization and the Graph-context middleware."""
