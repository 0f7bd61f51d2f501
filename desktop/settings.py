"""The app's own settings (backend address, auto-start, output folder, theme), kept in an INI file.

The file is `desktop.ini` in the user config directory, beside the service's token, so a portable install
(`ANIMATEDIFF_STUDIO_CONFIG_DIR`) keeps everything together; tests pass their own file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from backend.client import user_config_dir

THEMES = ("system", "light", "dark")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def default_settings_path() -> Path:
    return user_config_dir() / "desktop.ini"


def default_output_folder() -> Path:
    movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
    return Path(movies or Path.home()) / "AnimateDiff Studio"


@dataclass
class AppSettings:
    """What the Settings view edits. `backend_address` empty means: the local service (found via server.json)."""

    backend_address: str = ""
    auto_start: bool = True
    output_folder: str = ""
    theme: str = "system"
    path: Path | None = None  # where `save` writes

    @classmethod
    def load(cls, path: Path | None = None) -> AppSettings:
        path = path or default_settings_path()
        qs = QSettings(str(path), QSettings.Format.IniFormat)
        theme = str(qs.value("appearance/theme", "system"))
        return cls(backend_address=str(qs.value("backend/address", "")),
                   auto_start=_as_bool(qs.value("backend/auto_start", True)),
                   output_folder=str(qs.value("output/folder", "")) or str(default_output_folder()),
                   theme=theme if theme in THEMES else "system", path=path)

    def save(self) -> None:
        path = self.path or default_settings_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        qs = QSettings(str(path), QSettings.Format.IniFormat)
        qs.setValue("backend/address", self.backend_address)
        qs.setValue("backend/auto_start", self.auto_start)
        qs.setValue("output/folder", self.output_folder)
        qs.setValue("appearance/theme", self.theme)
        qs.sync()

    def address_problem(self) -> str | None:
        """Why `backend_address` cannot be used, or None (empty is fine: the local service)."""
        if not self.backend_address:
            return None
        parts = urlsplit(self.backend_address)
        if parts.scheme != "http" or not parts.hostname:
            return (f"backend address: {self.backend_address!r} is not accepted; expected http://HOST:PORT "
                    "(e.g. http://127.0.0.1:7865) or empty for the local service")
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            return f"backend address: {self.backend_address!r} has a port that is not a number"
        return None

    def address_is_local(self) -> bool:
        """True when the backend runs on this machine (its store and job folders are local files)."""
        return not self.backend_address or urlsplit(self.backend_address).hostname in LOOPBACK_HOSTS


def _as_bool(value: object) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("true", "1", "yes")


def apply_theme(theme: str) -> None:
    """`system` follows the desktop's light/dark setting (and its changes); `light`/`dark` force one.

    Qt switches the scheme itself where the platform supports it (Windows, macOS, GNOME/KDE themes); where it
    cannot (other Linux desktops, offscreen), the forced scheme is painted with a palette of our own.
    """
    app = QApplication.instance()
    hints = QApplication.styleHints()
    scheme = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(theme, Qt.ColorScheme.Unknown)
    hints.setColorScheme(scheme)
    if theme not in ("light", "dark"):
        app.setPalette(QPalette())  # a default palette resolves to the platform's own
    elif hints.colorScheme() != scheme:
        app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (the colours of Qt's own dark Fusion look)."""
    p = QPalette()
    white, text_off = QColor("#f0f0f0"), QColor("#808080")
    for role, color in ((QPalette.ColorRole.Window, "#353535"), (QPalette.ColorRole.WindowText, white),
                        (QPalette.ColorRole.Base, "#262626"), (QPalette.ColorRole.AlternateBase, "#2f2f2f"),
                        (QPalette.ColorRole.ToolTipBase, "#353535"), (QPalette.ColorRole.ToolTipText, white),
                        (QPalette.ColorRole.PlaceholderText, text_off), (QPalette.ColorRole.Text, white),
                        (QPalette.ColorRole.Button, "#404040"), (QPalette.ColorRole.ButtonText, white),
                        (QPalette.ColorRole.BrightText, "#ff5555"), (QPalette.ColorRole.Link, "#4aa3ff"),
                        (QPalette.ColorRole.Highlight, "#2a82da"), (QPalette.ColorRole.HighlightedText, "#ffffff"),
                        (QPalette.ColorRole.Light, "#505050"), (QPalette.ColorRole.Midlight, "#454545"),
                        (QPalette.ColorRole.Mid, "#303030"), (QPalette.ColorRole.Dark, "#202020"),
                        (QPalette.ColorRole.Shadow, "#141414")):
        p.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, text_off)
    return p
