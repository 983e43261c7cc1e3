"""HTTP layer: dependencies, error handlers, idempotency, and one route module per resource."""
