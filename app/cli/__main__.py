"""`python -m app.cli`: the `fitboard` command without the console script."""

import sys

from app.cli.commands import main

sys.exit(main())
