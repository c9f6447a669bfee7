"""`imagechat-tui [IMAGE]`: open an image (URL, file or link) and its conversations, or with none, the
inbox; `--share` uploads it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from ..client.errors import ClientError
from ..client.imagecache import ImageCache
from ..client.links import parse_link
from . import embedded, heap
from .cache import StateCache, cache_dir, image_cache_dir
from .graphics.detect import MODES, detect
from .graphics.terminal_io import TerminalIO
from .sample import draw_sample
from .settings import (
    CAFILE_ENV,
    GRAPHICS_ENV,
    PRESENCE_ENV,
    SERVER_ENV,
    TOKEN_ENV,
    UPLOAD_ENV,
    SettingsError,
    config_file,
    resolve,
)
from .share import UPLOAD_OFF, share_image


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imagechat-tui",
        description="Annotate a screenshot with numbered markers and threaded conversations, live with everyone "
        "else who has it open. With no server configured, a local one is started (your own: shared by "
        "every terminal of yours, restarted when it is gone, its port kept in your data directory).",
        epilog=f"Settings come from the flags, then the environment, then {config_file()} "
        "(keys: server, token, cafile, graphics, upload, image_cache_mb, presence, and a [keymap] table). "
        "Press ? in the viewer for the keys.",
    )
    parser.add_argument("image", nargs="?",
                        help="an http(s) URL, a local image file, or a link to an image on the server: "
                             "sha256:<hex>, or sha256:<hex>#N to show its marker N (none: the inbox of images "
                             "with conversations)")
    parser.add_argument("--share", action="store_true",
                        help="upload IMAGE to the server now, print the link that opens it "
                             "(imagechat-tui sha256:<hex>) and exit")
    parser.add_argument("--upload", action=argparse.BooleanOptionalAction, default=None,
                        help=f"whether images go to the server: the first time a marker is placed on one, and with "
                             f"--share (env {UPLOAD_ENV}=1 or 0; default: upload)")
    parser.add_argument("--server", action="append",
                        help=f"the server's URL; repeated or comma-separated, processes of one cluster to fail over "
                             f"between (env {SERVER_ENV}; default: the local server)")
    parser.add_argument("--token", help=f"your token on that server (env {TOKEN_ENV})")
    parser.add_argument("--cafile", help=f"CA certificate to trust for https/wss (env {CAFILE_ENV})")
    parser.add_argument("--graphics", choices=MODES,
                        help=f"how to draw the image (env {GRAPHICS_ENV}; default auto: ask the terminal)")
    parser.add_argument("--presence", action=argparse.BooleanOptionalAction, default=None,
                        help=f"whether others see that you view an image and write on it; you see them either way "
                             f"(env {PRESENCE_ENV}=1 or 0; config presence = false; default: shown)")
    parser.add_argument("--config", type=Path, help=f"the config file (default {config_file()})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = resolve(args.server, args.token, args.cafile, args.config, args.graphics, args.upload,
                           args.presence)
    except SettingsError as exc:
        print(f"imagechat-tui: {exc}", file=sys.stderr)
        return 2
    if args.share and not args.image:
        print("imagechat-tui: --share needs an image: imagechat-tui IMAGE --share", file=sys.stderr)
        return 2
    if args.share and not settings.upload:
        print(f"imagechat-tui: {UPLOAD_OFF}", file=sys.stderr)
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
    images = ImageCache(image_cache_dir(), settings.image_cache_mb * 2**20)
    if local is not None and (args.share or (args.image and parse_link(args.image))):
        # The image comes from the server at once, before the viewer's first connection would start it.
        try:
            embedded.ensure_server(local)
        except embedded.StartError as exc:
            print(f"imagechat-tui: {exc}", file=sys.stderr)
            return 1
    if args.share:
        return _share(args.image, servers[0], token, settings.cafile, images)
    # Textual is imported only once the arguments are good.
    from .app import ImageChatApp
    from .widgets.status import TOKEN_HELP

    def sample() -> str:
        return str(draw_sample(cache_dir().parent / "sample-screenshot.png"))

    token_help = TOKEN_HELP if local is None else (
        f"This is your own local server: delete {local.data_dir / 'local-token'} and start the viewer again "
        "to get a new token.")
    terminal = detect(settings.graphics, os.environ, TerminalIO.open())  # before Textual takes the terminal
    app = ImageChatApp(args.image, server=servers, token=token, cafile=settings.cafile, keymap=settings.keymap,
                       cache=StateCache(cache_dir(), ",".join(servers), token), token_help=token_help,
                       terminal=terminal, images=images, upload=settings.upload, sample=sample,
                       presence=settings.presence)
    if local is not None:
        # Started (and restarted when gone) by the engine before each connection attempt, so its
        # start-up and any failure are shown in the viewer, not printed behind it.
        app.engine.before_connect = partial(embedded.keep_running, local)
    heap.settle()
    app.run()
    return app.return_code or 0


def _share(image: str, server: str, token: str, cafile: str | None, images: ImageCache) -> int:
    try:
        link = asyncio.run(share_image(image, server, token, cafile=cafile, cache=images))
    except ClientError as exc:
        print(f"imagechat-tui: {exc}", file=sys.stderr)
        return 1
    print(link)
    return 0


if __name__ == "__main__":
    sys.exit(main())
