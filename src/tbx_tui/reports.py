"""What each task's evaluation reports, in words every view shares: its tags, the line the
console prints, the headline the app shows when a run ends, the run table's columns.

Torch-free: the engine's tasks (engine/tasks/) name their report here, and the reader's
views (the run table, ``--once``), which read any writer's logs, find a report by the
tags a run has. A new task adds its report to REPORTS.
"""

from __future__ import annotations


def pct(value: float) -> str:
    return f"{100 * value:.1f}%"


class Report:
    task = ""
    split = "test"            # what evaluation runs on: the test set, or validation text
    key = ""                  # the tag that tells this task's evaluation from the others'
    metrics: tuple[str, ...] = ()  # the evaluation's tags, as TensorBoard's HParams lists them
    # (tag, run-table header, format) for the run table, shown when some run has the tag
    columns: tuple[tuple[str, str, str], ...] = ()
    examples = ""             # what the data is counted in, after "N train / M test"

    def claims(self, metrics) -> bool:
        return self.key in metrics

    def line(self, m: dict[str, float]) -> str:
        """The evaluation in words (the console, the status line)."""
        raise NotImplementedError

    def headline(self, m: dict[str, float]) -> tuple[str, str]:
        """Two short lines for the end of a run in the app, the main figure first."""
        raise NotImplementedError


class ClassificationReport(Report):
    task = "classification"
    key = "Accuracy/test"
    metrics = ("Loss/test", "Accuracy/test", "Precision/test", "Recall/test")
    columns = (("Loss/test", "test loss", "{:.4f}"), ("Accuracy/test", "test acc", "{:.2%}"))

    def line(self, m):
        return (f"loss {m['Loss/test']:.4f}  accuracy {pct(m['Accuracy/test'])}"
                f"  precision {pct(m['Precision/test'])}  recall {pct(m['Recall/test'])}")

    def headline(self, m):
        return (f"test loss {m['Loss/test']:.4f}  acc {m['Accuracy/test']:.1%}",
                f"precision {pct(m['Precision/test'])}  recall {pct(m['Recall/test'])}")


class LanguageReport(Report):
    task = "language"
    split = "val"
    key = "Loss/val"
    metrics = ("Loss/val", "Perplexity/val", "Accuracy/val")
    columns = (("Loss/val", "val loss", "{:.4f}"), ("Perplexity/val", "ppl", "{:.2f}"))
    examples = " windows"

    def line(self, m):
        return (f"loss {m['Loss/val']:.4f}  perplexity {m['Perplexity/val']:.2f}"
                f"  token accuracy {pct(m['Accuracy/val'])}")

    def headline(self, m):
        return (f"val loss {m['Loss/val']:.4f}  ppl {m['Perplexity/val']:.2f}",
                f"token acc {m['Accuracy/val']:.1%}")


class RegressionReport(Report):
    task = "regression"
    # Loss/test is the mean squared error; R² is 1 - SSE/SST over the test set.
    key = "R2/test"
    metrics = ("Loss/test", "MAE/test", "R2/test")
    columns = (("Loss/test", "test loss", "{:.4f}"), ("MAE/test", "test MAE", "{:.4g}"),
               ("R2/test", "R²", "{:.4f}"))

    def line(self, m):
        return f"mse {m['Loss/test']:.4g}  mae {m['MAE/test']:.4g}  r2 {m['R2/test']:.4f}"

    def headline(self, m):
        return (f"test R² {m['R2/test']:.4f}  mse {m['Loss/test']:.4g}",
                f"mae {m['MAE/test']:.4g}")


CLASSIFICATION, LANGUAGE, REGRESSION = ClassificationReport(), LanguageReport(), RegressionReport()
REPORTS = (LANGUAGE, REGRESSION, CLASSIFICATION)  # the first that claims a run's metrics


def report_for(metrics) -> Report:
    """The report whose identifying tag the metrics (a dict, or a run's tags) hold."""
    return next((r for r in REPORTS if r.claims(metrics)), CLASSIFICATION)


def table_columns() -> list[tuple[str, str, str]]:
    """Every report's run-table columns, each tag once, in REPORTS' order of tasks."""
    seen, out = set(), []
    for report in (CLASSIFICATION, LANGUAGE, REGRESSION):
        for column in report.columns:
            if column[0] not in seen:
                seen.add(column[0])
                out.append(column)
    return out
