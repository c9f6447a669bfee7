"""The graphics setting: --graphics, then IMAGECHAT_GRAPHICS, then graphics = "…" in the config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagechat_tui.tui import cli
from imagechat_tui.tui.settings import SettingsError, resolve


def test_the_flag_wins_over_the_environment_which_wins_over_the_file(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('graphics = "kitty"\n')
    monkeypatch.delenv("IMAGECHAT_GRAPHICS", raising=False)
    assert resolve(None, None, None, config).graphics == "kitty"
    monkeypatch.setenv("IMAGECHAT_GRAPHICS", "sixel")
    assert resolve(None, None, None, config).graphics == "sixel"
    assert resolve(None, None, None, config, "halfblock").graphics == "halfblock"


def test_an_unknown_mode_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    config = tmp_path / "config.toml"
    config.write_text('graphics = "png"\n')
    monkeypatch.delenv("IMAGECHAT_GRAPHICS", raising=False)
    with pytest.raises(SettingsError, match=r"config.toml: graphics must be one of auto, kitty.*not 'png'"):
        resolve(None, None, None, config)
    config.write_text("")
    monkeypatch.setenv("IMAGECHAT_GRAPHICS", "gif")
    with pytest.raises(SettingsError, match="IMAGECHAT_GRAPHICS: graphics must be one of"):
        resolve(None, None, None, config)
    with pytest.raises(SystemExit) as exited:
        cli.main(["--graphics", "gif"])
    assert exited.value.code == 2 and "invalid choice: 'gif'" in capsys.readouterr().err
