import sys

from dynint.cli.main import main

sys.exit(main())
