"""The FastAPI application: pages and the REST API over one workspace.

Routes are thin: they check who is asking, call a plain function in
:mod:`journeymap.web.data` or :mod:`journeymap.web.editing`, and format the answer as a
page (Jinja2, autoescaped) or JSON. Every asset is served from the package; nothing is
fetched from the internet, and the Content-Security-Policy forbids it anyway.
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from fastapi import Body, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

import journeymap
from journeymap.render import map_svg, opportunity_matrix_data
from journeymap.web import auth, data, editing
from journeymap.web.editing import EDITABLE, EditConflict, EditRejected
from journeymap.web.forms import as_text, form_fields
from journeymap.web.state import AppState, default_url

HERE = Path(__file__).parent
PAGE_WAIT_S = 8.0
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
Kind = Literal["personas", "stages", "touchpoints", "pain_points", "opportunities"]


class Denied(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status, self.detail = status, detail
        super().__init__(detail)


@dataclass
class WebConfig:
    """How the app runs; ``require_auth`` forces sign-in even on loopback (tests)."""

    workspace: Path
    host: str = "127.0.0.1"
    require_auth: bool | None = None
    db_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def auth_required(self) -> bool:
        if self.require_auth is not None:
            return self.require_auth
        return not auth.is_loopback(self.host)


def create_app(config: WebConfig) -> FastAPI:
    """The app for one workspace (opened now; closed when the app shuts down)."""
    ws = journeymap.open(config.workspace)
    if ws.on_spark and not ws.refreshed_on_spark:
        # A new Spark session holds only the raw mapped tables: derive identities,
        # sessions and the journey store once before serving (docs/spark.md).
        ws.refresh()
    wh = data.Warehouse(ws)
    state = AppState(config.db_url or default_url(ws.path))
    editing.ensure_baseline(state, ws.spec_path)
    jobs = data.Jobs()
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.autoescape = True
    templates.env.filters["pct"] = _pct
    templates.env.filters["num"] = _num
    templates.env.filters["dur"] = _dur
    templates.env.filters["astext"] = as_text

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        jobs.shutdown()  # the server stops: release the warehouse file for other processes
        with wh.lock:
            ws.close()

    app = FastAPI(
        lifespan=lifespan,
        title="journeymap",
        version=getattr(journeymap, "__version__", "0"),
        description="Explore, edit and share the data-backed customer journey map.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.config, app.state.ws, app.state.appstate, app.state.jobs = config, ws, state, jobs
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # -- plumbing ---------------------------------------------------------------------------

    @app.middleware("http")
    async def headers(request: Request, call_next):
        if "%00" in request.url.path or "%00" in request.url.query or "\x00" in request.url.path:
            # NUL never belongs in an id or search text, and SQL literals cannot carry it
            response: Response = JSONResponse(
                {"detail": "the address contains a NUL character (%00); remove it"},
                status_code=400,
            )
        else:
            response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if not request.cookies.get(auth.CSRF_COOKIE):
            token = getattr(request.state, "csrf", None) or auth.new_csrf_token()
            response.set_cookie(auth.CSRF_COOKIE, token, samesite="strict", path="/")
        return response

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied):
        if _is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status)
        if exc.status == 401 and request.method == "GET":  # a page: send the person to sign in
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return page(
            request, "error.html", {"status": exc.status, "detail": exc.detail}, status=exc.status
        )

    @app.exception_handler(EditConflict)
    async def _conflict(request: Request, exc: EditConflict):
        return _fail(request, 409, {"detail": str(exc), "current_etag": exc.current})

    @app.exception_handler(EditRejected)
    async def _rejected(request: Request, exc: EditRejected):
        return _fail(request, 422, exc.to_dict())

    @app.exception_handler(KeyError)
    async def _missing(request: Request, exc: KeyError):
        return _fail(request, 404, {"detail": str(exc.args[0] if exc.args else exc)})

    @app.exception_handler(ValueError)
    async def _bad(request: Request, exc: ValueError):
        return _fail(request, 422, {"detail": str(exc)})

    def _fail(request: Request, status: int, body: dict[str, Any]) -> Response:
        if _is_api(request):
            return JSONResponse(body, status_code=status)
        return page(request, "error.html", {"status": status, **body}, status=status)

    def who(request: Request) -> auth.Principal:
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        return auth.identify(
            state,
            require_auth=config.auth_required,
            bearer=bearer,
            session_id=request.cookies.get(auth.SESSION_COOKIE),
        )

    def guard(request: Request, role: str, form: Any = None) -> auth.Principal:
        """The caller, if allowed ``role``; unsafe cookie-borne requests must pass CSRF."""
        user = who(request)
        if user.via == "anonymous":
            raise Denied(401, "sign in first (or send an API token: Authorization: Bearer ...)")
        if not user.can(role):
            raise Denied(403, f"{user.name} is a {user.role}; this needs the {role} role")
        if request.method in UNSAFE and user.via != "token":
            sent = request.headers.get(auth.CSRF_HEADER)
            if sent is None and form is not None:
                sent = form.get(auth.CSRF_FIELD)
            if not auth.csrf_ok(request.cookies.get(auth.CSRF_COOKIE), sent):
                raise Denied(403, "CSRF token missing or wrong: reload the page and try again")
        return user

    def page(
        request: Request, name: str, context: dict[str, Any], status: int = 200
    ) -> HTMLResponse:
        csrf = request.cookies.get(auth.CSRF_COOKIE) or auth.new_csrf_token()
        request.state.csrf = csrf
        text, etag = editing.current(ws.spec_path)
        ctx = {
            "request": request,
            "user": who(request),
            "csrf": csrf,
            "etag": etag,
            "journey": ws.spec.name if _spec_ok() else "journey",
            "auth_required": config.auth_required,
            **context,
        }
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    def _spec_ok() -> bool:
        try:
            return ws.spec is not None
        except Exception:  # an invalid journey.yaml must not take the pages down
            return False

    async def warehouse(fn, *args: Any, **kw: Any) -> Any:
        return await run_in_threadpool(fn, wh, *args, **kw)

    async def cached(name: str, fn, wait: float | None | str = "page") -> tuple[str, Any]:
        """(job key, result or None while it is still computing).

        Pages wait up to PAGE_WAIT_S (read at call time) and then show a placeholder;
        the API passes ``wait=None`` and waits for the answer.
        """
        if wait == "page":
            wait = PAGE_WAIT_S
        version = await run_in_threadpool(wh.run, lambda w: w.data_version)
        key = f"{name}|{editing.current(ws.spec_path)[1]}|{version}"
        fut = jobs.start(key, fn)
        done, _ = await asyncio.wait({asyncio.wrap_future(fut)}, timeout=wait)
        if not done:
            return key, None
        return key, fut.result()

    async def snapshot(persona: str | None, wait: float | None | str = "page"):
        return await cached(f"snapshot:{persona or ''}", lambda: data.snapshot(wh, persona), wait)

    # -- pages ------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def map_page(request: Request, persona: str | None = None):
        guard(request, "viewer")
        key, snap = await snapshot(persona)
        if snap is None:
            return page(request, "pending.html", {"job": key, "title": "Journey map"})
        return page(
            request,
            "map.html",
            {
                "snap": snap,
                "svg": map_svg(snap),
                "snap_json": data.to_json(snap.to_dict()),
                "personas": ws.spec.personas,
                "persona": persona,
            },
        )

    @app.get("/touchpoints/{tp_id}", response_class=HTMLResponse, include_in_schema=False)
    async def touchpoint_page(request: Request, tp_id: str):
        guard(request, "viewer")
        key, snap = await snapshot(None)
        if snap is None:
            return page(request, "pending.html", {"job": key, "title": tp_id})
        _, detail = await cached(
            f"touchpoint:{tp_id}", lambda: data.touchpoint_detail(wh, snap, tp_id), None
        )
        spec_tp = ws.spec.touchpoint(tp_id)
        return page(
            request,
            "touchpoint.html",
            {
                "d": detail,
                "tp": detail["touchpoint"],
                "spec_item": spec_tp.model_dump(mode="json", exclude_none=True),
                "fields": EDITABLE["touchpoints"],
                "kind": "touchpoints",
                "key": tp_id,
                "target": f"touchpoints/{tp_id}",
                "comment_items": state.comments(f"touchpoints/{tp_id}"),
            },
        )

    @app.get("/edit/{kind}/{key}", response_class=HTMLResponse, include_in_schema=False)
    async def edit_page(request: Request, kind: str, key: str):
        guard(request, "viewer")
        if kind not in EDITABLE:
            raise KeyError(f"kind {kind!r} is not editable")
        item = _item(kind, key)
        stage = None
        if kind == "stages":  # a stage's page also shows its numbers and touchpoints
            _, snap = await snapshot(None)
            if snap is not None:
                stage = next((s for s in snap.stages if s.id == key), None)
                stage_tps = [t for t in snap.touchpoints if t.stage == key]
        return page(
            request,
            "edit.html",
            {
                "stage": stage,
                "stage_tps": stage_tps if stage else [],
                "kind": kind,
                "key": key,
                "spec_item": item,
                "fields": EDITABLE[kind],
                "target": f"{kind}/{key}",
                "comment_items": state.comments(f"{kind}/{key}"),
            },
        )

    @app.get("/add/{kind}", response_class=HTMLResponse, include_in_schema=False)
    async def add_page(request: Request, kind: str):
        guard(request, "viewer")
        if kind not in EDITABLE:
            raise KeyError(f"kind {kind!r} is not editable")
        return page(request, "add.html", {"kind": kind, "fields": EDITABLE[kind]})

    @app.get("/funnel", response_class=HTMLResponse, include_in_schema=False)
    async def funnel_page(
        request: Request,
        steps: list[str] = Query(default=[]),
        window: str = "14d",
        order: str = "ordered",
        breakdown: str = "",
        flow_from: str = "",
    ):
        guard(request, "viewer")
        steps = [s for s in steps if s]
        error = None
        result: dict[str, Any] = {"rows": None, "flow_rows": None, "charts": {}}
        try:
            result = await warehouse(
                data.funnel_page_data, steps, window, order, breakdown or None, flow_from or None
            )
        except ValueError as exc:  # a bad window or step: say so on the page
            error = str(exc)
        return page(
            request,
            "funnel.html",
            {
                "touchpoints": ws.spec.touchpoints,
                "steps": steps,
                "window": window,
                "order": order,
                "breakdown": breakdown,
                "rows": result["rows"],
                "flow_from": flow_from,
                "flow_rows": result["flow_rows"],
                "charts": result["charts"],
                "error": error,
            },
        )

    @app.get("/customers", response_class=HTMLResponse, include_in_schema=False)
    async def customers_page(request: Request, q: str = ""):
        guard(request, "viewer")
        hits = await warehouse(data.find_customers, q) if q else []
        if len(hits) == 1:
            return RedirectResponse(f"/customers/{quote(hits[0]['customer_id'])}", 303)
        return page(request, "customers.html", {"q": q, "hits": hits})

    @app.get("/customers/{customer_id}", response_class=HTMLResponse, include_in_schema=False)
    async def customer_page(request: Request, customer_id: str):
        guard(request, "viewer")
        c = await warehouse(data.customer_360, customer_id)
        return page(request, "customer.html", {"c": c, "q": customer_id})

    @app.get("/personas", response_class=HTMLResponse, include_in_schema=False)
    async def personas_page(request: Request):
        guard(request, "viewer")
        _, rows = await cached("personas", lambda: data.personas(wh), None)
        return page(request, "personas.html", {"personas": rows})

    @app.get("/opportunities", response_class=HTMLResponse, include_in_schema=False)
    async def opportunities_page(request: Request):
        guard(request, "viewer")
        spec = ws.spec
        opps = [o.model_dump(mode="json") for o in spec.opportunities]
        grid = {(i, e): [] for i in range(1, 6) for e in range(1, 6)}
        for n, o in enumerate(opps, 1):
            o["key"] = o.get("id") or f"#{n}"
            grid[(o["impact"], o["effort"])].append(o)
        pains = [p.model_dump(mode="json") for p in spec.pain_points]
        for n, p in enumerate(pains, 1):
            p["key"] = p.get("id") or f"#{n}"
        return page(request, "opportunities.html", {"opps": opps, "grid": grid, "pains": pains})

    @app.get("/health", response_class=HTMLResponse, include_in_schema=False)
    async def health_page(request: Request):
        guard(request, "viewer")
        _, report = await cached("audit", lambda: data.audit(wh), None)
        return page(request, "health.html", {"report": report})

    @app.get("/history", response_class=HTMLResponse, include_in_schema=False)
    async def history_page(request: Request, show: int | None = None):
        guard(request, "viewer")
        versions = state.versions()
        diff = editing.version_diff(state, show) if show else None
        return page(request, "history.html", {"versions": versions, "show": show, "diff": diff})

    @app.get("/api-docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs_page(request: Request):
        schema = app.openapi()
        return page(request, "apidocs.html", {"schema": schema})

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request, next: str = "/"):
        return page(request, "login.html", {"next": _local(next)})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form()
        if not auth.csrf_ok(request.cookies.get(auth.CSRF_COOKIE), form.get(auth.CSRF_FIELD)):
            raise Denied(403, "CSRF token missing or wrong: reload the page and try again")
        sid = await run_in_threadpool(
            auth.sign_in, state, str(form.get("name", "")), str(form.get("password", ""))
        )
        if sid is None:
            return page(
                request, "login.html", {"next": "/", "error": "wrong name or password"}, status=401
            )
        target = str(form.get("next") or "/")
        resp = RedirectResponse(_local(target), status_code=303)
        resp.set_cookie(auth.SESSION_COOKIE, sid, httponly=True, samesite="lax", path="/")
        return resp

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request):
        form = await request.form()
        guard(request, "viewer", form)
        sid = request.cookies.get(auth.SESSION_COOKIE)
        if sid:
            state.end_login(sid)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(auth.SESSION_COOKIE, path="/")
        return resp

    # -- form posts (pages) -----------------------------------------------------------------

    @app.post("/forms/edit/{kind}/{key}", include_in_schema=False)
    async def form_edit(request: Request, kind: str, key: str):
        form = await request.form()
        user = guard(request, "editor", form)
        fields = form_fields(kind, form)
        new_id = fields.pop("id", None)
        etag = str(form.get("etag", ""))
        if fields:
            etag = editing.update_item(
                state, ws.spec_path, kind, key, fields, if_match=etag, author=user.name
            ).etag
        if new_id and new_id != key:
            editing.rename_item(
                state, ws.spec_path, kind, key, new_id, if_match=etag, author=user.name
            )
            return RedirectResponse(f"/edit/{kind}/{quote(new_id)}", status_code=303)
        return RedirectResponse(_back(form, f"/edit/{kind}/{quote(key)}"), status_code=303)

    @app.post("/forms/add/{kind}", include_in_schema=False)
    async def form_add(request: Request, kind: str):
        form = await request.form()
        user = guard(request, "editor", form)
        fields = {k: v for k, v in form_fields(kind, form).items() if v is not None}
        editing.add_item(
            state,
            ws.spec_path,
            kind,
            fields,
            if_match=str(form.get("etag", "")),
            author=user.name,
        )
        return RedirectResponse(_back(form, "/"), status_code=303)

    @app.post("/forms/comment", include_in_schema=False)
    async def form_comment(request: Request):
        form = await request.form()
        user = guard(request, "viewer", form)
        state.add_comment(str(form.get("target", "")), user.name, str(form.get("text", "")))
        return RedirectResponse(_back(form, "/"), status_code=303)

    @app.post("/forms/restore/{version_id}", include_in_schema=False)
    async def form_restore(request: Request, version_id: int):
        form = await request.form()
        user = guard(request, "editor", form)
        editing.restore_version(
            state, ws.spec_path, version_id, if_match=str(form.get("etag", "")), author=user.name
        )
        return RedirectResponse("/history", status_code=303)

    # -- REST API ---------------------------------------------------------------------------

    @app.get("/api/spec", tags=["map"])
    def api_spec(request: Request, response: Response) -> dict[str, Any]:
        """journey.yaml as data, with its version token (send it back as If-Match)."""
        guard(request, "viewer")
        text, etag = editing.current(ws.spec_path)
        response.headers["ETag"] = f'"{etag}"'
        return {"etag": etag, "spec": ws.spec.to_data() if _spec_ok() else None, "text": text}

    @app.patch("/api/spec/{kind}/{key}", tags=["editing"])
    def api_update(
        request: Request,
        kind: Kind,
        key: str,
        fields: dict[str, Any] = Body(..., examples=[{"name": "New name"}]),
        if_match: str | None = Header(default=None),
    ) -> dict[str, Any]:
        """Set fields of one item; 409 when journey.yaml changed since ``If-Match``."""
        user = guard(request, "editor")
        new_id = fields.pop("id", None) if kind in ("stages", "touchpoints") else None
        result = (
            editing.update_item(
                state, ws.spec_path, kind, key, fields, if_match=if_match, author=user.name
            )
            if fields
            else None
        )
        if new_id and new_id != key:
            result = editing.rename_item(
                state,
                ws.spec_path,
                kind,
                key,
                new_id,
                if_match=result.etag if result else if_match,
                author=user.name,
            )
        if result is None:
            raise EditRejected("nothing to change: send at least one field")
        return _result(result)

    @app.post("/api/spec/{kind}", tags=["editing"], status_code=201)
    def api_add(
        request: Request,
        kind: Kind,
        item: dict[str, Any] = Body(...),
        if_match: str | None = Header(default=None),
    ) -> dict[str, Any]:
        """Add a persona, stage, touchpoint, pain point or opportunity."""
        user = guard(request, "editor")
        return _result(
            editing.add_item(state, ws.spec_path, kind, item, if_match=if_match, author=user.name)
        )

    @app.delete("/api/spec/{kind}/{key}", tags=["editing"])
    def api_delete(
        request: Request, kind: Kind, key: str, if_match: str | None = Header(default=None)
    ) -> dict[str, Any]:
        """Remove an item (refused while something still refers to it)."""
        user = guard(request, "editor")
        return _result(
            editing.delete_item(state, ws.spec_path, kind, key, if_match=if_match, author=user.name)
        )

    @app.get("/api/snapshot", tags=["map"])
    async def api_snapshot(request: Request, persona: str | None = None) -> dict[str, Any]:
        """The data-backed journey map (see journeymap.snapshot)."""
        guard(request, "viewer")
        _, snap = await snapshot(persona, None)
        return snap.to_dict()

    @app.get("/api/touchpoints/{tp_id}", tags=["map"])
    async def api_touchpoint(request: Request, tp_id: str) -> dict[str, Any]:
        """A touchpoint's metrics, paths in and out, funnel position, quotes and themes."""
        guard(request, "viewer")
        _, snap = await snapshot(None, None)
        return (
            await cached(
                f"touchpoint:{tp_id}", lambda: data.touchpoint_detail(wh, snap, tp_id), None
            )
        )[1]

    @app.get("/api/funnel", tags=["analysis"])
    async def api_funnel(
        request: Request,
        steps: list[str] = Query(...),
        window: str = "14d",
        order: str = "ordered",
        breakdown: str | None = None,
    ) -> list[dict[str, Any]]:
        """Funnel over touchpoints (order: ordered, strict or unordered)."""
        guard(request, "viewer")
        return await warehouse(data.funnel, steps, window, order, breakdown)

    @app.get("/api/flows", tags=["analysis"])
    async def api_flows(
        request: Request,
        start: str | None = None,
        end: str | None = None,
        steps: int = Query(5, ge=1, le=20),
    ) -> list[dict[str, Any]]:
        """Sankey edges from (or into) a touchpoint."""
        guard(request, "viewer")
        return await warehouse(data.flows, start, end, steps)

    @app.get("/api/customers", tags=["customers"])
    async def api_customers(request: Request, q: str) -> list[dict[str, Any]]:
        """Customers by id, email, phone or any other identifier."""
        guard(request, "viewer")
        return await warehouse(data.find_customers, q)

    @app.get("/api/customers/{customer_id}", tags=["customers"])
    async def api_customer(request: Request, customer_id: str) -> dict[str, Any]:
        """A customer's record, identifiers and cross-channel timeline with feedback."""
        guard(request, "viewer")
        return await warehouse(data.customer_360, customer_id)

    @app.get("/api/personas", tags=["map"])
    async def api_personas(request: Request) -> list[dict[str, Any]]:
        guard(request, "viewer")
        return (await cached("personas", lambda: data.personas(wh), None))[1]

    @app.get("/api/opportunities", tags=["map"])
    def api_opportunities(request: Request) -> list[dict[str, Any]]:
        """Opportunities with their impact/effort quadrant."""
        guard(request, "viewer")
        return data.records(opportunity_matrix_data_from_spec(ws.spec))

    @app.get("/api/health", tags=["data"])
    async def api_health(request: Request) -> dict[str, Any]:
        """The data-quality audit of the warehouse."""
        guard(request, "viewer")
        return (await cached("audit", lambda: data.audit(wh), None))[1]

    @app.get("/api/match-preview", tags=["editing"])
    async def api_match_preview(request: Request, rule: str) -> dict[str, Any]:
        """Events a touchpoint match rule (JSON) selects: the count and a sample."""
        guard(request, "viewer")
        try:
            parsed = json.loads(rule)
        except json.JSONDecodeError as exc:
            raise ValueError(f"rule: expected JSON ({exc.msg} at column {exc.colno})") from exc
        if not isinstance(parsed, dict):
            raise ValueError('rule: expected a JSON object such as {"event": "checkout"}')
        return await warehouse(data.match_preview, parsed)

    @app.get("/api/comments", tags=["comments"])
    def api_comments(request: Request, target: str | None = None) -> list[dict[str, Any]]:
        guard(request, "viewer")
        return [_comment(c) for c in state.comments(target)]

    @app.post("/api/comments", tags=["comments"], status_code=201)
    def api_add_comment(
        request: Request,
        target: str = Body(..., examples=["touchpoints/checkout"]),
        text: str = Body(..., examples=["Delivery cost should show earlier"]),
    ) -> dict[str, Any]:
        """Comment on any element (``kind/id``); the author is the signed-in user."""
        user = guard(request, "viewer")
        return _comment(state.add_comment(target, user.name, text))

    @app.get("/api/history", tags=["history"])
    def api_history(request: Request) -> list[dict[str, Any]]:
        guard(request, "viewer")
        return [_version(v) for v in state.versions()]

    @app.get("/api/history/{version_id}", tags=["history"])
    def api_version(request: Request, version_id: int) -> dict[str, Any]:
        """One version: its text and the diff from the version before it."""
        guard(request, "viewer")
        v = state.version(version_id)
        if v is None:
            raise KeyError(f"version {version_id}: no such version")
        return {**_version(v), "text": v.text, "diff": editing.version_diff(state, version_id)}

    @app.post("/api/history/{version_id}/restore", tags=["history"])
    def api_restore(
        request: Request, version_id: int, if_match: str | None = Header(default=None)
    ) -> dict[str, Any]:
        user = guard(request, "editor")
        return _result(
            editing.restore_version(
                state, ws.spec_path, version_id, if_match=if_match, author=user.name
            )
        )

    @app.get("/api/jobs/{key}", tags=["data"])
    def api_job(request: Request, key: str) -> dict[str, str]:
        """Whether a long computation a page is waiting for has finished."""
        guard(request, "viewer")
        return {"key": key, "status": jobs.status(key)}

    @app.get("/api/me", tags=["auth"])
    def api_me(request: Request) -> dict[str, str]:
        user = who(request)
        return {"name": user.name, "role": user.role, "via": user.via}

    def _item(kind: str, key: str) -> dict[str, Any]:
        items = ws.spec.to_data().get(kind) or []
        for n, it in enumerate(items, 1):
            if it.get("id") == key or (key == f"#{n}"):
                return it
        raise KeyError(f"{kind} {key!r} is not defined")

    return app


