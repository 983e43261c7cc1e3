"""The console's governance pages: lease approval steps, listing reviews and objections.

Which pages a person sees follows their account's duties, not only its role: a data
officer at a district decides approval steps, a compliance account reviews listings,
whatever role their keys carry. The API still decides every action.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from exchange.console.routes import Ctx, checked, form, see_other, signed_in

router = APIRouter(prefix="/console", include_in_schema=False)


def chain_steps(lease: dict[str, Any]) -> list[dict[str, Any]]:
    """Each step of the lease's approval chain: done (with who and why), next, or later."""
    done = {a["step"]: a for a in lease.get("approvals") or []}
    steps = []
    for i, level in enumerate(lease.get("approval_chain") or [], start=1):
        decided = done.get(i)
        state = "done" if decided else "next" if len(done) + 1 == i else "later"
        if state == "next" and lease.get("status") != "requested":
            state = "stopped"  # rejected, withdrawn or expired before this step
        steps.append({"step": i, "level": level, "state": state, "decided": decided})
    return steps


@router.get("/approvals", response_class=HTMLResponse)
async def approvals(ctx: Ctx = Depends(signed_in)) -> Response:
    leases = await ctx.api.get("/v1/leases")
    pending = [lease for lease in leases if lease["status"] == "requested"]
    chains = {lease["id"]: chain_steps(lease) for lease in leases}
    return ctx.render("approvals.html", leases=leases, pending=pending, chains=chains)


@router.post("/leases/{lease_id}/decision")
async def decide(lease_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    values = await form(request)
    action = "approve" if values.get("action") == "approve" else "reject"
    await ctx.api.post(f"/v1/leases/{lease_id}/{action}", {"reason": values.get("reason", "")})
    return see_other("/console/approvals")


@router.get("/reviews", response_class=HTMLResponse)
async def reviews(done: str = "", ctx: Ctx = Depends(signed_in)) -> Response:
    pending = await ctx.api.get("/v1/offers", review_status="pending_review")
    disclosed = await ctx.api.get("/v1/offers", review_status="disclosed")
    objections = await ctx.api.get("/v1/objections", status="open")
    return ctx.render(
        "reviews.html", pending=pending, disclosed=disclosed, objections=objections, done=done
    )


@router.post("/offers/{offer_id}/review")
async def review(offer_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    values = await form(request)
    body = {"approve": values.get("action") == "approve", "reason": values.get("reason", "")}
    offer = await ctx.api.post(f"/v1/offers/{offer_id}/review", body)
    return see_other(f"/console/reviews?done={offer['id']}+{offer['review_status']}")


@router.post("/objections/{objection_id}/decision")
async def decide_objection(
    objection_id: str, request: Request, ctx: Ctx = Depends(checked)
) -> Response:
    values = await form(request)
    body = {"uphold": values.get("action") == "uphold", "reason": values.get("reason", "")}
    objection = await ctx.api.post(f"/v1/objections/{objection_id}/decision", body)
    return see_other(f"/console/reviews?done={objection['id']}+{objection['status']}")
