"""The model card, typed: what a checkpoint says about itself, and ``card.json``'s schema in one place.

:class:`ModelCard` is a frozen dataclass of typed sections — :class:`DataInfo`, :class:`SplitInfo`,
:class:`TrainingInfo`, :class:`Metrics` — so that code reads ``card.metrics.verdict`` and a
renamed field is an error where it is written, not a ``KeyError`` on a page at run time.
:meth:`ModelCard.from_json` checks every field (the one schema check) and :meth:`ModelCard.to_json`
writes today's field names (``metrics.model.accuracy``, ``split.test``, ``metrics.model.alerts``…):
cards written before still load, other tools read them, and a field this code does not know is
kept (each section's ``extra``) and written back unchanged.

Every problem raises :class:`CheckpointError` (a ``ValueError``) whose message names the card and
the field and says what to do.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from models.architectures import ModelSpec

FORMAT_VERSION = 1
#: The weights' dtypes a card may name.
WEIGHTS_DTYPE_NAMES = ("float16", "float32")
TRAIN_COMMAND = "python -m models.train"
#: Top-level fields every card has (the trainer writes them all; DESIGN.md §3).
REQUIRED_FIELDS = (
    "task",
    "arch",
    "image",
    "image_size",
    "data",
    "split",
    "training",
    "metrics",
    "spec",
    "format_version",
    "weights_sha256",
    "weights_dtype",
    "command",
)
#: The kind of each top-level field, in the order they are checked.
_TOP_KINDS = {
    "task": "str",
    "arch": "str",
    "image": "str",
    "image_size": "int",
    "data": "object",
    "split": "object",
    "training": "object",
    "metrics": "object",
    "spec": "object",
    "format_version": "int",
    "weights_sha256": "str",
    "weights_dtype": "str",
    "command": "str",
}
#: Fields every section must have: (section, field).
_NESTED_REQUIRED = (
    ("data", "source"),
    ("data", "first"),
    ("data", "last"),
    ("training", "epochs"),
    ("training", "seconds"),
    ("training", "seed"),
    ("training", "versions"),
    ("metrics", "model"),
    ("metrics", "baseline"),
)
#: Top-level fields that repeat the spec's (kept in the JSON for other tools).
SPEC_FIELDS = ("task", "arch", "image", "image_size")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_RESTORE = f"restore the card that came with the weights or retrain with {TRAIN_COMMAND}"


class CheckpointError(ValueError):
    """A checkpoint cannot be saved or loaded; the message says which file and what to do."""


# --------------------------------------------------------------------------- field checks


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: A field's kind → (the check its value must pass, the words for it).
_KINDS: dict[str, tuple[Any, str]] = {
    "str": (lambda value: isinstance(value, str), "a str"),
    "int": (lambda value: isinstance(value, int) and not isinstance(value, bool), "an int"),
    "number": (lambda value: isinstance(value, int | float) and not isinstance(value, bool), "a number"),
    "bool": (lambda value: isinstance(value, bool), "a bool"),
    "object": (lambda value: isinstance(value, dict), "an object"),
    "list": (lambda value: isinstance(value, list), "a list"),
}


class _Reader:
    """Reads one section of a card, checking each field's kind; remembers which fields it read."""

    def __init__(self, where: str, section: str, raw: Mapping[str, Any]) -> None:
        self.where, self.section, self.raw, self.read = where, section, raw, set()

    def _name(self, key: str) -> str:
        return f"{self.section}.{key}" if self.section else key

    def get(self, key: str, kind: str, *, required: bool = False) -> Any:
        self.read.add(key)
        if key not in self.raw:
            if required:
                raise CheckpointError(
                    f"{self.where} lacks required field(s) {self._name(key)}: it was not written by {TRAIN_COMMAND}; "
                    "restore the card that came with the weights or retrain"
                )
            return None
        value = self.raw[key]
        check, words = _KINDS[kind]
        if not check(value):
            raise CheckpointError(
                f"{self.where}: field {self._name(key)} must be {words}, got {_short(value)}; {_RESTORE}"
            )
        return value

    def extra(self) -> dict[str, Any]:
        """The fields this code does not know, kept as they are."""
        return {key: value for key, value in self.raw.items() if key not in self.read}


