"""The ``payrisk`` command: wires the packages together, holds no logic of its own."""

from __future__ import annotations

import typer

from payrisk.commands import audit as audit_commands
from payrisk.commands import db as db_commands
from payrisk.commands import features as features_commands
from payrisk.commands import generate as generate_commands
from payrisk.commands import keys as keys_commands
from payrisk.commands import ledger as ledger_commands
from payrisk.commands import model_card as model_card_commands
from payrisk.commands import monitor as monitor_commands
from payrisk.commands import retrain as retrain_commands
from payrisk.commands import score_batch as score_batch_commands
from payrisk.commands import serve as serve_commands
from payrisk.commands import train as train_commands

app = typer.Typer(
    name="payrisk",
    help="Predict late payments and build a prioritized collections worklist.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ledger_commands.app, name="ledger", help="Validate, import and inspect a ledger.")
generate_commands.register(app)
db_commands.register(app)
features_commands.register(app)
train_commands.register(app)
retrain_commands.register(app)
model_card_commands.register(app)
score_batch_commands.register(app)
serve_commands.register(app)
keys_commands.register(app)
audit_commands.register(app)
monitor_commands.register(app)
