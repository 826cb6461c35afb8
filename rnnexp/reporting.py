"""What the CLI shows while a command works: the training's progress (rich_reporter) and what
preparing the data says (DataLines). Drawn on stderr; a bar only on a terminal."""

from __future__ import annotations

from typing import Any

from .views import epoch_line, show_setup


class DataLines:
    """What preparing the data says (data.Events): notes as warnings, plain lines, and a long
    step's progress: a bar on a terminal, elsewhere a line at each fifth ("tokenizing 1,000,000
    texts: 40%")."""

    def __init__(self, console) -> None:
        self.console = console
        self.bar = None
        self.lines = None  # off a terminal: a line at each fifth (data.Fifths)

    def note(self, text: str) -> None:
        self.end_bar()
        self.console.print(f"[yellow]warning:[/] {text}")

    def info(self, text: str) -> None:
        self.end_bar()
        self.console.print(text)

    def progress(self, what: str, done: int, total: int) -> None:
        console = self.console
        if console.quiet:
            return
        if not console.is_terminal:
            if self.lines is None:  # imported here: the data layer loads numpy, which --help need not
                from .data import Fifths

                self.lines = Fifths(console.print)
            self.lines(what, done, total)
            return
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console, transient=True
            )
            self.bar_task = self.bar.add_task(what, total=total)
            self.bar.start()
        self.bar.update(self.bar_task, completed=done)
        if done >= total:
            self.end_bar()

    def end_bar(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def rich_reporter(console, describe: bool, on_setup) -> Any:
    """The training Reporter of the CLI: ``on_setup`` is called once the run is set up."""
    from .training import Reporter

    class RichReporter(Reporter):
        """Progress bar on a terminal; one line per epoch everywhere (CI logs included)."""

        def __init__(self) -> None:
            self.progress_bar = None
            self.task = None
            self.data = DataLines(console)
            self.info, self.progress = self.data.info, self.data.progress  # preparing the data

        def setup(self, info: dict[str, Any]) -> None:
            on_setup()
            if describe:
                show_setup(console, info)

        def epoch_start(self, epoch: int, epochs: int, batches: int, done: int) -> None:
            if not console.is_terminal or console.quiet:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.data.end_bar()
            self.progress_bar = Progress(
                TextColumn(f"epoch {epoch}/{epochs}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self.task = self.progress_bar.add_task("train", total=batches, completed=done, loss="-")
            self.progress_bar.start()

        def batch_end(self, loss: float) -> None:
            if self.progress_bar is not None:
                self.progress_bar.update(self.task, advance=1, loss=f"{loss:.4f}")

        def epoch_end(self, row: dict[str, Any], improved: bool) -> None:
            self._stop_bar()
            console.print(epoch_line(row) + ("  [green]*best[/]" if improved else ""))

        def note(self, text: str) -> None:
            self._stop_bar()
            console.print(f"[yellow]warning:[/] {text}")

        def close(self) -> None:
            """Training is over, however it ended: no bar left to redraw."""
            self._stop_bar()

        def _stop_bar(self) -> None:
            self.data.end_bar()
            if self.progress_bar is not None:
                self.progress_bar.stop()
                self.progress_bar = None

    return RichReporter()
