"""One router per resource, in the order they appear in the OpenAPI schema."""

from exchange.api.routes import (
    accounts,
    audit,
    budgets,
    datasets,
    health,
    jobs,
    leases,
    offers,
    revenue,
    rights,
    subjects,
)

ROUTERS = [
    health.router,
    accounts.router,
    datasets.router,
    offers.router,
    budgets.router,
    leases.router,
    jobs.router,
    revenue.router,
    rights.router,
    subjects.router,
    audit.router,
]
