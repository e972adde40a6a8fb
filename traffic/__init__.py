"""Road network, link and queue dynamics, and traffic assignment."""
