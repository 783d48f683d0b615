"""The run log: every ask, chat turn and batch problem, kept in one SQLite file.

``record.py`` is a run as kept, ``store.py`` the file (``RunStore``), ``recorder.py``
what commands call once an answer is shown, ``tokens.py`` each path's per-token
confidences, and ``commands.py`` the ``log`` and ``trace`` commands.
"""
