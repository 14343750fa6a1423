"""scratchlight studio: a local web page to look at a surface, paint light and a region,
and watch the light optimize."""
from __future__ import annotations

import os
import socket
import sys

from ..errors import InputError

NAME = "studio"
HELP = "start the studio: a local web page to paint light and a region and optimize live"


def add_arguments(p):
    p.add_argument("heightmap", nargs="?", help="a height map to offer (by its file name)")
    p.add_argument("--data", metavar="DIR", help="folder of height maps the page may open by name")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; any other requires the printed token)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--out", default="studio-results",
                   help="folder for exported results and uploads (default ./studio-results)")
    p.add_argument("--resolution", type=int, default=256, help="image size of the page (default 256)")
    p.add_argument("--max-sessions", type=int, default=8, help="sessions kept in memory (default 8)")
    p.add_argument("--max-matrices", type=int, default=4,
                   help="sessions whose transport matrices stay in memory (default 4)")
    p.add_argument("--max-upload-mb", type=float, default=64, help="largest upload in MiB (default 64)")
    p.add_argument("--max-size", type=int, default=1024,
                   help="resample height maps to at most this many points a side (default 1024)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


def _bind(host: str, port: int) -> socket.socket:
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

    if not 1 <= args.port <= 65535 and args.port != 0:
        raise InputError("--port", f"must be in [1, 65535] or 0, got {args.port}")
    config = StudioConfig(
        data_dir=os.path.abspath(args.data) if args.data else None,
        heightmap=os.path.abspath(args.heightmap) if args.heightmap else None,
        out_dir=os.path.abspath(args.out), host=args.host, port=args.port,
        max_sessions=args.max_sessions, max_matrices=args.max_matrices,
        max_upload_bytes=int(args.max_upload_mb * 2 ** 20), resolution=args.resolution,
        max_size=args.max_size, device=args.device)
    if not config.data_dir and not config.heightmap:
        raise InputError("heightmap", "give a height map, --data DIR, or both")
    app = create_app(config)
    studio = app.state.studio
    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
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
