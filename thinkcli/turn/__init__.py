"""One turn's machinery: the paths of a run, how they are steered, and how they are chosen.

``strategies.py`` says how a run spends compute (single, vote, vote+verify, adaptive),
``run.py`` is a run (its paths, the vote, verification), ``sample.py`` a path (its tags
and budget forcing), ``prompt.py`` the text a run decodes and ``traced.py`` each path's
per-token record. They ask ``thinkcli.scheduler`` for paths and tokens.
"""

from thinkcli.turn.run import Plan, Run
from thinkcli.turn.sample import Budget
from thinkcli.turn.strategies import STRATEGIES, Strategy, events, partial, paths_at_once, program

__all__ = ["STRATEGIES", "Budget", "Plan", "Run", "Strategy", "events", "partial", "paths_at_once", "program"]
