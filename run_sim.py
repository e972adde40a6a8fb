"""Command-line entry point: ``python run_sim.py --help``."""

import sys

from environment.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
