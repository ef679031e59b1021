"""MediaNest's benchmarks: ``python -m tests.benchmarks [names...] [--quick]`` (``make bench``).

Each benchmark lives in its own module with an ``async def run(quick: bool) -> Result``; the
catalogue (:mod:`tests.benchmarks.catalogue`) lists them in the order they run. Servers and
load generators run as separate processes on 127.0.0.1, so a measuring client never shares
an interpreter lock with the server it measures. Figures are printed and written to
``bench-results/``; nothing here asserts a timing.
"""
