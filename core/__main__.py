"""``python -m intently`` runs the command line."""

import sys

from intently.cli.main import main

sys.exit(main())