def _written(fields: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """A section as JSON: its known fields that are set, then the extra ones."""
    return {**{key: value for key, value in fields.items() if value is not None}, **extra}


# --------------------------------------------------------------------------- sections


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """Where the samples came from (``card.data``).

    Attributes:
        source: what was loaded (``demo:ACME``, ``upload:<sha256>``, a ticker, a path).
        first, last: the first and last bar's ISO timestamps.
        layout, interval: the file layout detected and the bar interval.
        synthetic: the demo market's synthetic prices.
        samples: how many samples the task cut.
        extra: fields this code does not know.
    """

    source: str
    first: str
    last: str
    layout: str | None = None
    interval: str | None = None
    synthetic: bool | None = None
    samples: int | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str) -> DataInfo:
        read = _Reader(where, "data", raw)
        return cls(
            source=read.get("source", "str", required=True),
            first=read.get("first", "str", required=True),
            last=read.get("last", "str", required=True),
            layout=read.get("layout", "str"),
            interval=read.get("interval", "str"),
            synthetic=read.get("synthetic", "bool"),
            samples=read.get("samples", "int"),
            extra=read.extra(),
        )

    @property
    def pooled(self) -> tuple[Mapping[str, Any], ...]:
        """The sources pooled into the training split (``python -m models.train --pool``), if any."""
        return tuple(self.extra.get("pooled") or ())

    @property
    def trained_on(self) -> str:
        """What the model learnt from, in words: the source, and each pooled source with its windows."""
        return self.trained_on_named(str)

    def trained_on_named(self, name: Callable[[str], str]) -> str:
        """:attr:`trained_on` with each source written as ``name(source)`` (a page's label for it)."""
        if not self.pooled:
            return name(self.source)
        others = ", ".join(f"{name(entry['source'])} ({entry['samples']:,} windows)" for entry in self.pooled)
        return f"{name(self.source)}, with the same training period of {others} pooled in"

    def to_json(self) -> dict[str, Any]:
        fields = {key: getattr(self, key) for key in ("source", "layout", "interval", "first", "last")}
        return _written({**fields, "synthetic": self.synthetic, "samples": self.samples}, self.extra)


@dataclasses.dataclass(frozen=True)
class SplitInfo:
    """The chronological split (``card.split``): shares, purged samples and each part's size."""

    fractions: tuple[float, ...] | None = None
    purged_at_each_boundary: int | None = None
    train: int | None = None
    validation: int | None = None
    test: int | None = None
    chronological: bool | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str) -> SplitInfo:
        read = _Reader(where, "split", raw)
        fractions = read.get("fractions", "list")
        return cls(
            fractions=None if fractions is None else tuple(fractions),
            purged_at_each_boundary=read.get("purged_at_each_boundary", "int"),
            train=read.get("train", "int"),
            validation=read.get("validation", "int"),
            test=read.get("test", "int"),
            chronological=read.get("chronological", "bool"),
            extra=read.extra(),
        )

    def to_json(self) -> dict[str, Any]:
        fields = dataclasses.asdict(self)
        fields.pop("extra")
        if self.fractions is not None:
            fields["fractions"] = list(self.fractions)
        return _written(fields, self.extra)


