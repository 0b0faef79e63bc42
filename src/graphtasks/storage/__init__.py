"""Storage backends: the TaskStore protocol and its SQLAlchemy Core implementation (SQLite, PostgreSQL)."""
