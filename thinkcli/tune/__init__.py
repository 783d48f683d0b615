"""``thinkcli tune``: measure what each strategy buys on graded problems, and choose a
model's effort levels from it (its profile).

``grid`` names the strategies measured and replays votes from stored paths; ``measure``
runs them through the scheduler and keeps every measurement; ``frontier`` draws the
accuracy-against-tokens frontier, chooses the levels on it and cross-validates them;
``stats`` holds the intervals and paired tests; ``progress`` the ETA; ``report`` and
``show`` what is printed; ``profile`` and ``levels`` give each model its levels;
``sets`` holds the problem sets thinkcli ships; ``command`` is the command.
"""