@dataclasses.dataclass(frozen=True)
class TrainingInfo:
    """How the weights were trained (``card.training``).

    Attributes:
        epochs: epochs run. seconds: wall time. seed: the run's seed.
        versions: library versions and the CPU instruction set (``cpu_capability``).
        best_epoch: the epoch whose weights were kept. history: one entry per epoch
            (``epoch``, ``train_loss``, ``validation``, ``seconds``).
        interrupted: Ctrl-C ended the run.
        extra: the rest as written (``max_epochs``, ``patience``, ``lr``, ``optimizer``, ``init_from``…).
    """

    epochs: int
    seconds: float
    seed: int
    versions: Mapping[str, Any]
    best_epoch: int | None = None
    history: tuple[Mapping[str, Any], ...] | None = None
    interrupted: bool | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str) -> TrainingInfo:
        read = _Reader(where, "training", raw)
        history = read.get("history", "list")
        return cls(
            epochs=read.get("epochs", "int", required=True),
            seconds=read.get("seconds", "number", required=True),
            seed=read.get("seed", "int", required=True),
            versions=read.get("versions", "object", required=True),
            best_epoch=read.get("best_epoch", "int"),
            history=None if history is None else tuple(history),
            interrupted=read.get("interrupted", "bool"),
            extra=read.extra(),
        )

    def to_json(self) -> dict[str, Any]:
        fields = {
            "epochs": self.epochs,
            "best_epoch": self.best_epoch,
            "seconds": self.seconds,
            "seed": self.seed,
            "interrupted": self.interrupted,
            "history": None if self.history is None else list(self.history),
            "versions": dict(self.versions),
        }
        return _written(fields, self.extra)


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Test-split figures against the baselines (``card.metrics``).

    Attributes:
        model, baseline: the model's and the baseline's figures, by name (``accuracy``,
            ``accuracy_ci95``, ``rmse_log``, ``alerts``…).
        verdict: one sentence comparing them. beats_baseline: the comparison's answer.
        n: test samples.
        extra: the task's other figures (``rmse_ratio``, ``offset_correction``…).
    """

    model: Mapping[str, Any]
    baseline: Mapping[str, Any]
    verdict: str | None = None
    beats_baseline: bool | None = None
    n: int | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str) -> Metrics:
        read = _Reader(where, "metrics", raw)
        return cls(
            model=read.get("model", "object", required=True),
            baseline=read.get("baseline", "object", required=True),
            verdict=read.get("verdict", "str"),
            beats_baseline=read.get("beats_baseline", "bool"),
            n=read.get("n", "int"),
            extra=read.extra(),
        )

    def to_json(self) -> dict[str, Any]:
        fields = {"n": self.n, "model": dict(self.model), "baseline": dict(self.baseline)}
        fields.update(beats_baseline=self.beats_baseline, verdict=self.verdict)
        return _written(fields, self.extra)

    @property
    def offset_correction(self) -> Mapping[str, Any] | None:
        """The regressor's fitted offset correction (``gap_avg``, ``deviation``, ``sign``…), or ``None``."""
        return self.extra.get("offset_correction")


