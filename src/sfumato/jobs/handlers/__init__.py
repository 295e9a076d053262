"""One module per job kind: the work (execute), the clean-up of a job that did not complete (discard), the
user-facing reasons it knows (failure_reason), and the kind's spec for the registry (bootstrap/kinds.py)."""
