import sys

from fastgrad.cli import main

sys.exit(main())
