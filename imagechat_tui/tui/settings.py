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
PRESENCE_ENV = "IMAGECHAT_PRESENCE"
_SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


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
    presence = data.get("presence", True)
    if not isinstance(presence, bool):
        raise SettingsError(f"{path}: presence must be true or false")
    server = values.pop("server")
    return Settings(servers=server_urls([server] if server else []), keymap=dict(keymap), presence=presence,
                    **values)


def server_urls(values: Iterable[str]) -> tuple[str, ...]:
    """Each value one URL or several separated by commas (`--server` repeated, IMAGECHAT_SERVER)."""
    return tuple(url.strip() for value in values for url in value.split(",") if url.strip())


def _check_graphics(value: str | None, where: str) -> None:
    if value is not None and value not in MODES:
        raise SettingsError(f"{where}: graphics must be one of {', '.join(MODES)}, not {value!r}")


def switch(value: str, where: str) -> bool:
    """An on/off setting given as text (a flag, an environment variable)."""
    try:
        return _SWITCH[value.strip().lower()]
    except KeyError:
        raise SettingsError(f"{where} must be on or off, not {value!r}") from None


def resolve(servers: Iterable[str] | None, token: str | None, cafile: str | None, path: Path | None = None,
            graphics: str | None = None, presence: str | None = None) -> Settings:
    """Flags win over the environment, which wins over the config file."""
    file = read_file(path or config_file())
    _check_graphics(os.environ.get(GRAPHICS_ENV), GRAPHICS_ENV)
    presence = presence or os.environ.get(PRESENCE_ENV) or None
    return Settings(
        servers=server_urls(servers or []) or server_urls([os.environ.get(SERVER_ENV, "")]) or file.servers,
        token=token or os.environ.get(TOKEN_ENV) or file.token,
        cafile=cafile or os.environ.get(CAFILE_ENV) or file.cafile,
        keymap=file.keymap,
        graphics=graphics or os.environ.get(GRAPHICS_ENV) or file.graphics,
        presence=file.presence if presence is None else switch(presence, f"--presence or {PRESENCE_ENV}"),
    )
