"""The HTTP and WebSocket routes of a server (Starlette): the page, its assets, the API and the sockets."""
from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from importlib import resources

from realtime_affect.labels import ACTION_UNITS, EXPRESSIONS
from realtime_affect.serve.protocol import FrameFormatError, unpack
from realtime_affect.serve.recording import FORMATS, RecordingError, replay_frames
from realtime_affect.serve.schema import error_message, hello_message
from realtime_affect.serve.state import ServeState
from realtime_affect.sinks import SinkError

log = logging.getLogger(__name__)

WEB_FILES = {"index.html": "text/html", "app.js": "text/javascript", "plots.js": "text/javascript",
             "driver.js": "text/javascript",
             "style.css": "text/css", "icon.svg": "image/svg+xml"}
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                    "connect-src 'self' ws: wss:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _web_file(name: str) -> bytes:
    return resources.files("realtime_affect.serve").joinpath("web", name).read_bytes()


def _credentials(conn) -> tuple[str | None, str | None, str | None]:
    token = conn.query_params.get("token") or conn.headers.get("x-affect-token")
    return token, conn.headers.get("origin"), conn.headers.get("host")


def build_app(state: ServeState):
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route, WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    policy = state.policy

    def refused(request, public: bool = False):
        token, origin, host = _credentials(request)
        why = policy.refusal(None if public else token, origin, host) if not public else (
            None if policy.host_ok(host) else f"host {host!r} is not this server's loopback address")
        if public and why is None:
            return None
        return PlainTextResponse(why + "\n", status_code=403, headers=SECURITY_HEADERS) if why else None

    async def page(request):
        return refused(request) or Response(_web_file("index.html"), media_type="text/html", headers=SECURITY_HEADERS)

    async def asset(request):
        name = request.path_params["name"]
        if name not in WEB_FILES:
            return PlainTextResponse(f"no such file: {name}\n", status_code=404)
        return refused(request, public=True) or Response(_web_file(name), media_type=WEB_FILES[name],
                                                         headers=SECURITY_HEADERS)

    async def status(request):
        if (r := refused(request)) is not None:
            return r
        cameras = state.cameras
        return JSONResponse({
            "sources": state.sources(), "starting": state.expects_source and not state.server_sources(),
            "driver": state.driver, "expressions": list(EXPRESSIONS),
            "action_units": list(ACTION_UNITS), "ended": state.ended(), "subscribers": state.hub.count,
            "browser_camera": cameras is not None,
            "recording": state.recordings(),
            "replays": [{"name": r.name, "kind": r.kind, "video": r.video is not None,
                         "overlays_drawn": r.overlays_drawn} for r in state.replays()],
        }, headers=SECURITY_HEADERS)

    async def record(request):
        if (r := refused(request)) is not None:
            return r
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return JSONResponse({"error": "send a JSON object: {\"action\": \"start\"|\"stop\", \"source\": ...}"},
                                status_code=400)
        if not isinstance(body, dict) or body.get("action") not in ("start", "stop"):
            return JSONResponse({"error": "action must be start or stop"}, status_code=400)
        source = body.get("source")
        publisher = state.find(source) if isinstance(source, str) else None
        if publisher is None:
            return JSONResponse({"error": f"no source named {source!r}; sources: {state.sources()}"},
                                status_code=404)
        if body["action"] == "stop":
            replay = await asyncio.to_thread(publisher.stop_recording)
            return JSONResponse({"stopped": replay.name if replay else None})
        if publisher.ended:
            return JSONResponse({"error": f"{source} has ended: there is nothing more to record (its results are "
                                          "offered as a replay)"}, status_code=409)
        fmt = body.get("format", "csv")
        if fmt not in FORMATS:
            return JSONResponse({"error": f"format must be one of {', '.join(FORMATS)}"}, status_code=400)
        try:
            recording = await asyncio.to_thread(publisher.start_recording, state.record_dir, fmt,
                                                bool(body.get("video", True)))
        except (RecordingError, SinkError, OSError) as exc:
            return JSONResponse({"error": f"cannot record: {exc}"}, status_code=500)
        return JSONResponse({"recording": str(recording.results_path),
                             "video": str(recording.video_path) if recording.video_path else None})

    async def favicon(request):
        return Response(_web_file("icon.svg"), media_type="image/svg+xml", headers=SECURITY_HEADERS)

    async def replay(request):
        if (r := refused(request)) is not None:
            return r
        found = state.replay(request.path_params["name"])
        if found is None:
            return JSONResponse({"error": "no such replay"}, status_code=404)
        data = await asyncio.to_thread(replay_frames, found.results, 20000, found.driver, found.events)
        data.update(video=found.video is not None, overlays_drawn=found.overlays_drawn, kind=found.kind)
        return JSONResponse(data)

    async def replay_video(request):
        if (r := refused(request)) is not None:
            return r
        found = state.replay(request.path_params["name"])
        if found is None or found.video is None or not found.video.is_file():
            return PlainTextResponse("no video for this replay\n", status_code=404)
        return FileResponse(found.video)

    async def deny(ws: WebSocket, why: str, code: int = 403) -> None:
        try:
            await ws.send_denial_response(PlainTextResponse(why + "\n", status_code=code))
        except RuntimeError:  # the server does not support denial responses
            await ws.close(code=1008, reason=why[:120])

    async def gate(ws: WebSocket) -> bool:
        why = policy.refusal(*_credentials(ws))
        if why is not None:
            await deny(ws, why)
            return False
        return True

    async def until_closed(ws: WebSocket, sub) -> None:
        """Read what a subscriber sends until it goes away: these sockets take nothing, and say so (an ``error``
        message, sent in turn with the results)."""
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                sub.offer(json.dumps(error_message(
                    "this socket only sends results; it takes no messages (browser cameras send to /ws/camera)")))
        except (WebSocketDisconnect, RuntimeError):
            return

    async def subscribe(ws: WebSocket, frames: bool) -> None:
        if not await gate(ws):
            return
        sub = state.hub.subscribe(wants_frames=frames)
        if sub is None:
            await deny(ws, f"this server already has {state.hub.max_subscribers} subscribers", 503)
            return
        await ws.accept()
        reader = asyncio.create_task(until_closed(ws, sub))
        try:
            await ws.send_text(json.dumps(hello_message(state.sources(), state.driver, state.ended())))
            while not reader.done():
                getter = asyncio.ensure_future(sub.queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                item = getter.result()
                if item is None:  # the server is stopping
                    await ws.close(code=1001, reason="server stopping")
                    break
                if isinstance(item, bytes):
                    await ws.send_bytes(item)
                else:
                    await ws.send_text(item)
                sub.sent += 1
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            state.hub.unsubscribe(sub)
            reader.cancel()

    async def results_socket(ws: WebSocket) -> None:
        await subscribe(ws, frames=False)

    async def view_socket(ws: WebSocket) -> None:
        await subscribe(ws, frames=True)

    async def camera_socket(ws: WebSocket) -> None:
        if not await gate(ws):
            return
        cameras = state.cameras
        if cameras is None:
            await deny(ws, "this server does not analyse browser cameras", 404)
            return
        loop = asyncio.get_running_loop()
        answers: asyncio.Queue = asyncio.Queue(8)

        def reply(message: dict) -> None:  # from the worker thread
            def put() -> None:
                if answers.full():
                    answers.get_nowait()
                answers.put_nowait(message)
            try:
                loop.call_soon_threadsafe(put)
            except RuntimeError:
                pass

        client = cameras.open(reply)
        if client is None:
            await deny(ws, f"{cameras.limits.max_clients} browser cameras are already streaming", 503)
            return
        await ws.accept()

        async def send_answers() -> None:
            while True:
                await ws.send_text(json.dumps(await answers.get()))

        sender = asyncio.create_task(send_answers())
        try:
            await ws.send_text(json.dumps({**hello_message([f"browser-{client.id}"], state.driver),
                                           "client_id": client.id}))
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None:
                    reply(error_message("send camera frames as binary messages: [4-byte length][JSON][JPEG]"))
                    continue
                try:
                    header, jpeg = unpack(data)
                except FrameFormatError as exc:
                    reply(error_message(str(exc)))
                    continue
                cameras.submit(client, header, jpeg)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            sender.cancel()
            cameras.close(client)

    routes = [Route("/", page), Route("/favicon.ico", favicon), Route("/static/{name}", asset), Route("/api/status", status),
              Route("/api/record", record, methods=["POST"]), Route("/api/replay/{name}", replay),
              Route("/api/replay/{name}/video", replay_video),
              WebSocketRoute("/ws/results", results_socket), WebSocketRoute("/ws/view", view_socket),
              WebSocketRoute("/ws/camera", camera_socket)]

    @asynccontextmanager
    async def lifespan(app):
        state.hub.bind(asyncio.get_running_loop())
        yield

    return Starlette(routes=routes, lifespan=lifespan)
