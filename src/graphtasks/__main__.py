"""`python -m graphtasks` runs the command line."""

from graphtasks.cli import main

raise SystemExit(main())
