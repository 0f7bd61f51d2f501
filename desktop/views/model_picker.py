"""A model picker for the Generate view: one kind's files (from `GET /v1/models?kind=<store folder>`), an
optional weight, and the pre-flight warning next to it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from backend.client import ModelFile
from desktop.views.common import ERROR_STYLE, WARNING_STYLE

NONE_CHOICE = "(none)"


class ModelPicker(QWidget):
    """A model-name combo filtered to one kind (editable: an absolute path on the service's machine works too),
    an optional weight, and the pre-flight warning next to it."""

    def __init__(self, kind: str, optional: bool = False, weight: tuple[float, float, float] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind, self.optional = kind, optional
        self.combo = QComboBox()
        self.combo.setEditable(not optional)
        self.combo.setMinimumWidth(220)
        self.weight: QDoubleSpinBox | None = None
        self.warning = QLabel()
        self.warning.setStyleSheet(WARNING_STYLE)
        self.warning.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        if weight is not None:
            low, high, default = weight
            self.weight = QDoubleSpinBox()
            self.weight.setRange(low, high)
            self.weight.setSingleStep(0.05)
            self.weight.setValue(default)
            self.weight.setPrefix("x ")
            row.addWidget(self.weight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.warning)
        self.warning.hide()
        self._empty_notice = ""  # nothing of this kind is listed
        self._check: list[tuple[str, bool]] = []  # the pre-flight check's (sentence, is_error) for this field
        self.files: dict[str, ModelFile] = {}  # what the listing said about each choice (by the value sent)

    def set_models(self, models: list[ModelFile]) -> None:
        """List the files of this picker's kind; a name listed twice (two roots) is offered by path the second
        time, since the service resolves a name to the first file only."""
        current = self.value()
        self.combo.clear()
        if self.optional:
            self.combo.addItem(NONE_CHOICE, "")
        names: set[str] = set()
        self.files = {}
        for m in models:
            if m.name in names:
                self.combo.addItem(f"{m.name} ({m.path})", m.path)
                self.files[m.path] = m
            else:
                self.combo.addItem(m.name, m.name)
                self.files[m.name] = m
            names.add(m.name)
            self.combo.setItemData(self.combo.count() - 1, m.path, Qt.ItemDataRole.ToolTipRole)  # where it is
        if current:
            self.select(current)
        self._empty_notice = "" if models or self.optional else (
            f"No {self.kind} found: import one in the Models view (or type an absolute path on the backend's "
            "machine).")
        self._render()

    def show_check(self, issues: list[tuple[str, bool]]) -> None:
        """The pre-flight check's sentences about this field (errors first); [] clears them."""
        self._check = sorted(issues, key=lambda issue: not issue[1])
        self._render()

    def _render(self) -> None:
        text = "\n".join(sentence for sentence, _ in self._check) or self._empty_notice
        error = any(is_error for _, is_error in self._check)
        self.warning.setStyleSheet(ERROR_STYLE if error else WARNING_STYLE)
        self.warning.setText(text)
        self.warning.setVisible(bool(text))

    def select(self, name: str) -> None:
        index = self.combo.findData(name)
        if index < 0:
            index = self.combo.findText(name)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        elif self.combo.isEditable():
            self.combo.setEditText(name)

    def chosen_file(self) -> ModelFile | None:
        """The listing's entry for the current choice (None for a typed path the listing does not hold)."""
        return self.files.get(self.value())

    def value(self) -> str:
        """The model name (or path) chosen; '' for none."""
        if self.combo.isEditable():
            text = self.combo.currentText().strip()
            index = self.combo.findText(text)
            return str(self.combo.itemData(index)) if index >= 0 else text
        return str(self.combo.currentData() or "")
