"""`python -m server.cli` runs the same CLI as the `fieldsync` console script."""

import sys

from server.cli import main

sys.exit(main())
