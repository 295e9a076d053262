"""The job core: one state machine (runner.py) for every kind of job, a registry of kinds (kinds.py), the
context a handler works with (context.py), typed events (events.py), and lanes (lanes.py)."""
