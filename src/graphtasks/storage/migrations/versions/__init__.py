"""Versioned migrations, applied in order by storage/migrate.py."""
