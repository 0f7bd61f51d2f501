"""The Models view: the service's model index grouped by kind (size, detected version, format, SHA-256, notes),
import (dialog or drag and drop), ComfyUI / A1111 folders, rescan with progress, remove, and which official
MotionLoRA each camera move still misses.

Everything goes through the model manager's routes: the service detects each file's kind from its contents, so
an import needs no "as what" from the user, and a file it cannot use is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backend.client import CameraMoveStatus, ModelFile, ModelImported, ModelRoot, ModelScanStatus
from desktop.backend_link import BackendLink
from desktop.model_catalog import group_by_kind, group_label, human_size, kind_words
from desktop.views.common import ERROR_STYLE, dropped_paths, message_label
from desktop.workers import describe_error, run_task

MODEL_ROLE = Qt.ItemDataRole.UserRole  # file rows: the ModelFile behind the row
SCAN_POLL_MS = 250
COLUMNS = ("Name", "Size", "Version", "Format", "SHA-256", "Notes", "Location")


class ModelTree(QTreeWidget):
    """The model index; local files dropped anywhere on it are imported (`files_dropped(list[Path])`)."""

    files_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.viewport().setAcceptDrops(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        event.acceptProposedAction() if dropped_paths(event.mimeData()) else event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 - Qt's name
        event.acceptProposedAction() if dropped_paths(event.mimeData()) else event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)


class _ImportProgress(QObject):
    """Emitted by the importing thread; lives on the GUI thread, so the view's slot runs there (queued)."""

    moved = Signal(int, int, str)  # files done, files in all, the file being imported


