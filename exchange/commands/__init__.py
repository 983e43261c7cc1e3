"""The ``datalease`` workflow commands, built on :mod:`exchange.client`.

They talk to a running exchange (``--url`` / ``DATALEASE_URL``) as the account whose key
they hold (``--key`` / ``DATALEASE_KEY``); ``--json`` prints what scripts read.
"""

from __future__ import annotations

import typer

from exchange.commands import audit, buyer, governance, provider


def register(app: typer.Typer) -> None:
    app.add_typer(provider.dataset_app, name="dataset", no_args_is_help=True)
    provider.offer_app.command("review")(governance.review)
    app.add_typer(provider.offer_app, name="offer", no_args_is_help=True)
    app.command("catalog")(buyer.catalog)
    app.command("quote")(buyer.quote)
    app.add_typer(buyer.lease_app, name="lease", no_args_is_help=True)
    app.add_typer(audit.audit_app, name="audit", no_args_is_help=True)
    app.add_typer(buyer.job_app, name="job", no_args_is_help=True)
    app.add_typer(governance.objection_app, name="objection", no_args_is_help=True)
    app.command("transparency")(governance.transparency)
