"""`imagechat-tui IMAGE`: open an image (URL or file) and its conversations."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from . import embedded
from .cache import StateCache, cache_dir
from .graphics.detect import MODES, detect
from .graphics.terminal_io import TerminalIO
from .sample import draw_sample
from .settings import (
    CAFILE_ENV,
    GRAPHICS_ENV,
    PRESENCE_ENV,
    SERVER_ENV,
    TOKEN_ENV,
    SettingsError,
    config_file,
    resolve,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagechat-tui",
        description="Annotate a screenshot with numbered markers and threaded conversations, live with everyone "
        "else who has it open. With no server configured, a local one is started (your own: shared by "
        "every terminal of yours, restarted when it is gone, its port kept in your data directory).",
        epilog=f"Settings come from the flags, then the environment, then {config_file()} "
        "(keys: server, token, cafile, graphics, presence, and a [keymap] table). Press ? in the viewer for the keys.",
    )
    parser.add_argument("image", nargs="?",
                        help="an http(s) URL or a local image file (none: a built-in sample screenshot)")
    parser.add_argument("--server", action="append",
                        help=f"the server's URL; repeated or comma-separated, processes of one cluster to fail over "
                             f"between (env {SERVER_ENV}; default: the local server)")
    parser.add_argument("--token", help=f"your token on that server (env {TOKEN_ENV})")
    parser.add_argument("--cafile", help=f"CA certificate to trust for https/wss (env {CAFILE_ENV})")
    parser.add_argument("--graphics", choices=MODES,
                        help=f"how to draw the image (env {GRAPHICS_ENV}; default auto: ask the terminal)")
    parser.add_argument("--presence", choices=("on", "off"),
                        help=f"off: others don't see that you view an image or write on it; you still see them "
                             f"(env {PRESENCE_ENV}; config presence = false; default on)")
    parser.add_argument("--config", type=Path, help=f"the config file (default {config_file()})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = resolve(args.server, args.token, args.cafile, args.config, args.graphics, args.presence)
    except SettingsError as exc:
        print(f"imagechat-tui: {exc}", file=sys.stderr)
        return 2
    servers, token = settings.servers, settings.token
    local = None
    if not servers:
        data_dir = embedded.default_data_dir()
        token = token or embedded.local_token(data_dir)
        local = embedded.local_server(data_dir, token)
        servers = (local.url,)
    elif token is None:
        print(f"imagechat-tui: no token for {', '.join(servers)}: pass --token, set {TOKEN_ENV}, "
              f"or put token = \"…\" in {config_file()}", file=sys.stderr)
        return 2
    # Textual is imported only once the arguments are good.
    from .app import ImageChatApp
    from .widgets.status import TOKEN_HELP

    image = args.image or str(draw_sample(cache_dir().parent / "sample-screenshot.png"))
    token_help = TOKEN_HELP if local is None else (
        f"This is your own local server: delete {local.data_dir / 'local-token'} and start the viewer again "
        "to get a new token.")
    terminal = detect(settings.graphics, os.environ, TerminalIO.open())  # before Textual takes the terminal
    app = ImageChatApp(image, server=servers, token=token, cafile=settings.cafile, keymap=settings.keymap,
                       cache=StateCache(cache_dir(), ",".join(servers), token), token_help=token_help,
                       terminal=terminal, presence=settings.presence)
    if local is not None:
        # Started (and restarted when gone) by the engine before each connection attempt, so its
        # start-up and any failure are shown in the viewer, not printed behind it.
        app.engine.before_connect = partial(embedded.keep_running, local)
    app.run()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
