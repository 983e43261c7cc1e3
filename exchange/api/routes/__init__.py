"""One router per resource, in the order they appear in the OpenAPI schema."""

from exchange.api.routes import accounts, audit, datasets, health, leases, offers, revenue

ROUTERS = [
    health.router,
    accounts.router,
    datasets.router,
    offers.router,
    leases.router,
    revenue.router,
    audit.router,
]
