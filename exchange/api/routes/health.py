from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from exchange.api.deps import ReadSessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: ReadSessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
