"""Co-simulation kernel: a mesa Model on a simpy clock, the recorder and the runners."""
