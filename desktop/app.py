"""Start the Qt application: settings, theme, the main window, then the backend connection in the background."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from backend import __version__
from desktop.main_window import MainWindow
from desktop.settings import AppSettings, apply_theme


def create_app() -> QApplication:
    """The process's QApplication (reused if one exists, as under pytest-qt)."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("AnimateDiff Studio")
    app.setOrganizationName("animatediff-studio")
    app.setApplicationVersion(__version__)
    return app


def run_app(selftest_dir: Path | None = None, selftest_timeout: float = 600.0,
            settings_path: Path | None = None) -> int:
    """Open the window and run the event loop; with `selftest_dir`, run the self-test and return its status."""
    app = create_app()
    settings = AppSettings.load(settings_path)
    apply_theme(settings.theme)
    window = MainWindow(settings)
    window.show()
    if selftest_dir is None:
        window.start()
        return app.exec()
    from desktop.selftest import SelfTest

    test = SelfTest(window, selftest_dir, selftest_timeout)
    test.start()
    app.exec()
    return test.exit_code if test.exit_code is not None else 1
