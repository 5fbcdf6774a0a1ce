"""The "why" tabs beside the workload panels: timeline, items, lag, CPU and memory, code, tasks, log."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from gui.code_view import CodeView
from gui.lag_graph import LagGraph
from gui.log_pane import LogPane
from gui.resource_meter import ResourceMeter
from gui.runs_model import ItemsModel
from gui.task_inspector import TaskInspector
from gui.timeline import TimelineWidget
from services.runs import RunResult


class InsightTabs(QTabWidget):
    def __init__(self, ctx, items_view_factory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.timeline = TimelineWidget()
        self.items_model = ItemsModel(self)
        self.items_view = items_view_factory(self.items_model)
        self.items_title = QLabel("Select a run to see its items")
        self.items_title.setWordWrap(True)
        self.lag_graph = LagGraph(ctx.heartbeat)
        self.resources = ResourceMeter(ctx.pool.worker_pids)
        self.code = CodeView()
        self.tasks = TaskInspector()
        self.log = LogPane()

        items = QWidget()
        layout = QVBoxLayout(items)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.items_title)
        layout.addWidget(self.items_view, 1)

        for widget, title, tip in (
            (
                self.timeline,
                "Timeline",
                "Each item of the selected runs, from its start to its end; UI stalls shaded",
            ),
            (items, "Items", "The selected run's items: outcome, times, errors, which process ran them"),
            (self.lag_graph, "Lag", "How late each heartbeat tick was, over the last 10 seconds"),
            (self.resources, "CPU && memory", "CPU per core, and the app's and its workers' CPU and memory"),
            (self.code, "Code", "The code that Run calls now, blocking and async side by side"),
            (self.tasks, "Tasks", "The asyncio tasks alive right now"),
            (self.log, "Log", "What the app logs; turn on asyncio debug mode to see slow callbacks"),
        ):
            self.addTab(widget, title)
            self.setTabToolTip(self.count() - 1, tip)

    def show_runs(self, runs: list[RunResult], numbers: list[int]) -> None:
        """The selection changed: the timeline stacks every selected run; the items tab shows the last one."""
        if runs:
            self.timeline.show_runs(runs, numbers)
        else:
            self.timeline.clear()
        run = runs[-1] if runs else None
        self.items_model.set_run(run)
        if run is None:
            self.items_title.setText("Select a run to see its items")
            return
        text = f"Items of run #{numbers[-1]} ({run.mode} {run.workload})"
        if run.error:
            text += f" — {run.error}"
        if run.blocked_in:
            text += f" — UI blocked in {run.blocked_in}"
        self.items_title.setText(text)
