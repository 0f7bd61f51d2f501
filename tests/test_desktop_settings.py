"""The Settings view: saved to its INI file, theme applied at once, a new backend address reconnects."""

from __future__ import annotations

import pytest
from desktop_fixtures import click, desktop_service, open_window, screenshot, type_into
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication
from server_fixtures import ServiceProcess

from desktop.settings import AppSettings, apply_theme


@pytest.fixture(scope="session")
def service() -> ServiceProcess:
    return desktop_service()


def test_settings_are_saved_applied_and_reconnect(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    view = window.settings_view
    window.show_view("settings")
    qtbot.waitUntil(lambda: "version" in view.backend_info.text(), timeout=10_000)  # the backend's health is shown
    assert str(service.data_dir / "logs" / "server.log") in view.backend_info.text()
    screenshot(window, "settings")
    try:
        type_into(qtbot, view.address, service.client.base_url)  # the same service, named explicitly
        click(qtbot, view.auto_start)  # off
        type_into(qtbot, view.output_folder, str(tmp_path / "clips"))
        view.theme.setCurrentIndex(view.theme.findData("dark"))
        states = []
        window.link.changed.connect(lambda state, _text: states.append(state))
        click(qtbot, view.apply_button)

        assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80  # dark, whatever the platform
        qtbot.waitUntil(lambda: window.palette().color(QPalette.ColorRole.Window).lightness() < 80, timeout=5_000)
        screenshot(window, "settings-dark")
        saved = AppSettings.load(tmp_path / "desktop.ini")
        assert (saved.backend_address, saved.auto_start, saved.output_folder, saved.theme) == (
            service.client.base_url, False, str(tmp_path / "clips"), "dark")
        qtbot.waitUntil(lambda: window.link.state == "connected" and states[-1:] == ["connected"], timeout=20_000)
        assert states[0] == "connecting" and window.link.client.base_url == service.client.base_url
        assert window.link.client.process is None
    finally:
        apply_theme("system")  # the QApplication outlives this test


def test_a_bad_address_is_refused_with_a_sentence(qtbot, service: ServiceProcess, tmp_path) -> None:
    window = open_window(qtbot, service, tmp_path)
    view = window.settings_view
    type_into(qtbot, view.address, "localhost:7865")
    click(qtbot, view.apply_button)
    assert "backend address: 'localhost:7865' is not accepted; expected http://HOST:PORT" in view.error.text()
    assert not (tmp_path / "desktop.ini").exists()  # nothing saved
    assert window.link.state == "connected"  # and the connection is left alone


def test_theme_follows_the_system_by_default(qapp, tmp_path) -> None:
    settings = AppSettings.load(tmp_path / "fresh.ini")
    assert settings.theme == "system" and settings.auto_start and settings.backend_address == ""
    system = QApplication.palette().color(QPalette.ColorRole.Window)  # the platform's (nothing forced yet)
    forced = "light" if system.lightness() < 128 else "dark"
    apply_theme(forced)
    assert (QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128) == (forced == "dark")
    apply_theme(settings.theme)
    assert QApplication.palette().color(QPalette.ColorRole.Window) == system  # back to the platform's choice
