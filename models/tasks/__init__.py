"""The task objects: one per question a model answers, and the registry that names them.

* :class:`~models.tasks.up_day.UpDayTask` (``"nifty"``) — up or down day, from the first hour.
* :class:`~models.tasks.rest_of_day.RestOfDayTask` (``"nifty-rest"``) — after the first hour, does
  the rest of the day rise?
* :class:`~models.tasks.next_hour.NextHourTask` (``"ticker"``) — the next hour's close, with alerts.

Code that depends on the kind of model asks its task (:func:`task_named`, :func:`task_of`), never
compares task names. A new task is one module with a :class:`~models.tasks.base.Task` subclass and
one line in :data:`TASKS`.
"""

from __future__ import annotations

from typing import Any

from models.tasks.base import ExplainedOutput, Task, batched_outputs, check_direction
from models.tasks.next_hour import Forecast, ForecastDirection, NextHourTask
from models.tasks.rest_of_day import RestOfDayTask
from models.tasks.up_day import DayCall, UpDayTask, class_targets

#: Every task, by its name (the card's ``task`` field and ``--task`` on the command line).
TASKS: dict[str, Task] = {task.name: task for task in (UpDayTask(), NextHourTask(), RestOfDayTask())}
#: The task names, in registry order.
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def task_named(name: Any) -> Task:
    """The task called ``name``.

    Raises:
        ValueError: no task has that name.
    """
    task = TASKS.get(name) if isinstance(name, str) else None
    if task is None:
        raise ValueError(f"task must be one of {TASK_NAMES}, got {name!r}")
    return task


def task_of(model: Any) -> Task:
    """The task of a model built by :func:`models.architectures.build_model` (read from its ``spec``).

    Any other module is taken as a classifier of ``(N, C)`` logits (the up-day task's contract), so
    the engine explains a researcher's own classifier the same way.
    """
    spec = getattr(model, "spec", None)
    return task_named(spec.task) if spec is not None else TASKS[UpDayTask.name]


__all__ = [
    "TASKS",
    "TASK_NAMES",
    "DayCall",
    "ExplainedOutput",
    "Forecast",
    "ForecastDirection",
    "NextHourTask",
    "RestOfDayTask",
    "Task",
    "UpDayTask",
    "batched_outputs",
    "check_direction",
    "class_targets",
    "task_named",
    "task_of",
]
