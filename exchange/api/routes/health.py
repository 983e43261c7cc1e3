from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from exchange.api.deps import ReadSessionDep
from exchange.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/healthz", response_model=Health, summary="Liveness: the service and its database answer"
)
def healthz(session: ReadSessionDep) -> dict[str, str]:
    """**Who:** anyone, without a key (load balancers, monitoring). Runs one query on the
    database; a saturated database answers 503."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