# --------------------------------------------------------------------------- the card


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """A checkpoint's card (see the module docstring).

    Attributes:
        spec: the model (task, architecture, image, sizes).
        data, split, training, metrics: the typed sections.
        command: the command line that trained the weights (rerun it to reproduce them).
        weights_sha256, weights_dtype: the weights file's digest and floating dtype.
        format_version: the card format.
        status: ``"complete"``, ``"stopped"``, ``"interrupted"`` or ``"training"`` (``None`` if unsaid).
        extra: top-level fields this code does not know.
    """

    spec: ModelSpec
    data: DataInfo
    split: SplitInfo
    training: TrainingInfo
    metrics: Metrics
    command: str
    weights_sha256: str
    weights_dtype: str
    format_version: int = FORMAT_VERSION
    status: str | None = None
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def arch(self) -> str:
        return self.spec.arch

    @property
    def image(self) -> str:
        return self.spec.image

    @property
    def image_size(self) -> int:
        return self.spec.image_size

    @classmethod
    def from_json(cls, raw: Any, where: str) -> ModelCard:
        """Check every field of a parsed ``card.json`` and build the card; ``where`` names it in messages.

        Raises:
            CheckpointError: a field is missing, of the wrong type, or contradicts another.
        """
        if not isinstance(raw, dict):
            raise CheckpointError(f"{where} must hold a JSON object, got {type(raw).__name__}; {_RESTORE}")
        missing = [name for name in REQUIRED_FIELDS if name not in raw]
        missing += [
            f"{section}.{name}"
            for section, name in _NESTED_REQUIRED
            if isinstance(raw.get(section), dict) and name not in raw[section]
        ]
        if missing:
            raise CheckpointError(
                f"{where} lacks required field(s) {', '.join(missing)}: it was not written by {TRAIN_COMMAND}; "
                "restore the card that came with the weights or retrain"
            )
        read = _Reader(where, "", raw)
        top = {name: read.get(name, kind, required=True) for name, kind in _TOP_KINDS.items()}
        status = read.get("status", "str")
        data = DataInfo.from_json(top["data"], where)
        training = TrainingInfo.from_json(top["training"], where)
        metrics = Metrics.from_json(top["metrics"], where)
        split = SplitInfo.from_json(top["split"], where)
        _check_fields(top, where)
        spec = _spec(top["spec"], where)
        for name in SPEC_FIELDS:
            if top[name] != getattr(spec, name):
                raise CheckpointError(
                    f"{where}: {name} is {top[name]!r} but spec.{name} is {getattr(spec, name)!r}; "
                    f"the card was edited by hand — restore it or retrain with {TRAIN_COMMAND}"
                )
        return cls(
            spec=spec,
            data=data,
            split=split,
            training=training,
            metrics=metrics,
            command=top["command"],
            weights_sha256=top["weights_sha256"],
            weights_dtype=top["weights_dtype"],
            format_version=top["format_version"],
            status=status,
            extra=read.extra(),
        )

    def to_json(self) -> dict[str, Any]:
        """The card as ``card.json`` holds it: today's field names, unknown fields kept."""
        fields: dict[str, Any] = {
            "data": self.data.to_json(),
            "split": self.split.to_json(),
            "command": self.command,
            "status": self.status,
            "metrics": self.metrics.to_json(),
            "training": self.training.to_json(),
            **{name: getattr(self.spec, name) for name in SPEC_FIELDS},
            "spec": self.spec.to_dict(),
            "format_version": self.format_version,
            "weights_sha256": self.weights_sha256,
            "weights_dtype": self.weights_dtype,
        }
        return _written(fields, self.extra)


def _check_fields(top: Mapping[str, Any], where: str) -> None:
    """The format, the weights' digest and dtype, and the command, as a card must have them."""
    if top["format_version"] > FORMAT_VERSION or top["format_version"] < 1:
        raise CheckpointError(
            f"{where} has format_version {top['format_version']}, but this code reads format {FORMAT_VERSION}; "
            f"update chart-xai or retrain with {TRAIN_COMMAND}"
        )
    if not _SHA256.fullmatch(top["weights_sha256"]):
        raise CheckpointError(
            f"{where}: weights_sha256 must be 64 lowercase hex digits, got {_short(top['weights_sha256'])}; {_RESTORE}"
        )
    if top["weights_dtype"] not in WEIGHTS_DTYPE_NAMES:
        raise CheckpointError(
            f"{where}: weights_dtype must be one of {sorted(WEIGHTS_DTYPE_NAMES)}, "
            f"got {_short(top['weights_dtype'])}; {_RESTORE}"
        )
    if not top["command"].strip():
        raise CheckpointError(
            f"{where}: field command is empty; it must record the command line that trained the model"
        )


def _spec(fields: Mapping[str, Any], where: str) -> ModelSpec:
    try:
        return ModelSpec(**fields)
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{where}: the model spec is not valid: {error}; retrain with {TRAIN_COMMAND} or restore the card"
        ) from error


def same_test_split(card: ModelCard, other: ModelCard) -> bool:
    """Whether two cards were tested on the very same samples: only then do their test metrics compare.

    Same task, data source and date range, and the same split sizes.
    """
    same_data = all(
        getattr(card.data, key) == getattr(other.data, key) for key in ("source", "first", "last", "samples")
    )
    return card.task == other.task and same_data and card.split == other.split
