"""Who may reach a webslm server, shared by `webslm serve` (the demo page) and `webslm serve-api` (the OpenAI-compatible
endpoint). Neither has authentication, so both bind loopback unless --allow-remote, and both answer only requests
whose Host header names this server: a page on another site can point its own name at 127.0.0.1 (DNS rebinding)
and read a loopback server with the browser, but the browser still sends that site's name as Host. Both also answer
HEAD wherever they answer GET (`finish_server_app`), and both run in a background thread the same way in tests and
the browser harness (`serve_in_thread`).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import re
import socket

from webslm.errors import WebslmError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
EVERY_INTERFACE = frozenset({"0.0.0.0", "::"})

# A Host header: a name or IPv4 address, or an IPv6 address in brackets; then an optional port.
_HOST_HEADER = re.compile(r"^(?:\[([0-9a-f:.]+)\]|([^:\[\]/@\s]+))(?::[0-9]{1,5})?$")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind_host(host: str, allow_remote: bool, exposes: str, warn: bool = True) -> None:
    """Refuse a non-loopback --host without --allow-remote; with it, warn that anyone can use `exposes`."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise WebslmError(f"--host {host} is not a loopback address; add --allow-remote to let other machines reach "
                          f"this server (it has no authentication), or leave --host at 127.0.0.1")
    if warn:
        print(f"WARNING: serving on {host}: anyone who can reach this machine can use {exposes}; there is no "
              f"authentication.", flush=True)


def _can_bind(host: str, port: int) -> OSError | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT does not count as busy
        try:
            s.bind((host.strip("[]"), port))
        except OSError as e:
            return e
    return None


def check_port_free(host: str, port: int) -> None:
    """Fail before any work (and before our banner) when --port cannot be bound, naming a port that can."""
    if not 0 < port < 65536:
        raise WebslmError(f"--port {port}: must be between 1 and 65535")
    error = _can_bind(host, port)
    if error is None:
        return
    if error.errno == errno.EADDRINUSE:
        free = next((p for p in range(port + 1, min(port + 50, 65536)) if _can_bind(host, p) is None), None)
        hint = f"pick another, e.g. --port {free}" if free else "pick another --port"
        raise WebslmError(f"--port {port}: already in use on {host} (another server runs there); {hint}")
    raise WebslmError(f"--host {host} --port {port}: cannot listen there ({error.strerror}); "
                      f"{'ports below 1024 need root; ' if port < 1024 else ''}pick another --port or --host")


def host_header_names(bind_host: str) -> frozenset[str] | None:
    """The names a Host header may carry: the loopback names and the bound address. None (any name) when bound to
    every interface (0.0.0.0, ::): other machines then reach it by names this process cannot know."""
    bind_host = bind_host.lower().strip("[]")
    if bind_host in EVERY_INTERFACE:
        return None
    return LOOPBACK_NAMES | {bind_host}


class HostHeaderCheck:
    """ASGI middleware: 400 for a request whose Host header is not one of `host_header_names(bind_host)`."""

    def __init__(self, app, bind_host: str):
        self.app = app
        self.names = host_header_names(bind_host)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.names is not None:  # neither server speaks websocket
            raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            match = _HOST_HEADER.match(raw.strip().lower())
            if not match or (match[1] or match[2]) not in self.names:
                from starlette.responses import PlainTextResponse

                port = (scope.get("server") or ("", 0))[1]
                names = ", ".join(sorted(f"[{n}]" if ":" in n else n for n in self.names))
                message = (f"Host header {raw!r} is not a name of this server (a guard against DNS rebinding): "
                           f"it answers to {names}. Open http://127.0.0.1:{port}/, or start it with --host NAME "
                           f"--allow-remote to serve it under another name.\n")
                await PlainTextResponse(message, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def finish_server_app(app, bind_host: str) -> None:
    """What every webslm server app gets once its routes are defined: HEAD wherever GET is served (curl -I, link
    checkers and caches use it; FastAPI routes answer only the methods they name), and the Host-header check.
    HEAD is a twin route kept out of the OpenAPI schema: one route with both methods repeats its operation id."""
    from fastapi.routing import APIRoute

    for route in [r for r in app.router.routes if isinstance(r, APIRoute) and "GET" in r.methods]:
        app.add_api_route(route.path, route.endpoint, methods=["HEAD"], name=route.name, include_in_schema=False)
    app.add_middleware(HostHeaderCheck, bind_host=bind_host)


@contextlib.contextmanager
def serve_in_thread(app, host: str = "127.0.0.1"):
    """Serve `app` on a free port of `host` from a background thread until the block ends (tests, the browser
    harness, benchmarks); yields the port."""
    import threading
    import time

    import uvicorn

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"webslm-serve-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on {host}:{port} did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