class ModelsView(QWidget):
    """`models_changed()` after every listing, import, removal or scan (the Generate view refreshes its pickers)."""

    models_changed = Signal()

    def __init__(self, link: BackendLink, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.link = link
        self.models: list[ModelFile] = []
        self.roots: list[ModelRoot] = []
        self.group_items: dict[str, QTreeWidgetItem] = {}
        self.last_scan: ModelScanStatus | None = None
        self._busy = False
        self._import_progress = _ImportProgress(self)
        self._import_progress.moved.connect(self._on_import_progress)
        self._scan_timer = QTimer(self)
        self._scan_timer.setInterval(SCAN_POLL_MS)
        self._scan_timer.timeout.connect(self._poll_scan)
        self._polling = False

        self.import_button = QPushButton("Import files...")
        self.import_button.clicked.connect(self.import_with_dialog)
        self.add_root_button = QPushButton("Add ComfyUI / A1111 folder...")
        self.add_root_button.clicked.connect(self.add_root_with_dialog)
        self.rescan_button = QPushButton("Rescan")
        self.rescan_button.setToolTip("Index every folder again and compute the SHA-256 of new or changed files")
        self.rescan_button.clicked.connect(self.rescan)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.status = QLabel("Drop model files on the list to import them.")
        self.summary = QLabel()
        self.error = message_label(ERROR_STYLE)
        top = QHBoxLayout()
        for w in (self.import_button, self.add_root_button, self.rescan_button, self.remove_button, self.progress):
            top.addWidget(w)
        top.addWidget(self.status, 1)
        top.addWidget(self.summary)

        self.tree = ModelTree()
        self.tree.setHeaderLabels(list(COLUMNS))
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for column, width in enumerate((300, 80, 70, 100, 100, 260)):
            self.tree.setColumnWidth(column, width)
        self.tree.files_dropped.connect(self.import_files)
        self.tree.itemSelectionChanged.connect(self._update_buttons)

        self.camera_table = QTreeWidget()
        self.camera_table.setHeaderLabels(["Camera move", "Official MotionLoRA", "Here"])
        self.camera_table.setRootIsDecorated(False)
        self.camera_table.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        camera_box = QGroupBox("Camera moves: the MotionLoRA each one needs")
        QVBoxLayout(camera_box).addWidget(self.camera_table)

        self.roots_table = QTreeWidget()
        self.roots_table.setHeaderLabels(["Folder", "Layout", "From"])
        self.roots_table.setRootIsDecorated(False)
        self.roots_table.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.roots_table.itemSelectionChanged.connect(self._update_buttons)
        self.remove_root_button = QPushButton("Stop searching this folder")
        self.remove_root_button.clicked.connect(self.remove_selected_root)
        roots_box = QGroupBox("Where models are searched, in order")
        roots_layout = QVBoxLayout(roots_box)
        roots_layout.addWidget(self.roots_table)
        roots_layout.addWidget(self.remove_root_button, 0, Qt.AlignmentFlag.AlignRight)

        bottom = QWidget()
        bottom_layout = QHBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(camera_box, 1)
        bottom_layout.addWidget(roots_box, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(bottom)
        splitter.setSizes([480, 250])

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.error)
        layout.addWidget(splitter, 1)
        self._update_buttons()

    # -- listing -----------------------------------------------------------------------------------------------

    def set_client_ready(self) -> None:
        """Called when the backend is connected (or reconnected)."""
        self._update_buttons()
        self.refresh()

    def refresh(self) -> None:
        """List the index, the roots and the camera moves again (in the background)."""
        client = self.link.client
        if client is None:
            return

        def fetch() -> tuple[list[ModelFile], list[ModelRoot], list[CameraMoveStatus]]:
            # Shadowed files too: the index view shows every file, the notes say which name wins.
            return client.models(include_shadowed=True), client.model_roots(), client.camera_moves()

        run_task(self, fetch, self._show, self._failed, name="models")

    def _show(self, result: tuple[list[ModelFile], list[ModelRoot], list[CameraMoveStatus]]) -> None:
        models, roots, moves = result
        self.models, self.roots = models, roots
        collapsed = {k for k, item in self.group_items.items() if not item.isExpanded()}
        self.tree.clear()
        self.group_items = {}
        for name, files in group_by_kind(models).items():
            group = QTreeWidgetItem([f"{group_label(name)} ({len(files)})",
                                     human_size(sum(f.size_bytes for f in files)) if files else ""])
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            for model in files:
                group.addChild(self._row(model))
            self.tree.addTopLevelItem(group)
            group.setExpanded(name not in collapsed)
            self.group_items[name] = group
        self._show_roots(roots)
        self._show_camera_moves(moves)
        self.summary.setText(f"{len(models)} model file(s) in {len(roots)} folder(s)")
        self._update_buttons()
        self.models_changed.emit()

    @staticmethod
    def _row(model: ModelFile) -> QTreeWidgetItem:
        notes = "; ".join(model.notes)
        row = QTreeWidgetItem([model.name, human_size(model.size_bytes), model.version or "", model.format or "",
                               model.sha256[:12] if model.sha256 else "not hashed", notes, model.path])
        row.setData(0, MODEL_ROLE, model)
        row.setToolTip(0, f"{model.kind}: {model.path}")
        row.setToolTip(4, model.sha256 or "Rescan computes the SHA-256")
        row.setToolTip(5, "\n".join(model.notes))
        row.setToolTip(6, model.path)
        return row

    def _show_roots(self, roots: list[ModelRoot]) -> None:
        self.roots_table.clear()
        labels = {"store": "the app's store", "env": "ANIMATEDIFF_STUDIO_MODEL_DIRS", "user": "added here"}
        for root in roots:
            item = QTreeWidgetItem([root.path, root.layout, labels.get(root.source, root.source)])
            item.setData(0, MODEL_ROLE, root)
            item.setToolTip(0, "\n".join(f["label"] for f in root.folders if f.get("exists")) or root.path)
            self.roots_table.addTopLevelItem(item)

    def _show_camera_moves(self, moves: list[CameraMoveStatus]) -> None:
        self.camera_table.clear()
        for move in moves:
            row = QTreeWidgetItem([move.move, move.file, Path(move.path).name if move.path else "missing"])
            if not move.present:
                row.setForeground(2, Qt.GlobalColor.darkRed)
                row.setToolTip(2, f"Download {move.file} (about {human_size(move.approx_size_bytes)}) from "
                                  f"{move.url} and import it (or put it in {move.store_folder}).")
            else:
                row.setToolTip(2, move.path or "")
            self.camera_table.addTopLevelItem(row)

    def files_of(self, group_name: str) -> list[str]:
        """Names listed in a group (a store folder such as `checkpoints`, or `unknown`, `sdxl-base` ...)."""
        group = self.group_items.get(group_name)
        return [group.child(i).text(0) for i in range(group.childCount())] if group is not None else []

    def row_of(self, group_name: str, name: str) -> QTreeWidgetItem | None:
        group = self.group_items.get(group_name)
        for i in range(group.childCount() if group is not None else 0):
            if group.child(i).text(0) == name:
                return group.child(i)
        return None

    # -- import ------------------------------------------------------------------------------------------------

    def import_with_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import model files", "",
                                                "Model files (*.safetensors *.ckpt *.pt *.pth *.bin);;All files (*)")
        if paths:
            self.import_files([Path(p) for p in paths])

    def import_files(self, paths: list[Path]) -> None:
        """Ask the service to copy each file into its store, under the kind it detects; then list again."""
        client = self.link.client
        if client is None or self._busy or not self._service_sees_local_files():
            return
        self._start_busy(f"Importing {len(paths)} file(s)...")
        self.progress.setRange(0, len(paths))
        report = self._import_progress.moved.emit

        def import_all() -> list[ModelImported | Exception]:
            results: list[ModelImported | Exception] = []
            for index, path in enumerate(paths):
                report(index, len(paths), path.name)
                try:
                    results.append(client.import_model(str(path.absolute())))
                except Exception as exc:  # noqa: BLE001 - one refused file must not stop the others
                    results.append(exc)
            return results

        run_task(self, import_all, lambda results: self._imported(paths, results), self._failed, name="import")

    @Slot(int, int, str)
    def _on_import_progress(self, done: int, total: int, name: str) -> None:
        self.progress.setValue(done)
        self.status.setText(f"Importing {name} ({done + 1} of {total})...")

    def _imported(self, paths: list[Path], results: list[ModelImported | Exception]) -> None:
        done = [f"{r.name} ({kind_words(r.kind)}, {r.outcome})" for r in results if isinstance(r, ModelImported)]
        refused = [f"{path.name}: {describe_error(r)}" for path, r in zip(paths, results, strict=True)
                   if isinstance(r, Exception)]
        self._stop_busy(("Imported " + ", ".join(done) + ".") if done else "Nothing imported.")
        self.error.setText("\n".join(refused))
        self.refresh()

    def _service_sees_local_files(self) -> bool:
        if not self.link.is_local:
            self.error.setText("The backend runs on another machine: it cannot read files from this one. Copy the "
                               "files there and import or add their folder from that machine.")
            return False
        return True

    # -- roots -------------------------------------------------------------------------------------------------

    def add_root_with_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a ComfyUI or A1111 folder (or any folder of models)")
        if folder:
            self.add_root(Path(folder))

    def add_root(self, folder: Path) -> None:
        """Search `folder` too (ComfyUI / A1111 layouts are recognised); the service indexes it at once."""
        client = self.link.client
        if client is None or self._busy or not self._service_sees_local_files():
            return
        self._start_busy(f"Indexing {folder}...")
        run_task(self, lambda: client.add_model_root(str(folder)), self._root_added, self._failed, name="add-root")

    def _root_added(self, root: ModelRoot) -> None:
        found = sum(1 for f in root.folders if f.get("exists"))
        self._stop_busy(f"Added {root.path} ({root.layout}, {found} model folders).")
        self.refresh()

    def remove_selected_root(self) -> None:
        item = self.roots_table.currentItem()
        root = item.data(0, MODEL_ROLE) if item is not None else None
        client = self.link.client
        if root is None or client is None or self._busy:
            return
        self._start_busy(f"Removing {root.path} from the search...")
        run_task(self, lambda: client.remove_model_root(root.path),
                 lambda _roots: (self._stop_busy(f"No longer searching {root.path}."), self.refresh()),
                 self._failed, name="remove-root")

    # -- rescan ------------------------------------------------------------------------------------------------

    def rescan(self) -> None:
        """Start the service's scan (detect + hash) and follow its progress."""
        client = self.link.client
        if client is None or self._busy:
            return
        self._start_busy("Scanning...")
        run_task(self, lambda: client.scan(wait=False), self._show_scan, self._failed, name="scan")

    def _poll_scan(self) -> None:
        client = self.link.client
        if client is None or self._polling:
            return
        self._polling = True
        run_task(self, client.scan_status, self._show_scan, self._failed, name="scan-status")

    def _show_scan(self, status: ModelScanStatus) -> None:
        self._polling = False
        self.last_scan = status
        if status.running:
            self._scan_timer.start()
            if status.bytes_total:
                self.progress.setRange(0, 1000)
                self.progress.setValue(round(1000 * status.bytes_done / status.bytes_total))
            elif status.files_total:
                self.progress.setRange(0, status.files_total)
                self.progress.setValue(status.files_done)
            where = f": {Path(status.path).name}" if status.path else ""
            self.status.setText(f"Scanning ({status.phase}{where}), {status.files_done} of {status.files_total} "
                                "files...")
            return
        self._scan_timer.stop()
        if status.state == "failed":
            self._stop_busy("")
            self.error.setText(f"The scan failed: {status.error}")
        else:
            r = status.result or {}
            self._stop_busy(f"Scan done: {r.get('files', 0)} files ({r.get('added', 0)} new, {r.get('changed', 0)} "
                            f"changed, {r.get('removed', 0)} gone), {r.get('hashed', 0)} hashed.")
            self.error.setText("\n".join(r.get("problems") or []))
        self.refresh()

    # -- remove ------------------------------------------------------------------------------------------------

    def selected_model(self) -> ModelFile | None:
        item = self.tree.currentItem()
        return item.data(0, MODEL_ROLE) if item is not None else None

    def remove_selected(self) -> None:
        """Delete the selected model from the store (after asking); the service refuses files in other folders."""
        model, client = self.selected_model(), self.link.client
        if model is None or client is None or self._busy:
            return
        answer = QMessageBox.question(self, "Remove model", f"Delete {model.name} ({model.path}) from the store?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._start_busy(f"Removing {model.name}...")
        run_task(self, lambda: client.remove_model(model.name, model.kind),
                 lambda removed: (self._stop_busy(f"Removed {removed.name}."), self.refresh()),
                 self._failed, name="remove")

    # -- state -------------------------------------------------------------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        self._polling = False
        self._scan_timer.stop()
        self._stop_busy("")
        self.error.setText(describe_error(exc))

    def _start_busy(self, text: str) -> None:
        self._busy = True
        self.error.setText("")
        self.status.setText(text)
        self.progress.setRange(0, 0)  # indeterminate until there is something to count
        self.progress.show()
        self._update_buttons()

    def _stop_busy(self, text: str) -> None:
        self._busy = False
        self.progress.hide()
        self.status.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self.link.client is not None and not self._busy
        local = self.link.is_local
        for button in (self.import_button, self.add_root_button):
            button.setEnabled(ready and local)
        self.rescan_button.setEnabled(ready)
        self.remove_button.setEnabled(ready and self.selected_model() is not None)
        item = self.roots_table.currentItem()
        root = item.data(0, MODEL_ROLE) if item is not None else None
        self.remove_root_button.setEnabled(ready and root is not None and root.source == "user")
