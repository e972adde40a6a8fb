"""Command-line interface: argument parsing and the commands (``python run_sim.py --help``)."""
