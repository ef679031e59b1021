"""The local scale-out drill: ``make drill`` (``python -m tests.drill``).

A private PostgreSQL and Redis, the Plex simulators, three ``medianest serve`` replicas
behind HAProxy and two ``medianest worker`` processes, all on loopback with ports of their
own; a bounded mixed load runs while one phase at a time restarts or kills a piece. Each
phase reports its requests, errors by status, the longest gap without a successful answer
and whether anything was lost; the drill exits non-zero when a target is missed.
"""
