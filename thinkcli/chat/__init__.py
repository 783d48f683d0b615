"""The interactive chat: a loop of turns on one loaded model (``thinkcli chat``).

``repl`` reads input and runs turns, ``commands`` parses and completes slash
commands, ``actions`` carries them out, ``sessions`` saves and loads conversations.
"""
