"""The one error for a sidebar setting the service would refuse, raised before anything is sent."""

from __future__ import annotations

from typing import Any


class SettingsError(ValueError):
    """A setting the service would refuse: names the setting, its value and what is accepted."""

    def __init__(self, field: str, value: Any, accepted: str) -> None:
        super().__init__(f"{field}: {value!r} is not accepted; expected {accepted}")
        self.field, self.value = field, value
