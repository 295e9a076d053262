"""Helpers shared by tests/ and bench/: a real server and the real CLI on loopback (live_server), and a
scaled-out cluster of API processes and Celery workers on PostgreSQL and Redis or RabbitMQ (cluster).

Part of the package, so the benchmarks import them without reaching into tests/."""
