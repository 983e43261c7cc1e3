"""The console's pages: one GET per page, one POST per form; every action goes through the
exchange's API (``bridge.Api``) with the signed-in person's key."""

from __future__ import annotations

import importlib.util
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.templating import Jinja2Templates

from exchange.console import charts, release_charts
from exchange.console.bridge import Api, ApiError
from exchange.console.session import (
    COOKIE,
    LOGIN_COOKIE,
    MAX_AGE,
    ConsoleSession,
    SessionSealer,
    clear_cookie,
    new_session,
    same_token,
    set_cookie,
)

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters["money"] = charts.money
templates.env.filters["pct"] = charts.pct
templates.env.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)

router = APIRouter(prefix="/console", include_in_schema=False)

HOME = {
    "provider": "/console/datasets",
    "buyer": "/console/catalog",
    "auditor": "/console/audit",
    "operator": "/console/budget-requests",
}
# Entries that show someone reading data (the rest are lifecycle and money).
ACCESS_KINDS = ("preview_view", "extract_download", "query", "desensitization_receipt")
SEE_OTHER = 303


class SignInRequired(Exception):
    pass


class CsrfRefused(Exception):
    pass


def sealer(request: Request) -> SessionSealer:
    found = getattr(request.app.state, "console_sealer", None)
    if found is None:
        secret = request.app.state.exchange.master.derive("console session cookie")
        found = request.app.state.console_sealer = SessionSealer(secret)
    return found


def _client(request: Request) -> tuple[str, int] | None:
    return (request.client.host, request.client.port) if request.client else None


def api_for(request: Request, key: str | None) -> Api:
    return Api(request.app, key, client=_client(request), outer_scope=request.scope)


class Ctx:
    """The signed-in person on one request: their session and their view of the API."""

    def __init__(self, request: Request, session: ConsoleSession) -> None:
        self.request = request
        self.session = session
        self.api = api_for(request, session.key)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        return templates.TemplateResponse(
            self.request, template, {"me": self.session, "home": HOME, **values}, status_code=status
        )


async def signed_in(request: Request) -> Ctx:
    session = sealer(request).open(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired()
    return Ctx(request, session)


async def checked(request: Request) -> Ctx:
    """A signed-in POST whose form (or X-CSRF-Token header) carries the session's token."""
    ctx = await signed_in(request)
    given = request.headers.get("x-csrf-token")
    if given is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        given = str((await request.form()).get("csrf") or "")
    if not same_token(ctx.session.csrf, given):
        raise CsrfRefused()
    return ctx


async def form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: str(v) for k, v in data.items()}


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=SEE_OTHER)


def plotly_js() -> Path:
    """plotly.js as the installed plotly package ships it."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the console needs the plotly package for its charts")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


@router.get("/vendor/plotly.min.js")
async def plotly_asset() -> Response:
    return FileResponse(
        plotly_js(),
        media_type="text/javascript",
        headers={"cache-control": "public, max-age=86400"},
    )


# --- sign-in ---------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
async def start(request: Request) -> Response:
    session = sealer(request).open(request.cookies.get(COOKIE))
    if session is not None:
        return see_other(HOME.get(session.role, "/console/transparency"))
    return _sign_in_page(request)


def _sign_in_page(request: Request, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request, "sign_in.html", {"me": None, "csrf": token, "error": error}, status_code=status
    )
    set_cookie(response, request, LOGIN_COOKIE, token, 3600)
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    values = await form(request)
    if not same_token(request.cookies.get(LOGIN_COOKIE), values.get("csrf")):
        return _sign_in_page(request, "The sign-in form expired; please try again.", 400)
    key = values.get("api_key", "").strip()
    if not key:
        return _sign_in_page(request, "Enter your API key.", 400)
    try:
        me = await api_for(request, key).get("/v1/me")
    except ApiError as exc:
        return _sign_in_page(request, f"Sign-in refused: {exc.message}", exc.status)
    session = new_session(key, me)
    response = see_other(HOME.get(session.role, "/console/transparency"))
    set_cookie(response, request, COOKIE, sealer(request).seal(session), MAX_AGE)
    clear_cookie(response, LOGIN_COOKIE)
    return response


@router.post("/sign-out")
async def sign_out(ctx: Ctx = Depends(checked)) -> Response:
    response = see_other("/console")
    clear_cookie(response, COOKIE)
    return response


# --- provider --------------------------------------------------------------------------


@router.get("/datasets", response_class=HTMLResponse)
async def datasets(ctx: Ctx = Depends(signed_in)) -> Response:
    found = await ctx.api.get("/v1/datasets")
    return ctx.render("datasets.html", datasets=found)


@router.post("/datasets")
async def upload(request: Request, ctx: Ctx = Depends(checked)) -> Response:
    """The browser's multipart body, streamed to the API as it arrives."""
    headers = {"content-type": request.headers.get("content-type", "")}
    if "content-length" in request.headers:
        headers["content-length"] = request.headers["content-length"]
    answer = await ctx.api.send("POST", "/v1/datasets", body=request.stream(), headers=headers)
    return JSONResponse(await answer.json(), status_code=answer.status)