def opportunity_matrix_data_from_spec(spec: Any) -> Any:
    """The opportunity matrix table of the authored opportunities (render's data twin)."""
    from journeymap.snapshot.model import JourneySnapshot, OpportunityView, SnapshotMeta

    fields = set(OpportunityView.model_fields)
    snap = JourneySnapshot(
        meta=SnapshotMeta(workspace="", journey=spec.name, generated_at=""),
        opportunities=[
            OpportunityView(**{k: v for k, v in o.model_dump().items() if k in fields})
            for o in spec.opportunities
        ],
    )
    return opportunity_matrix_data(snap)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _local(target: str, default: str = "/") -> str:
    """Only a path on this site: never redirect a person to another host after a form."""
    ok = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if ok else default


def _back(form: Any, default: str) -> str:
    return _local(str(form.get("next") or default), default)


def _result(result: editing.EditResult) -> dict[str, Any]:
    return {"etag": result.etag, "version_id": result.version_id, "message": result.message}


def _comment(c: Any) -> dict[str, Any]:
    return {
        "id": c.id,
        "target": c.target,
        "author": c.author,
        "text": c.text,
        "created_at": c.created_at.isoformat() + "Z",
    }


def _version(v: Any) -> dict[str, Any]:
    return {
        "id": v.id,
        "etag": v.etag,
        "author": v.author,
        "message": v.message,
        "created_at": v.created_at.isoformat() + "Z",
    }


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * float(v):.1f}%"


def _num(v: Any) -> str:
    if v is None:
        return "–"
    f = float(v)
    return f"{int(f):,}" if f.is_integer() else f"{f:,.2f}"


def _dur(v: Any) -> str:
    if v is None:
        return "–"
    s = float(v)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.0f} s"
