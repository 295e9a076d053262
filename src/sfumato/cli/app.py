"""The root `sfumato` Typer app: it mounts the command groups and does nothing else at import time.

A new group is one module beside this one plus one line below (e.g. a `jobs` group: `jobs_app`)."""

from __future__ import annotations

import typer

from sfumato.cli import (
    accounts,
    cluster,
    db,
    generate,
    jobs,
    models,
    serve,
    starter,
    starter_motion,
    training,
    webhooks,
)

app = typer.Typer(help="Sfumato: self-hosted, Leonardo-compatible image generation.", no_args_is_help=True)

# Single commands first, then the groups: the order `sfumato --help` lists them in.
for command in (serve.serve, generate.generate, cluster.worker, cluster.reaper, cluster.status):
    app.command()(command)

app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.keys_app, name="keys")
models.models_app.command("train")(training.models_train)
app.add_typer(models.models_app, name="models")
app.add_typer(training.elements_app, name="elements")
app.add_typer(training.trainings_app, name="trainings")
app.add_typer(db.db_app, name="db")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(starter.starter_app, name="starter", help="Train and evaluate the bundled starter model.")
app.add_typer(starter_motion.starter_motion_app, name="starter-motion", help="Train and evaluate Starter Motion.")
