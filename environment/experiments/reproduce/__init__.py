"""Reproduction of the four papers: their case studies run by the project's commands, each
reported quantity beside the paper's, every deviation beyond 20 % tied to a named cause.

* ``causes`` — the one registry of causes (a parameter with its value, a definition, missing
  data) and which quantity each explains;
* ``rows`` — a quantity's row (paper, ours, ratio, cause), the paper values' files, the page and
  its JSON;
* ``papers`` — per paper, the rows from the typed summaries of the runs
  (``environment.summaries``).
"""
