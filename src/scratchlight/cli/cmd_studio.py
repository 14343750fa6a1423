"""scratchlight studio: a local web page to look at a surface, paint light and a region,
and watch the light optimize."""
from __future__ import annotations

import dataclasses
import os
import sys

from ..errors import InputError
from .flags import add_options, config_from_args

NAME = "studio"
HELP = "start the studio: a local web page to paint light and a region and optimize live"


OPTIONS = ("data_dir", "port", "host", "out_dir", "resolution", "max_sessions",
           "max_matrices", "max_upload_bytes", "upload_quota_bytes", "max_points",
           "max_light_pixels", "max_size", "device")


def add_arguments(p):
    from ..studio.config import StudioConfig

    add_options(p, StudioConfig, ["heightmap"])
    add_options(p, StudioConfig, OPTIONS[:3])
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    add_options(p, StudioConfig, OPTIONS[3:])


def _bind(host: str, port: int) -> "socket.socket":
    import socket  # here: `scratchlight --help` starts without it

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise InputError("--port", f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def run(args) -> int:
    try:
        import uvicorn
    except ImportError:
        raise InputError("studio", "needs the web server packages: pip install starlette uvicorn websockets") from None
    from ..studio import StudioConfig, create_app

    config = config_from_args(args, StudioConfig, ("heightmap", *OPTIONS))
    config = dataclasses.replace(config, out_dir=os.path.abspath(config.out_dir))
    if not config.data_dir and not config.heightmap:
        raise InputError("heightmap", "give a height map, --data DIR, or both")
    app = create_app(config)
    studio = app.state.studio
    sock = _bind(config.host, config.port)
    port = sock.getsockname()[1]
    shown = f"[{config.host}]" if ":" in config.host else config.host
    url = f"http://{shown}:{port}/" + (f"?token={studio.token}" if studio.token else "")
    print(f"scratchlight studio: {url}", flush=True)
    print("  press Ctrl-C to stop", file=sys.stderr, flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="websockets-sansio",
                                           lifespan="on", ws_max_size=4 << 20))
    server.run(sockets=[sock])
    return 0
