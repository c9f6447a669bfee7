"""Where the viewer's settings come from: flags, then the environment, then the config file."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .graphics.detect import MODES

SERVER_ENV = "IMAGECHAT_SERVER"
TOKEN_ENV = "IMAGECHAT_TOKEN"
CAFILE_ENV = "IMAGECHAT_CAFILE"
GRAPHICS_ENV = "IMAGECHAT_GRAPHICS"
UPLOAD_ENV = "IMAGECHAT_UPLOAD"
PRESENCE_ENV = "IMAGECHAT_PRESENCE"
DEFAULT_IMAGE_CACHE_MB = 512
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


class SettingsError(ValueError):
    """A config file that can't be used, with a message for the user."""


def config_file() -> Path:
    return Path(platformdirs.user_config_dir("imagechat-tui", appauthor=False)) / "config.toml"


@dataclass(slots=True)
class Settings:
    servers: tuple[str, ...] = ()
    """The server's URL; or several, processes of one cluster that the viewer fails over between.
    Empty: the local server."""
    token: str | None = None
    cafile: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    """Action name to keys, e.g. {"reply": "r,ctrl+r"}; see the help screen for the names."""
    graphics: str | None = None
    """How the image is drawn: one of graphics.detect.MODES; None or "auto" asks the terminal."""
    upload: bool = True
    """Whether images go to the server: when the first marker is placed on one, and with --share."""
    image_cache_mb: int = DEFAULT_IMAGE_CACHE_MB
    """The image cache's bound, in MB; the least recently used images go first past it."""
    presence: bool = True
    """Whether others see that you view an image and write on it (you see them either way)."""


def read_file(path: Path) -> Settings:
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: {exc}") from None
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict) or not all(isinstance(v, str) for v in keymap.values()):
        raise SettingsError(f"{path}: [keymap] maps action names to key strings, like reply = \"r\"")
    values = {name: data.get(name) for name in ("server", "token", "cafile", "graphics")}
    for name, value in values.items():
        if value is not None and not isinstance(value, str):
            raise SettingsError(f"{path}: {name} must be a string")
    _check_graphics(values["graphics"], str(path))
    upload, presence = (_file_switch(data, name, path) for name in ("upload", "presence"))
    cache_mb = data.get("image_cache_mb", DEFAULT_IMAGE_CACHE_MB)
    if not isinstance(cache_mb, int) or isinstance(cache_mb, bool) or cache_mb < 1:
        raise SettingsError(f"{path}: image_cache_mb must be a whole number of megabytes, 1 or more")
    server = values.pop("server")
    return Settings(servers=server_urls([server] if server else []), keymap=dict(keymap), upload=upload,
                    presence=presence, image_cache_mb=cache_mb, **values)


def server_urls(values: Iterable[str]) -> tuple[str, ...]:
    """Each value one URL or several separated by commas (`--server` repeated, IMAGECHAT_SERVER)."""
    return tuple(url.strip() for value in values for url in value.split(",") if url.strip())


def _check_graphics(value: str | None, where: str) -> None:
    if value is not None and value not in MODES:
        raise SettingsError(f"{where}: graphics must be one of {', '.join(MODES)}, not {value!r}")


def _file_switch(data: dict[str, object], name: str, path: Path) -> bool:
    value = data.get(name, True)
    if not isinstance(value, bool):
        raise SettingsError(f"{path}: {name} must be true or false")
    return value


def _env_switch(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value not in _BOOLEANS:
        raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), not {value!r}")
    return _BOOLEANS[value]


def _first(*values: bool | None) -> bool:
    return next(value for value in values if value is not None)


def resolve(servers: Iterable[str] | None, token: str | None, cafile: str | None, path: Path | None = None,
            graphics: str | None = None, upload: bool | None = None, presence: bool | None = None) -> Settings:
    """Flags win over the environment, which wins over the config file."""
    file = read_file(path or config_file())
    _check_graphics(os.environ.get(GRAPHICS_ENV), GRAPHICS_ENV)
    return Settings(
        servers=server_urls(servers or []) or server_urls([os.environ.get(SERVER_ENV, "")]) or file.servers,
        token=token or os.environ.get(TOKEN_ENV) or file.token,
        cafile=cafile or os.environ.get(CAFILE_ENV) or file.cafile,
        keymap=file.keymap,
        graphics=graphics or os.environ.get(GRAPHICS_ENV) or file.graphics,
        upload=_first(upload, _env_switch(UPLOAD_ENV), file.upload),
        presence=_first(presence, _env_switch(PRESENCE_ENV), file.presence),
        image_cache_mb=file.image_cache_mb,
    )
