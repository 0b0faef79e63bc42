"""Helpers shared by the test suites: databases, a server on a real port, tokens."""
