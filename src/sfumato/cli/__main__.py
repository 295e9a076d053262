"""`python -m sfumato.cli ...`, as the tests and the benchmarks run it."""

from sfumato.cli.app import app

app()
