"""Moving jobs from PENDING to COMPLETE/FAILED: dispatch (in-process now, Celery later) and the runner."""
