"""Where the viewer's settings come from: flags, then the environment, then the config file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

SERVER_ENV = "IMAGECHAT_SERVER"
TOKEN_ENV = "IMAGECHAT_TOKEN"
CAFILE_ENV = "IMAGECHAT_CAFILE"


class SettingsError(ValueError):
    """A config file that can't be used, with a message for the user."""


def config_file() -> Path:
    return Path(platformdirs.user_config_dir("imagechat-tui", appauthor=False)) / "config.toml"


@dataclass(slots=True)
class Settings:
    server: str | None = None
    token: str | None = None
    cafile: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    """Action name to keys, e.g. {"reply": "r,ctrl+r"}; see the help screen for the names."""


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
    values = {name: data.get(name) for name in ("server", "token", "cafile")}
    for name, value in values.items():
        if value is not None and not isinstance(value, str):
            raise SettingsError(f"{path}: {name} must be a string")
    return Settings(keymap=dict(keymap), **values)


def resolve(server: str | None, token: str | None, cafile: str | None, path: Path | None = None) -> Settings:
    """Flags win over the environment, which wins over the config file."""
    file = read_file(path or config_file())
    return Settings(
        server=server or os.environ.get(SERVER_ENV) or file.server,
        token=token or os.environ.get(TOKEN_ENV) or file.token,
        cafile=cafile or os.environ.get(CAFILE_ENV) or file.cafile,
        keymap=file.keymap,
    )
