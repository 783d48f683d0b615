"""``thinkcli tune``: measure what each strategy buys on graded problems, and choose a
model's effort levels from it (its profile).

``grid`` names the strategies measured and replays votes from stored paths; ``measure``
runs them through the scheduler and keeps every measurement; ``frontier`` draws the
accuracy-against-tokens frontier and chooses the levels on it; ``stats`` holds the
intervals and paired tests; ``profile`` and ``levels`` give each model its levels;
``command`` is the command.
"""
