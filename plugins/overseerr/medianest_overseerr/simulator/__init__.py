"""A simulated Overseerr server for tests, benchmarks and the demo."""