async def _dataset_page(
    ctx: Ctx,
    dataset_id: str,
    *,
    policy_text: str | None = None,
    verdict: Any = None,
    check: bool = False,
    status: int = 200,
) -> Response:
    dataset = await ctx.api.get(f"/v1/datasets/{dataset_id}")
    if policy_text is None:
        policy = dataset.get("policy") or (dataset.get("profile") or {}).get("suggested_policy")
        policy_text = json.dumps(policy or {}, indent=2, ensure_ascii=False)
    preview = None
    figures: list[charts.Chart] = []
    if check and dataset.get("policy"):
        preview = await ctx.api.get(f"/v1/datasets/{dataset_id}/preview", rows=10)
        report = preview.get("report") or {}
        if report.get("risk_before") and report.get("risk_after"):
            figures.append(release_charts.risk_chart(report))
        utility = release_charts.utility_chart(report)
        if utility:
            figures.append(utility)
    return ctx.render(
        "dataset.html",
        status,
        dataset=dataset,
        policy_text=policy_text,
        verdict=verdict,
        preview=preview,
        charts=figures,
    )


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
async def dataset(dataset_id: str, check: int = 0, ctx: Ctx = Depends(signed_in)) -> Response:
    return await _dataset_page(ctx, dataset_id, check=bool(check))


