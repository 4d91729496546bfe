import sys

from tools.lab.cli import main

sys.exit(main())
