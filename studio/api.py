"""The JSON API under ``/api/v1/``: what the pages use, and what scripts may use (with the token).

Routes are thin: parse, call one engine command, config function or catalog function, answer JSON. Every endpoint
is declared once in :data:`ENDPOINTS`, from which both the routes and the OpenAPI document
(``GET /api/v1/openapi.json``, shown at ``/api``) are made, so the two cannot disagree. Errors are
``{"error": "one message"}`` with a 4xx/5xx status; a settings change that is refused also names the message of each
field: ``{"error": ..., "fields": {"smoothing.min_hold_ms": "..."}}``. Version 1: fields are only ever added.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from vcam_emoji import __version__
from vcam_emoji.config import (
    SMOOTHING_PRESETS,
    ConfigError,
    check_setting,
    config_to_dict,
    settings_schema,
    smoothing_preset_changes,
    smoothing_preset_name,
    update_config_file,
)
from vcam_emoji.models import list_models
from vcam_emoji.errors import EmojiCamError
from vcam_emoji.packs import user_packs_dir
from vcam_emoji.types import EXPRESSION_LABELS, Expression

from . import avatar, reports
from .catalog import THUMB_SIZES, import_pack_zip, remove_user_pack
from .limits import MAX_IMAGE_BYTES, MAX_ZIP_BYTES, ApiError, read_body, read_json
from .live import TooManyViewers
from .state import StudioState

log = logging.getLogger(__name__)

API = "/api/v1"
MJPEG_BOUNDARY = "emojicamframe"
RESTART_KEYS = ("camera.width", "camera.height", "camera.fps", "output.sink", "output.virtual_camera_name")
# Settings that the Live and Packs pages set (saved the same way); the Settings page shows the rest.
ELSEWHERE_KEYS = ("pack.name", "camera.device", "camera.mirror")


def _state(request: Request) -> StudioState:
    return request.app.state.studio


def _flat(config) -> dict[str, object]:
    return {f"{section}.{key}": value for section, table in config_to_dict(config).items()
            for key, value in table.items()}


def _probs(values) -> dict[str, float]:
    return {label: round(float(p), 4) for label, p in zip(EXPRESSION_LABELS, values)}


# ------------------------------------------------------------------------------------------------------- handlers
async def get_status(request: Request) -> Response:
    state = _state(request)
    status = state.engine.status()
    result = state.engine.last_result() if status.state == "running" else None
    faces = [] if result is None else [{
        "track_id": r.face.track_id, "box_xyxy": [round(float(v), 1) for v in r.face.box_xyxy],
        "score": round(float(r.face.score), 4), "probs": _probs(r.probs), "smoothed": _probs(r.smoothed),
        "expression": r.emotion.label,
    } for r in result.faces]
    w, h = state.engine.size_wh
    return JSONResponse({
        "version": __version__, "state": status.state, "paused": status.state == "paused", "source": status.source,
        "demo": status.demo, "sink": status.sink, "pack": status.pack, "mirror": status.mirror,
        "fps": round(status.fps, 2), "target_fps": state.engine.config.camera.fps,
        "latency_ms": {"p50": round(status.latency_ms_p50, 1), "p99": round(status.latency_ms_p99, 1)},
        "frames": status.frames, "problem": status.problem, "detector": status.detector,
        "classifier": status.classifier, "providers": list(status.providers), "size": [w, h],
        "camera": state.engine.config.camera.device, "main_expression": status.main_emotion.label
        if status.main_emotion is not None else None, "faces": faces, "live_viewers": state.hub.viewers,
    })


def _save(state: StudioState, changes: dict[str, object]) -> dict:
    """Check each change on its own (so each field gets its own message), then write them all, then apply."""
    fields = {}
    for key, value in changes.items():
        try:
            check_setting(key, value)
        except ConfigError as exc:
            fields[key] = str(exc)
    if fields:
        raise ApiError(400, "nothing was saved: " + "; ".join(fields.values()), fields)
    try:
        config = update_config_file(state.config_path, changes)
    except ConfigError as exc:
        raise ApiError(409, f"nothing was saved: {exc}") from None
    state.engine.apply_config(config.with_changes(dict(state.overrides)) if state.overrides else config)
    return _flat(config)


async def post_command(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    command = body.get("command")
    if command == "pause":
        state.engine.pause()
        return JSONResponse({"done": "pause", "paused": True})
    if command == "resume":
        state.engine.resume()
        return JSONResponse({"done": "resume", "paused": False})
    if command == "pack":
        name = body.get("name")
        if not isinstance(name, str):
            raise ApiError(400, "command 'pack' needs \"name\": the name of an installed pack")
        await anyio.to_thread.run_sync(state.catalog.get, name)  # 404 when there is no such pack
        values = await anyio.to_thread.run_sync(_save, state, {"pack.name": name})
        return JSONResponse({"done": "pack", "pack": values["pack.name"]})
    if command == "mirror":
        on = body.get("on")
        if not isinstance(on, bool):
            raise ApiError(400, "command 'mirror' needs \"on\": true or false")
        values = await anyio.to_thread.run_sync(_save, state, {"camera.mirror": on})
        return JSONResponse({"done": "mirror", "mirror": values["camera.mirror"]})
    if command == "camera":
        device = body.get("device")
        values = await anyio.to_thread.run_sync(_save, state, {"camera.device": device})
        return JSONResponse({"done": "camera", "camera": values["camera.device"]})
    raise ApiError(400, f"unknown command {command!r}; use pause, resume, pack (name), mirror (on) or camera "
                        "(device)")


async def get_cameras(request: Request) -> Response:
    state = _state(request)
    cameras = await anyio.to_thread.run_sync(state.cameras)
    return JSONResponse({"configured": state.engine.config.camera.device,
                         "cameras": [{"device": c.device, "label": c.label} for c in cameras]})


def _pack_json(state: StudioState, pack, current: str) -> dict:
    return {"name": pack.name, "author": pack.author, "license": pack.license, "source": pack.source,
            "builtin": pack.builtin, "current": pack.name == current, "folder": str(pack.folder),
            "removable": not pack.builtin and pack.name != current, "avatar": bool(pack.avatar)}


async def get_packs(request: Request) -> Response:
    state = _state(request)
    names = await anyio.to_thread.run_sync(state.catalog.names)
    current = state.engine.status().pack
    return JSONResponse({
        "current": current, "user_folder": str(user_packs_dir()), "expressions": list(EXPRESSION_LABELS),
        "packs": [_pack_json(state, state.catalog.packs[n], current) for n in names if n in state.catalog.packs],
        "broken": [str(e) for e in state.catalog.errors],
    })


async def get_pack_image(request: Request) -> Response:
    state = _state(request)
    q = request.query_params
    name, label = q.get("name"), q.get("expression", "happy")
    if name is None:
        raise ApiError(400, "name= is needed: the pack's name")
    try:
        expression = Expression.from_label(label)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    try:
        size = int(q.get("size", "96"))
    except ValueError:
        raise ApiError(400, f"size must be a number: one of {', '.join(map(str, THUMB_SIZES))}") from None
    png = await anyio.to_thread.run_sync(state.catalog.thumbnail, name, expression, size)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=5"})


async def post_pack_import(request: Request) -> Response:
    state = _state(request)
    data = await read_body(request, MAX_ZIP_BYTES, "the zip")
    pack = await anyio.to_thread.run_sync(import_pack_zip, data, state.catalog)
    return JSONResponse({"imported": _pack_json(state, pack, state.engine.status().pack)}, status_code=201)


async def post_pack_remove(request: Request) -> Response:
    state = _state(request)
    name = (await read_json(request)).get("name")
    if not isinstance(name, str):
        raise ApiError(400, "\"name\" is needed: the user pack to remove")
    folder = await anyio.to_thread.run_sync(remove_user_pack, name, state.catalog, state.engine.status().pack)
    return JSONResponse({"removed": name, "folder": str(folder)})


def _settings_json(state: StudioState) -> dict:
    config, problem = state.settings.read()
    values = _flat(config)
    choices = {}
    try:
        choices = {"detector.model": ["auto", *list_models(task="face_detection")],
                   "classifier.model": ["default", *list_models(task="expression_classification")]}
    except EmojiCamError as exc:  # no bundled models: the field still takes a path
        log.debug("no model list: %s", exc)
    return {
        "path": str(state.config_path), "problem": problem, "values": values,
        "preset": smoothing_preset_name(config.smoothing),
        "presets": {name: preset._asdict() for name, preset in SMOOTHING_PRESETS.items()},
        "fields": [{"key": s.key, "kind": s.kind, "default": s.default, "help": s.help, "allowed": s.allowed,
                    "low": s.low, "high": s.high, "unit": s.unit, "choices": list(s.choices or choices.get(s.key, [])),
                    "fixed_choices": bool(s.choices), "restart": s.key in RESTART_KEYS,
                    "elsewhere": s.key in ELSEWHERE_KEYS, "overridden": s.key in state.overrides,
                    **({"override": state.overrides[s.key]} if s.key in state.overrides else {})}
                   for s in settings_schema()],
    }


async def get_settings(request: Request) -> Response:
    return JSONResponse(await anyio.to_thread.run_sync(_settings_json, _state(request)))


async def post_settings(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    changes = body.get("changes", {})
    if not isinstance(changes, dict):
        raise ApiError(400, "\"changes\" must be an object: {\"smoothing.min_hold_ms\": 300, ...}")
    changes = dict(changes)
    if "preset" in body:
        try:
            changes.update(smoothing_preset_changes(str(body["preset"])))
        except ConfigError as exc:
            raise ApiError(400, str(exc), {"smoothing.preset": str(exc)}) from None
    if not changes:
        raise ApiError(400, "nothing to change: send {\"changes\": {KEY: VALUE}} or {\"preset\": NAME}")
    await anyio.to_thread.run_sync(_save, state, changes)
    return JSONResponse(await anyio.to_thread.run_sync(_settings_json, state))


class MjpegResponse(Response):
    """The live picture as multipart/x-mixed-replace JPEG parts, each new frame as it comes, until the client goes.

    It watches the hub for exactly as long as this call runs (try/finally around the whole exchange), however the
    exchange ends: client gone, server stopping, or cancelled between two frames."""

    media_type = f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}"

    def __init__(self, hub) -> None:  # no Response.__init__: it would declare a Content-Length
        self.hub = hub
        self.status_code = 200
        self.background = None
        self.raw_headers = [(b"content-type", self.media_type.encode("latin-1")), (b"cache-control", b"no-store")]

    async def __call__(self, scope, receive, send) -> None:
        try:
            stop_watching = self.hub.watch()
        except TooManyViewers as exc:
            await JSONResponse({"error": str(exc)}, status_code=503)(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async with anyio.create_task_group() as group:

                async def until_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(until_disconnect)
                seq = 0
                while not self.hub.closed:
                    got = await anyio.to_thread.run_sync(self.hub.next_jpeg, seq, 0.5)
                    if got is None:
                        continue
                    seq, jpeg = got
                    head = f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    await send({"type": "http.response.body", "body": head.encode("ascii") + jpeg + b"\r\n",
                                "more_body": True})
                group.cancel_scope.cancel()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:  # the client went away while we were sending
            pass
        finally:
            stop_watching()


async def get_live_mjpeg(request: Request) -> Response:
    state = _state(request)
    if state.hub.full:
        raise ApiError(503, f"{state.hub.viewers} live views are open already; close one")
    return MjpegResponse(state.hub)


async def get_live_jpg(request: Request) -> Response:
    state = _state(request)

    def one() -> bytes | None:
        with state.hub.watching():
            got = state.hub.next_jpeg(0, 3.0)
        return None if got is None else got[1]

    try:
        jpeg = await anyio.to_thread.run_sync(one)
    except TooManyViewers as exc:
        raise ApiError(503, str(exc)) from None
    if jpeg is None:
        raise ApiError(503, "no frame came from the engine within 3 s")
    return Response(jpeg, media_type="image/jpeg")


async def post_analyze(request: Request) -> Response:
    state = _state(request)
    data = await read_body(request, MAX_IMAGE_BYTES, "the image")
    return JSONResponse(await anyio.to_thread.run_sync(state.analyzer.analyze, data))


async def get_session(request: Request) -> Response:
    return JSONResponse(_state(request).session.snapshot().to_json())


async def get_openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


# ---------------------------------------------------------------------------------------------------- declaration
_ERROR = {"description": "refused or failed: {\"error\": message}",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # under /api/v1
    handler: Callable[[Request], Awaitable[Response]]
    summary: str
    response: str = "application/json"
    body: str | None = None  # the request body's media type
    body_schema: dict | None = None
    query: tuple[tuple[str, str, bool], ...] = ()  # (name, description, required)
    errors: tuple[int, ...] = (400,)
    extra: dict = field(default_factory=dict)
    status: int = 200  # the status of success


def _avatar_query() -> tuple[tuple[str, str, bool], ...]:
    from vcam_emoji.avatar import OPTIONS, AvatarAttributes

    defaults = AvatarAttributes()
    return (("expression", "angry .. neutral (default happy)", False),
            *((name, f"{option.help}: {option.allowed()} (default {getattr(defaults, name)})", False)
              for name, option in OPTIONS.items()))


_AVATAR_QUERY = _avatar_query()


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/status", get_status, "State, source, output, pack, mirror, fps and latency, and each face now "
             "with its probabilities and the expression shown", errors=()),
    Endpoint("POST", "/commands", post_command, "pause / resume (not saved); pack, mirror, camera (saved to the "
             "settings file and applied at once, like the tray)", body="application/json",
             body_schema={"type": "object", "required": ["command"], "properties": {
                 "command": {"enum": ["pause", "resume", "pack", "mirror", "camera"]}, "name": {"type": "string"},
                 "on": {"type": "boolean"}, "device": {"oneOf": [{"type": "integer"}, {"type": "string"}]}}},
             errors=(400, 404, 409)),
    Endpoint("GET", "/cameras", get_cameras, "The cameras found on this computer and the configured one", errors=()),
    Endpoint("GET", "/packs", get_packs, "Every valid pack (built-in first), the current one, and the broken ones "
             "with the reason", errors=()),
    Endpoint("GET", "/packs/image", get_pack_image, "One expression of a pack as a PNG thumbnail",
             response="image/png", query=(("name", "the pack", True), ("expression", "angry .. neutral", False),
                                          ("size", "48, 96, 192, 256 or 512", False)), errors=(400, 404)),
    Endpoint("POST", "/packs/import", post_pack_import, "Import a pack from a .zip (pack.json and its seven images) "
             "into the user packs folder", body="application/zip", errors=(400, 409, 413), status=201),
    Endpoint("POST", "/packs/remove", post_pack_remove, "Remove a user pack (never a built-in one, nor the current "
             "one)", body="application/json",
             body_schema={"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
             errors=(400, 403, 404, 409)),
    Endpoint("GET", "/settings", get_settings, "The settings file: values, what each key allows, presets, and the "
             "file's problem while it is invalid", errors=()),
    Endpoint("POST", "/settings", post_settings, "Change settings: checked like the file, written to it (only the "
             "changed lines), applied; nothing is saved when any value is refused", body="application/json",
             body_schema={"type": "object", "properties": {"changes": {"type": "object"},
                                                           "preset": {"enum": list(SMOOTHING_PRESETS)}}},
             errors=(400, 409)),
    Endpoint("GET", "/live.mjpeg", get_live_mjpeg, "The output picture as it goes to the virtual camera, as MJPEG "
             "(multipart/x-mixed-replace), at most the engine's frame rate", response="multipart/x-mixed-replace",
             errors=(503,)),
    Endpoint("GET", "/live.jpg", get_live_jpg, "The next output frame as one JPEG", response="image/jpeg",
             errors=(503,)),
    Endpoint("POST", "/analyze", post_analyze, "The faces in one image: boxes, scores, probabilities (FER order) "
             "and expression", body="image/*", errors=(400, 413, 415, 503)),
    Endpoint("GET", "/avatar/options", avatar.get_avatar_options, "Every avatar attribute with its values, whether "
             "a colour #RRGGBB is allowed and its default; the user's avatar packs with their attributes", errors=()),
    Endpoint("GET", "/avatar/random", avatar.get_avatar_random, "The attributes of random avatar number seed (the "
             "same seed, the same avatar; without one, a new random seed)",
             query=(("seed", "0 .. 2147483647", False),)),
    Endpoint("GET", "/avatar/image", avatar.get_avatar_image, "One expression of the avatar whose attributes are "
             "the other query parameters (missing ones take their default), as a PNG with transparency",
             response="image/png", query=_AVATAR_QUERY + (("size", "96, 128, 192 (default), 256 or 512", False),)),
    Endpoint("GET", "/avatar/sticker", avatar.get_avatar_sticker, "One expression of that avatar as a 512x512 "
             "sticker to download, PNG or WebP (WebP under 100 KB)", response="image/*",
             query=_AVATAR_QUERY + (("format", "png (default) or webp", False),)),
    Endpoint("POST", "/avatar/pack", avatar.post_avatar_pack, "Save the avatar as a pack in the user packs folder "
             "(drawn into a temporary folder, checked, renamed into place); a name that is taken is refused with "
             "\"exists\": true unless \"overwrite\": true", body="application/json",
             body_schema={"type": "object", "required": ["name"], "properties": {
                 "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
                 "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
                 "overwrite": {"type": "boolean"}}},
             errors=(400, 409), status=201),
    Endpoint("GET", "/session", get_session, "This session's expressions over time (face-frames per expression per "
             "bin) and overall shares", errors=()),
    Endpoint("GET", "/reports", reports.get_reports, "The reports of vcam-emoji analyze / report found in the "
             "Studio's reports folder and the folders added, each with its summary (files, faces, length, shares of "
             "the expressions, valence); what cannot be read, and why; whether a report of the live session can be "
             "made", errors=()),
    Endpoint("POST", "/reports/session", reports.post_session_report, "Make a report of the live session so far "
             "(the analytics library: report.json, timeline.csv, plots, report.html) in a new folder of the "
             "Studio's reports folder", body="application/json", errors=(409, 500, 503), status=201),
    Endpoint("POST", "/reports/folders", reports.post_report_folder, "Add a folder to look in: a report folder, or "
             "a folder of report folders (the Studio reads only their report files)", body="application/json",
             body_schema={"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}},
             errors=(400, 409), status=201),
    Endpoint("POST", "/reports/folders/remove", reports.post_report_folder_remove, "Stop looking in a folder that "
             "was added (nothing is deleted)", body="application/json",
             body_schema={"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}},
             errors=(400, 404)),
    Endpoint("GET", "/reports/file", reports.get_report_file, "One file of a report: report.html (served in a "
             "sandbox), report.json, timeline.csv or a plot", response="text/html",
             query=(("id", "the report's id from GET /reports", True),
                    ("name", ", ".join(reports.REPORT_NAMES) + " (default report.html)", False)),
             errors=(400, 404, 413)),
    Endpoint("GET", "/openapi.json", get_openapi, "This document", errors=()),
)


def all_endpoints() -> tuple[Endpoint, ...]:
    return ENDPOINTS


def routes() -> list[Route]:
    return [Route(API + e.path, e.handler, methods=[e.method]) for e in all_endpoints()]


def openapi_document() -> dict:
    paths: dict[str, dict] = {}
    for e in all_endpoints():
        op: dict = {"summary": e.summary, "operationId": e.handler.__name__,
                    "security": [{"bearer": []}, {"query": []}, {"cookie": []}],
                    "responses": {str(e.status): {"description": "done", "content": {e.response: {}}},
                                  "401": {"description": "no token, or a wrong one"},
                                  "403": {"description": "a foreign Host or Origin"},
                                  **{str(code): _ERROR for code in e.errors}}}
        if e.body is not None:
            op["requestBody"] = {"required": True, "content": {e.body: {"schema": e.body_schema or
                                                                        {"type": "string", "format": "binary"}}}}
        if e.query:
            op["parameters"] = [{"name": n, "in": "query", "description": d, "required": r, "schema": {"type": "string"}}
                                for n, d, r in e.query]
        paths.setdefault(API + e.path, {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Emoji Cam Studio API", "version": "1", "description":
                 "Served on 127.0.0.1 only. Every request needs this run's token: 'Authorization: Bearer TOKEN', "
                 "?token=TOKEN, or the cookie a page gets. Requests with a Host or Origin other than this server "
                 "are refused."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"}, "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "query": {"type": "apiKey", "in": "query", "name": "token"},
                                "cookie": {"type": "apiKey", "in": "cookie", "name": "emoji_cam_studio_PORT"}},
        },
    }