@router.post("/datasets/{dataset_id}/policy", response_class=HTMLResponse)
async def set_policy(dataset_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    text = (await form(request)).get("policy", "")
    try:
        policy = json.loads(text)
    except ValueError as exc:
        verdict = {"ok": False, "message": f"The policy is not valid JSON: {exc}"}
        return await _dataset_page(ctx, dataset_id, policy_text=text, verdict=verdict, status=422)
    try:
        await ctx.api.call("PUT", f"/v1/datasets/{dataset_id}/policy", json_body=policy)
    except ApiError as exc:
        details = exc.body.get("error", {}).get("details") if isinstance(exc.body, dict) else None
        verdict = {"ok": False, "message": exc.message, "details": details}
        return await _dataset_page(
            ctx, dataset_id, policy_text=text, verdict=verdict, status=exc.status
        )
    verdict = {"ok": True, "message": "The gate accepted the policy: the release is made."}
    return await _dataset_page(ctx, dataset_id, verdict=verdict, check=True)


def _lines(text: str) -> list[str]:
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


@router.post("/datasets/{dataset_id}/offers")
async def publish(dataset_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    values = await form(request)
    try:
        shares = json.loads(values.get("shares_bp") or "{}")
        body: dict[str, Any] = {
            "dataset_id": dataset_id,
            "title": values.get("title", ""),
            "terms": {
                "allowed_purposes": _lines(values.get("purposes", "")),
                "max_period_days": int(values.get("max_period_days") or 90),
                "max_downloads": int(values.get("max_downloads") or 3),
            },
            "pricing": {
                "base_minor_per_1000_rows": int(values.get("base_minor_per_1000_rows") or 0),
                "minimum_minor": int(values.get("minimum_minor") or 0),
            },
            "shares_bp": shares,
            "k": int(values.get("k") or 5),
        }
        if values.get("epsilon_cap"):
            body["epsilon_cap"] = float(values["epsilon_cap"])
    except ValueError as exc:
        return ctx.render("error.html", 422, code=422, message=f"The offer form: {exc}")
    offer = await ctx.api.post("/v1/offers", body)
    return see_other(f"/console/offers?published={offer['id']}")


@router.get("/offers", response_class=HTMLResponse)
async def offers(published: str = "", ctx: Ctx = Depends(signed_in)) -> Response:
    mine = {d["id"] for d in await ctx.api.get("/v1/datasets")}
    listed = [o for o in await ctx.api.get("/v1/catalog") if o["dataset_id"] in mine]
    # Offers not (or no longer) listed: awaiting review, in disclosure, refused, stopped.
    unlisted = [o for o in await ctx.api.get("/v1/offers") if o["review_status"] != "listed"]
    return ctx.render("offers.html", offers=listed, unlisted=unlisted, published=published)


@router.get("/revenue", response_class=HTMLResponse)
async def revenue(ctx: Ctx = Depends(signed_in)) -> Response:
    statement = await ctx.api.get("/v1/revenue")
    return ctx.render("revenue.html", statement=statement, charts=[charts.revenue_chart(statement)])


# --- buyer -----------------------------------------------------------------------------


@router.get("/catalog", response_class=HTMLResponse)
async def catalog(q: str = "", ctx: Ctx = Depends(signed_in)) -> Response:
    entries = await ctx.api.get("/v1/catalog", q=q or None)
    return ctx.render("catalog.html", entries=entries, q=q)


def _lease_request(offer_id: str, values: dict[str, str], columns: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "offer_id": offer_id,
        "purpose": values.get("purpose", ""),
        "days": int(values.get("days") or 30),
        "epsilon": float(values.get("epsilon") or 1.0),
    }
    if values.get("purpose_text"):
        body["purpose_text"] = values["purpose_text"]
    if columns:
        body["columns"] = columns
    return body


@router.get("/catalog/{offer_id}", response_class=HTMLResponse)
async def offer_page(offer_id: str, ctx: Ctx = Depends(signed_in)) -> Response:
    entry = await ctx.api.get(f"/v1/catalog/{offer_id}")
    return ctx.render("offer.html", entry=entry, quote=None, asked={})


@router.post("/catalog/{offer_id}/quote", response_class=HTMLResponse)
async def quote(offer_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    data = await request.form()
    values = {k: str(v) for k, v in data.items()}
    columns = [str(c) for c in data.getlist("columns")]
    entry = await ctx.api.get(f"/v1/catalog/{offer_id}")
    asked = _lease_request(offer_id, values, columns)
    try:
        answer = await ctx.api.post("/v1/quotes", asked)
    except ApiError as exc:
        return ctx.render(
            "offer.html", exc.status, entry=entry, quote=None, asked=asked, error=exc.message
        )
    return ctx.render("offer.html", entry=entry, quote=answer, asked=asked)


@router.post("/catalog/{offer_id}/lease")
async def request_lease(offer_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    data = await request.form()
    values = {k: str(v) for k, v in data.items()}
    lease = await ctx.api.post(
        "/v1/leases", _lease_request(offer_id, values, [str(c) for c in data.getlist("columns")])
    )
    return see_other(f"/console/leases/{lease['id']}")


@router.get("/leases", response_class=HTMLResponse)
async def leases(ctx: Ctx = Depends(signed_in)) -> Response:
    return ctx.render("leases.html", leases=await ctx.api.get("/v1/leases"))


async def _lease_page(ctx: Ctx, lease_id: str, **values: Any) -> Response:
    lease = await ctx.api.get(f"/v1/leases/{lease_id}")
    budget = await ctx.api.get(f"/v1/leases/{lease_id}/budget")
    status = values.pop("status", 200)
    return ctx.render(
        "lease.html",
        status,
        lease=lease,
        budget=budget,
        charts=[charts.budget_gauge(budget)],
        pay_key=secrets.token_urlsafe(16),
        **values,
    )


@router.get("/leases/{lease_id}", response_class=HTMLResponse)
async def lease_page(lease_id: str, ctx: Ctx = Depends(signed_in)) -> Response:
    return await _lease_page(ctx, lease_id)


@router.post("/leases/{lease_id}/pay")
async def pay(lease_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    # One key per rendered form: a double click or a resent form pays once.
    key = (await form(request)).get("idempotency_key") or secrets.token_urlsafe(16)
    await ctx.api.call("POST", f"/v1/leases/{lease_id}/pay", headers={"Idempotency-Key": key})
    return see_other(f"/console/leases/{lease_id}")


@router.get("/leases/{lease_id}/extract")
async def extract(lease_id: str, format: str = "csv", ctx: Ctx = Depends(signed_in)) -> Response:
    """The file once it is made; until then the job (202), which the page polls."""
    answer = await ctx.api.send("GET", f"/v1/leases/{lease_id}/extract", params={"format": format})
    if answer.status != 200:
        return JSONResponse(await answer.json(), status_code=answer.status)
    keep = ("content-type", "content-disposition", "x-extract-sha256", "x-receipt-index")
    headers = {k: v for k, v in answer.headers.items() if k in keep}
    return StreamingResponse(answer.body(), headers=headers)


@router.get("/jobs/{job_id}")
async def job(job_id: str, ctx: Ctx = Depends(signed_in)) -> Response:
    answer = await ctx.api.send("GET", f"/v1/jobs/{job_id}")
    return JSONResponse(await answer.json(), status_code=answer.status)


def _numbers(text: str) -> list[float] | None:
    parts = _lines(text)
    return [float(p) for p in parts] if parts else None


@router.post("/leases/{lease_id}/queries", response_class=HTMLResponse)
async def query(lease_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    values = await form(request)
    asked: dict[str, Any] = {"op": values.get("op", "count")}
    try:
        asked["epsilon"] = float(values.get("epsilon") or 0.1)
        for name in ("column", "by"):
            if values.get(name):
                asked[name] = values[name]
        if values.get("bounds"):
            asked["bounds"] = _numbers(values["bounds"])
        if values.get("range"):
            asked["range"] = _numbers(values["range"])
        if values.get("bins"):
            asked["bins"] = int(values["bins"])
        if values.get("groups"):
            asked["groups"] = _lines(values["groups"])
    except ValueError as exc:
        return await _lease_page(ctx, lease_id, asked=values, query_error=str(exc), status=422)
    try:
        result = await ctx.api.post(f"/v1/leases/{lease_id}/queries", asked)
    except ApiError as exc:
        return await _lease_page(
            ctx, lease_id, asked=values, query_error=exc.message, status=exc.status
        )
    return await _lease_page(ctx, lease_id, asked=values, result=result)


# --- auditor ---------------------------------------------------------------------------


async def _audit_page(ctx: Ctx, **values: Any) -> Response:
    head = await ctx.api.get("/v1/audit/head")
    size = int(head.get("size") or 0)
    events = await ctx.api.get("/v1/audit/events", start=max(0, size - 300), limit=300)
    figures = [charts.timeline_chart(events)] if events else []
    return ctx.render(
        "audit.html", head=head, events=list(reversed(events))[:100], charts=figures, **values
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit(ctx: Ctx = Depends(signed_in)) -> Response:
    return await _audit_page(ctx)


@router.post("/audit/verify", response_class=HTMLResponse)
async def verify(ctx: Ctx = Depends(checked)) -> Response:
    """The export and the public key through the API, checked as `datalease verify-ledger`
    would: every leaf hash, the Merkle root against the signed head, balances, splits."""
    from contracts.verify import verify_export_file

    started = time.monotonic()
    key = await ctx.api.get("/v1/ledger/public-key")
    answer = await ctx.api.send("GET", "/v1/audit/export")
    if answer.status != 200:
        raise ApiError(answer.status, await answer.json())
    with tempfile.TemporaryDirectory(prefix="datalease-verify-") as folder:
        path = Path(folder) / "ledger.jsonl"
        with path.open("wb") as out:
            async for chunk in answer.body():
                out.write(chunk)
        report = await run_in_threadpool(verify_export_file, path, key["public_key_pem"])
    verification = {
        "ok": report.ok,
        "entries_checked": report.entries_checked,
        "tree_size": report.tree_size,
        "root_hex": report.root_hex,
        "reason": report.reason,
        "first_failing_index": report.first_failing_index,
        "seconds": round(time.monotonic() - started, 3),
        "public_key_hex": key.get("public_key_hex", ""),
    }
    return await _audit_page(ctx, verification=verification)


@router.get("/audit/balances", response_class=HTMLResponse)
async def balances(ctx: Ctx = Depends(signed_in)) -> Response:
    revenue_report = await ctx.api.get("/v1/audit/revenue")
    budgets = await ctx.api.get("/v1/audit/budgets")
    figures = [charts.balances_chart(revenue_report)]
    if budgets:
        figures.append(charts.epsilon_chart(budgets))
    return ctx.render("balances.html", charts=figures, budgets=budgets)


@router.get("/audit/events", response_class=HTMLResponse)
async def access_events(kind: str = "access", ctx: Ctx = Depends(signed_in)) -> Response:
    head = await ctx.api.get("/v1/audit/head")
    size = int(head.get("size") or 0)
    found = await ctx.api.get(
        "/v1/audit/events",
        start=max(0, size - 5000),
        limit=5000,
        kind=None if kind in ("access", "all") else kind,
    )
    kinds = sorted({e["type"] for e in found})
    if kind == "access":
        found = [e for e in found if e["type"] in ACCESS_KINDS]
    return ctx.render("events.html", events=list(reversed(found)), kind=kind, kinds=kinds)


# --- operator --------------------------------------------------------------------------


@router.get("/budget-requests", response_class=HTMLResponse)
async def budget_requests(ctx: Ctx = Depends(signed_in)) -> Response:
    found = await ctx.api.get("/v1/budget-requests")
    return ctx.render("budget_requests.html", requests=found)


@router.post("/budget-requests/{request_id}/decision")
async def decide_budget(request_id: str, request: Request, ctx: Ctx = Depends(checked)) -> Response:
    values = await form(request)
    action = "approve" if values.get("action") == "approve" else "reject"
    await ctx.api.post(
        f"/v1/budget-requests/{request_id}/{action}", {"reason": values.get("reason", "")}
    )
    return see_other("/console/budget-requests")


# --- public ----------------------------------------------------------------------------


def _public_render(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    me = sealer(request).open(request.cookies.get(COOKIE))
    return templates.TemplateResponse(
        request, template, {"me": me, "home": HOME, **values}, status_code=status
    )


@router.get("/transparency", response_class=HTMLResponse)
async def transparency_index(request: Request, dataset: str = "") -> Response:
    if dataset.strip():
        return see_other(f"/console/transparency/{dataset.strip()}")
    return _public_render(request, "transparency.html", report=None, charts=[])


@router.get("/transparency/{dataset_id}", response_class=HTMLResponse)
async def transparency(dataset_id: str, request: Request) -> Response:
    try:
        report = await api_for(request, None).get(f"/v1/transparency/{dataset_id}")
    except ApiError as exc:
        return _public_render(
            request, "error.html", exc.status, code=exc.status, message=exc.message
        )
    return _public_render(
        request, "transparency.html", report=report, charts=[charts.transparency_chart(report)]
    )
