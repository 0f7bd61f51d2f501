"""What a MotionLoRA is trained on, for the Training view: pictures that each become a clip of a synthesized
camera move, or a folder of clips of one move; by dialog or dropped on the panel (a folder or pictures).

Pictures are uploaded (`POST /v1/uploads`) when the training starts, so they work with a remote backend too; a
folder is sent as its path, which only means something to a backend on this machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.views.common import IMAGE_SUFFIXES, dropped_paths

CAMERA_MOVES = ("zoom-in", "zoom-out", "pan-left", "pan-right", "tilt-up", "tilt-down", "roll-clockwise",
                "roll-anticlockwise")  # the service's list (models/camera.py); the UI must not import it
NO_MOVE = "(none: the clips' own motion)"
THUMB = 40
PATH_ROLE = Qt.ItemDataRole.UserRole


class TrainingDataPanel(QGroupBox):
    """`changed()` whenever the data, the mode or the move changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Training data", parent)
        self.setAcceptDrops(True)
        self.pictures_mode = QRadioButton("Pictures: each becomes a clip of the camera move")
        self.folder_mode = QRadioButton("A folder of clips of one move (mp4, webm, mov, mkv, gif, frame folders)")
        self.pictures_mode.setChecked(True)
        modes = QButtonGroup(self)
        for button in (self.pictures_mode, self.folder_mode):
            modes.addButton(button)
            button.toggled.connect(self._mode_changed)

        self.pictures = QListWidget()
        self.pictures.setIconSize(QSize(THUMB, THUMB))
        self.pictures.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.pictures.setMinimumHeight(110)
        self.add_pictures_button = QPushButton("Add pictures...")
        self.add_pictures_button.clicked.connect(self.add_pictures_with_dialog)
        self.remove_pictures_button = QPushButton("Remove")
        self.remove_pictures_button.clicked.connect(self.remove_selected)
        picture_buttons = QHBoxLayout()
        picture_buttons.addWidget(self.add_pictures_button)
        picture_buttons.addWidget(self.remove_pictures_button)
        picture_buttons.addStretch(1)

        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a folder of clips on the backend's machine (or drop one here)")
        self.folder.textChanged.connect(lambda _text: self.changed.emit())
        self.choose_folder_button = QPushButton("Choose folder...")
        self.choose_folder_button.clicked.connect(self.choose_folder_with_dialog)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose_folder_button)

        self.move = QComboBox()
        self.move.addItem(NO_MOVE, "")
        for move in CAMERA_MOVES:
            self.move.addItem(move, move)
        self.move.setCurrentIndex(self.move.findData("zoom-in"))
        self.move.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.05, 1.5)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(1.0)
        self.caption = QLineEdit()
        self.caption.setPlaceholderText("what the pictures show, e.g. a mountain lake at dawn")

        form = QFormLayout()
        form.addRow("Camera move", self.move)
        form.addRow("Move strength", self.strength)
        form.addRow("Caption", self.caption)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pictures_mode)
        layout.addWidget(self.pictures)
        layout.addLayout(picture_buttons)
        layout.addWidget(self.folder_mode)
        layout.addLayout(folder_row)
        layout.addLayout(form)
        self._mode_changed()

    # -- choosing ----------------------------------------------------------------------------------------------

    def add_pictures_with_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        names, _ = QFileDialog.getOpenFileNames(self, "Pictures to train on", "", f"Pictures ({patterns})")
        self.add_pictures([Path(n) for n in names])

    def add_pictures(self, paths: list[Path]) -> None:
        """Add pictures (each once) and switch to the pictures mode."""
        have = set(self.local_pictures())
        for path in paths:
            if path.suffix.lower() not in IMAGE_SUFFIXES or path in have:
                continue
            item = QListWidgetItem(path.name)
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            reader = QImageReader(str(path))  # a scaled read: a thumbnail of a large photo costs little
            size = reader.size()
            if size.isValid():
                reader.setScaledSize(size.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))
            image = reader.read()
            if not image.isNull():
                item.setIcon(QIcon(QPixmap.fromImage(image)))
            self.pictures.addItem(item)
            have.add(path)
        self.pictures_mode.setChecked(True)
        self.changed.emit()

    def remove_selected(self) -> None:
        for item in self.pictures.selectedItems():
            self.pictures.takeItem(self.pictures.row(item))
        self.changed.emit()

    def choose_folder_with_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of clips")
        if folder:
            self.set_folder(Path(folder))

    def set_folder(self, folder: Path) -> None:
        self.folder.setText(str(folder))
        self.folder_mode.setChecked(True)

    def set_remote(self, remote: bool) -> None:
        """A folder path means nothing to a backend on another machine: only pictures (uploaded) then."""
        self.folder_mode.setEnabled(not remote)
        self.choose_folder_button.setEnabled(not remote)
        self.folder_mode.setToolTip("the backend runs on another machine: send pictures instead" if remote else "")
        if remote:
            self.pictures_mode.setChecked(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if any(p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES for p in dropped_paths(event.mimeData())):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = dropped_paths(event.mimeData())
        folders = [p for p in paths if p.is_dir()]
        if folders and self.folder_mode.isEnabled():
            self.set_folder(folders[0])
        else:
            self.add_pictures([p for p in paths if p.is_file()])
        event.acceptProposedAction()

    def _mode_changed(self) -> None:
        # The other mode's content is greyed (it is not sent); its buttons stay live: using one switches to it.
        pictures = self.pictures_mode.isChecked()
        for widget in (self.pictures, self.remove_pictures_button, self.caption):
            widget.setEnabled(pictures)
        self.folder.setEnabled(not pictures)
        self.changed.emit()

    # -- what is sent ------------------------------------------------------------------------------------------

    def local_pictures(self) -> list[Path]:
        return [Path(self.pictures.item(i).data(PATH_ROLE)) for i in range(self.pictures.count())]

    def camera_move(self) -> str:
        return str(self.move.currentData() or "")

    def problem(self) -> tuple[str, str] | None:
        """(field, sentence) for what the service would refuse anyway, before anything is uploaded."""
        if self.pictures_mode.isChecked():
            if not self.local_pictures():
                return "images", "images: no pictures; add some with Add pictures... or drop them on the list"
            if not self.camera_move():
                return "camera_move", ("camera_move: pictures do not move; choose the camera move to make clips of "
                                       "them")
        elif not self.folder.text().strip():
            return "data_path", "data_path: no folder; choose a folder of clips (Choose folder...) or drop one here"
        return None

    def add_to(self, body: dict[str, Any]) -> None:
        """The data fields of the training body; pictures stand in by local path until they are uploaded."""
        if self.pictures_mode.isChecked():
            body["images"] = [str(p) for p in self.local_pictures()]
            body["caption"] = self.caption.text().strip()
        else:
            body["data_path"] = self.folder.text().strip()
        if self.camera_move():
            body["camera_move"] = self.camera_move()
            body["camera_strength"] = round(self.strength.value(), 3)

    def widget_for(self, field: str | None) -> QWidget | None:
        root = (field or "").split("[", 1)[0]
        return {"images": self.pictures, "data_path": self.folder, "camera_move": self.move,
                "camera_strength": self.strength, "caption": self.caption}.get(root)
