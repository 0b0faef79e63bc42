"""Load benchmark for graphtasks (bench/load.py) and its bare ASGI baseline (bench/bare_app.py)."""
