"""Identity: the server's signing keys, bearer-token issue and verification, and permission checks."""
