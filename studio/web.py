"""The Studio as a Starlette app: the pages (Jinja2 templates, plain HTML/CSS and a little JavaScript of our own,
all served from this package: nothing is loaded from the internet), the static files and the JSON API, behind the
security middleware.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from vcam_emoji import __version__

from . import api
from .limits import ApiError
from .security import Guard, SecurityMiddleware
from .state import StudioState

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGES = (("live", "Live"), ("packs", "Packs"), ("avatar", "Avatar"), ("settings", "Settings"), ("session", "Session"),
         ("api", "API"))

templates = Jinja2Templates(directory=str(HERE / "templates"))


def _page(name: str):
    async def page(request: Request) -> Response:
        state: StudioState = request.app.state.studio
        return templates.TemplateResponse(request, f"{name}.html", {
            "page": name, "pages": PAGES, "version": __version__, "config_path": str(state.config_path),
            "openapi": api.openapi_document() if name == "api" else None,
        })

    page.__name__ = f"page_{name}"
    return page


async def home(request: Request) -> Response:
    return RedirectResponse("/live", status_code=303)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def on_api_error(request: Request, exc: ApiError) -> Response:
    body = {"error": exc.message, **({"fields": exc.fields} if exc.fields else {}), **exc.extra}
    return JSONResponse(body, status_code=exc.status)


async def on_http_error(request: Request, exc: HTTPException) -> Response:
    if _is_api(request):
        return JSONResponse({"error": f"{request.method} {request.url.path}: {exc.detail}"},
                            status_code=exc.status_code)
    return Response(f"{exc.status_code} {exc.detail}", status_code=exc.status_code, media_type="text/plain")


async def on_crash(request: Request, exc: Exception) -> Response:
    log.exception("the Studio failed on %s %s", request.method, request.url.path)
    return JSONResponse({"error": f"the Studio failed on this request ({type(exc).__name__}: {exc}); the log has "
                                  "the details"}, status_code=500)


def create_app(state: StudioState, guard: Guard) -> Starlette:
    """The ASGI app for one engine and one token/port."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state.attach()
        try:
            yield
        finally:
            state.detach()

    page_routes = [Route(f"/{name}", _page(name), methods=["GET"]) for name, _ in PAGES]
    app = Starlette(
        routes=[Route("/", home, methods=["GET"]), *page_routes, *api.routes(),
                Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static")],
        middleware=[Middleware(SecurityMiddleware, guard=guard)],
        exception_handlers={ApiError: on_api_error, HTTPException: on_http_error, Exception: on_crash},
        lifespan=lifespan,
    )
    app.state.studio = state
    app.state.guard = guard
    return app
