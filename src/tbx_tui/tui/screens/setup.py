"""The setup form: one row per RunConfig field, validated as you type.

Rows come from RunConfig's field metadata (choices -> Select, bool -> Switch, the rest ->
Input), so the form, the CLI and the TOML file accept exactly the same values. Dismisses
with the RunConfig to train, or None.
"""

from __future__ import annotations

import threading

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from rich.markup import escape
from textual.suggester import SuggestFromList
from textual.widgets import Button, Footer, Input, Label, Select, Static, Switch

from ... import catalog
from ...safe_text import clean
from ...config import (FIELDS, GPT_SHAPE, IMAGE_ONLY, LM_ONLY, ConfigError, RunConfig,
                       check_field, field_type)
from ...sweep.definition import Sweep, SweepError
from ...sweep.space import NOT_SWEPT, Choice, Range, parse_param
from ...refs import (BUILTIN_DATA, BUILTIN_MODELS, LM_MODELS, TEXT_DATA, is_hf_model,
                     is_lm_model)
from ..widgets.ordered_input import OrderedInput
from .lm_facts import hf_facts, import_engine, text_facts

MODEL_NAMES = (*BUILTIN_MODELS, *LM_MODELS, "hf:")  # the model field's completions
_LABELS = {"lr": "learning rate", "lr_schedule": "lr schedule", "lr_step_epochs": "lr step every",
           "lr_gamma": "lr decay factor", "amp": "bf16 autocast", "data_dir": "data dir",
           "logdir": "log dir", "name": "run name", "max_steps": "max steps",
           "log_every": "log every", "hist_every": "histograms every",
           "batch_size": "batch size", "weight_decay": "weight decay", "data": "dataset",
           "init_from": "init from", "head_lr": "head lr", "nproc": "processes",
           "gpt_preset": "gpt preset", "n_layer": "layers", "n_head": "heads",
           "n_embd": "width", "sample_tokens": "sample tokens", "lora_rank": "LoRA rank",
           "lora_alpha": "LoRA alpha", "lora_targets": "LoRA targets"}


def detect_devices(done) -> None:
    """Which devices torch sees, found on a thread: the UI thread must not run torch."""
    def probe():
        found = ["cpu"]
        try:
            import torch

            if torch.cuda.is_available():
                found.append("cuda")
            if torch.backends.mps.is_available():
                found.append("mps")
        except Exception:
            pass
        done(found)
        try:  # while the user reads the form: torch's first optimizer imports
            import torch._dynamo  # noqa: F401  # it (~4 s here), delaying the run's start
        except Exception:
            pass

    threading.Thread(target=probe, name="tbx-devices", daemon=True).start()


def model_facts(model: str, shape, classes: int, frozen: str, done) -> None:
    """A model reference's parameter count and, with ``frozen`` patterns, its trainable /
    frozen split (or why it gives no model), found on a thread by building it: the UI
    thread must not run torch."""
    def probe():
        try:
            import_engine()
            from ...engine.run.finetune import InitReport, freeze
            from ...engine.vision.models import build_model, count_parameters

            built = build_model(model, shape, classes)
            text = f"{count_parameters(built):,} parameters"
            if frozen:
                split = InitReport()
                freeze(built, frozen, split)
                text += f" ({split.trainable:,} trainable, {split.frozen:,} frozen)"
            done(model, text)
        except Exception as e:  # ModelUnusable, InitUnusable, or the user's code
            done(model, f"✗ {e}")

    threading.Thread(target=probe, name="tbx-model-facts", daemon=True).start()


def torchvision_names(done) -> None:
    """tv:NAME completions for the model field, listed on a thread (torchvision imports
    torch)."""
    def probe():
        try:
            import_engine()
            from ...engine.vision.models import torchvision_classifiers

            done([f"tv:{n}" for n in torchvision_classifiers()])
        except Exception:
            pass

    threading.Thread(target=probe, name="tbx-tv-names", daemon=True).start()


def _swept_text(p) -> str:
    if isinstance(p, Choice):
        return f"{len(p.values)} values"
    return f"{p.low:g}..{p.high:g}" + (" (log)" if p.log else "")


class SetupScreen(Screen[RunConfig | None]):
    BINDINGS = [
        Binding("ctrl+s", "start", "Start"),
        Binding("escape", "cancel", "Back"),
    ]

    def __init__(self, config: RunConfig, can_cancel: bool = False):
        super().__init__()
        self.initial = config
        self.can_cancel = can_cancel
        self.errors: dict[str, str] = {}
        self.devices = ["cpu"]
        self._facts: dict[str, str] = {}  # "model\0data" -> its parameter count, or why not

    def compose(self) -> ComposeResult:
        with Horizontal(id="setup"):
            with Vertical(id="form-side"):
                with VerticalScroll(id="form", can_focus=False):  # tab goes to the fields
                    for name, f in FIELDS.items():
                        yield self._row(name, f)
                yield Static(id="where")
            with Vertical(id="about"):
                yield Static(id="info")
                yield Button("Start training", id="start", variant="primary")
                yield Static("Enter in any field, ctrl+s or the button starts. "
                             "Every value is checked as you type.", id="hint")
        yield Footer()

    def _row(self, name: str, f) -> Horizontal:
        value = getattr(self.initial, name)
        kind, choices = field_type(name), f.metadata["choices"]
        if name == "device":
            widget = Select([(d, d) for d in ("auto", "cpu")], value=value if value in
                            ("auto", "cpu") else "auto", allow_blank=False, id=f"f-{name}",
                            compact=True)
        elif choices:
            widget = Select([(c, c) for c in choices], value=value, allow_blank=False,
                            id=f"f-{name}", compact=True)
        elif kind is bool:
            widget = Switch(value=value, id=f"f-{name}")
        else:
            suggester = SuggestFromList(MODEL_NAMES) if name == "model" else \
                SuggestFromList([*BUILTIN_DATA, "folder:", "npz:", *TEXT_DATA, "text:"]) \
                if name == "data" else None
            widget = OrderedInput(value=str(value), id=f"f-{name}", suggester=suggester,
                           placeholder=f.metadata["help"], compact=True)
        label = Label(_LABELS.get(name, name.replace("_", " ")), classes="label")
        note = Static(f.metadata["help"], id=f"e-{name}", classes="note")
        row = Horizontal(label, Vertical(widget, note, classes="cell"), id=f"row-{name}",
                         classes="row")
        # A language model's settings show when one is picked, an image model's otherwise
        kind = "lm-row" if name in LM_ONLY else "image-row" if name in IMAGE_ONLY else ""
        if kind:
            row.add_class(kind)
            row.display = (kind == "lm-row") == self.initial.is_lm and not (
                self.initial.is_hf and name in GPT_SHAPE)
        return row

    def _show_rows_for(self, model: str) -> None:
        lm, hf = is_lm_model(model), is_hf_model(model)
        for row in self.query(".lm-row"):  # an hf: model keeps its own shape
            row.display = lm and not (hf and row.id[len("row-"):] in GPT_SHAPE)
        for row in self.query(".image-row"):
            row.display = not lm

    def on_mount(self) -> None:
        detect_devices(lambda found: self.app.call_from_thread(self._devices_found, found))
        torchvision_names(lambda names: self.app.call_from_thread(self._tv_names, names))
        self._refresh_info()
        self.query_one("#start", Button).focus()  # Enter starts; tab walks the fields
        self.watch(self.query_one("#form"), "scroll_y", lambda *_: self._where(), init=False)
        self.call_after_refresh(self._where)

    # ---- where the user is: a marker a plain capture keeps, and the form's position ----
    MARK = "▸ "

    def on_descendant_focus(self, event) -> None:
        row = next((w for w in event.widget.ancestors_with_self
                    if isinstance(w, Horizontal) and w.has_class("row")), None)
        for each in self.query(".row").results(Horizontal):
            label = each.query_one(".label", Label)
            text = str(label.content)
            marked = text.startswith(self.MARK)
            if (each is row) != marked:
                label.update(self.MARK + text if not marked else text[len(self.MARK):])
                each.set_class(each is row, "-current")  # its help shows (app.tcss)
        self.call_after_refresh(self._where)

    def _where(self) -> None:
        """"fields 3–21 of 41": which rows the form shows now."""
        form = self.query_one("#form", VerticalScroll)
        rows = [r for r in self.query(".row").results(Horizontal) if r.display]
        top, bottom = form.scroll_y, form.scroll_y + form.scrollable_content_region.height
        seen = [i for i, r in enumerate(rows, 1)
                if r.virtual_region.y >= top and r.virtual_region.bottom <= bottom]
        where = "" if not seen else f"fields {seen[0]}–{seen[-1]} of {len(rows)}" + (
            " · tab or scroll for more" if len(seen) < len(rows) else "")
        self.query_one("#where", Static).update(where)

    def _tv_names(self, names: list[str]) -> None:
        self.query_one("#f-model", Input).suggester = SuggestFromList(
            [*MODEL_NAMES, *names], case_sensitive=False)

    def _model_facts(self, model: str, text: str) -> None:
        self._facts[model] = text
        self._refresh_info()

    def _devices_found(self, found: list[str]) -> None:
        self.devices = found
        select = self.query_one("#f-device", Select)
        wanted = self.initial.device
        select.set_options([(d, d) for d in ["auto", *found]])
        select.value = wanted if wanted in found else "auto"
        self._refresh_info()

    # ---- values ------------------------------------------------------------------------
    def _raw(self, name: str):
        """The field's value, or a sweep's Choice/Range when it holds a list or a range
        (``1e-4,3e-4``, ``1e-5..1e-2:log``: tbx_tui/sweep/space.py)."""
        widget = self.query_one(f"#f-{name}")
        if isinstance(widget, Input):
            text = widget.value.strip()
            swept = parse_param(name, text) if name not in NOT_SWEPT else None
            if swept is not None:
                return swept
            kind = field_type(name)
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
            return widget.value
        return widget.value

    def validate(self, name: str) -> bool:
        note = self.query_one(f"#e-{name}", Static)
        try:
            value = self._raw(name)
            if isinstance(value, (Choice, Range)):
                self.errors.pop(name, None)
                note.update(clean(f"swept: {_swept_text(value)} (Start sweep)"))
                note.remove_class("error")
                note.add_class("swept")
                self._start_label()
                return True
            check_field(name, value)
        except ValueError as e:  # int()/float() text, or a rule (ConfigError)
            kind = field_type(name).__name__
            msg = e.rule if isinstance(e, ConfigError) else \
                f"must be {'a whole number' if kind == 'int' else 'a number'}"
            self.errors[name] = msg
            note.update(clean(f"✗ {msg}"))
            note.add_class("error")
        else:
            self.errors.pop(name, None)
            note.update(FIELDS[name].metadata["help"])
            note.remove_class("error", "swept")
        self._start_label()
        return name not in self.errors

    def _start_label(self) -> None:
        # The button stays pressable: pressing it (or Enter) names and shows the first bad
        # field, which may be scrolled out of view on a small terminal.
        start = self.query_one("#start", Button)
        n = len(self.errors)
        swept = bool(self._swept())
        start.label = f"✗ {n} field{'s' if n > 1 else ''} to fix" if n else \
            "Start sweep" if swept else "Start training"
        start.variant = "error" if n else "primary"

    def config(self) -> RunConfig | None:
        if not all([self.validate(n) for n in FIELDS]):
            return None
        values = {n: self._raw(n) for n in FIELDS}
        swept = [v for v in values.values() if isinstance(v, (Choice, Range))]
        try:
            if swept:  # a sweep: each trial an ordinary run of these settings
                fixed = {n: v for n, v in values.items()
                         if not isinstance(v, (Choice, Range)) and n not in ("logdir", "name")
                         and v != FIELDS[n].default}
                return Sweep(tuple(swept), fixed)
            return RunConfig(**values)
        except SweepError as e:
            self.notify(clean(str(e)), severity="error")
            return None
        except ConfigError as e:  # fields that do not go together (gpt on images)
            self.errors[e.field_name] = e.rule
            note = self.query_one(f"#e-{e.field_name}", Static)
            note.update(clean(f"✗ {e.rule}"))
            note.add_class("error")
            return None

    def _info(self, markup: str) -> None:
        """The side panel: what it says comes from probes that build the user's model
        and read their data, so their errors' text is shown as data."""
        self.query_one("#info", Static).update(clean(markup, multiline=True))

    def _swept(self) -> list[str]:
        """The fields that hold a list or a range."""
        out = []
        for name in FIELDS:
            try:
                if isinstance(self._raw(name), (Choice, Range)):
                    out.append(name)
            except ValueError:
                pass
        return out

    def _refresh_info(self) -> None:
        try:
            model, data = self._raw("model"), self._raw("data")
            data_dir = self.query_one("#f-data_dir", Input).value or "./data"
        except (ValueError, Exception):  # half-typed values: keep the last info
            return
        swept = self._swept()
        if swept:
            self._info(escape(
                f"a sweep over {', '.join(swept)}: each trial is a run of its own "
                "(tbx-tui sweep; Optuna). All lists: every combination once; a range: TPE, "
                "20 trials. Its trials show on the dashboard; w opens the sweep view."))
            return
        if is_lm_model(model):
            self._refresh_lm(model, data, data_dir)
            return
        if data not in catalog.DATASETS:  # the user's data: counted, not loaded
            self._refresh_user_data(model, data)
            return
        info = catalog.DATASETS[data]
        c, h, w = info.shape
        frozen = self.query_one("#f-freeze", Input).value.strip()
        if model in BUILTIN_MODELS and not frozen:
            params = f"{catalog.parameter_count(model, info.shape, info.classes):,} parameters"
        elif "model" in self.errors:
            params = "✗ " + self.errors["model"]
        else:  # tv:, a file, a module, or a freeze: built on a thread, once per choice
            key = f"{model}\0{data}\0{frozen}"
            if key not in self._facts:
                self._facts[key] = "counting parameters…"
                model_facts(model, info.shape, info.classes, frozen, lambda _, text, k=key:
                            self.app.call_from_thread(self._model_facts, k, text))
            params = self._facts[key]
        device = self.query_one("#f-device", Select).value
        resolved = device if device != "auto" else self.devices[-1]
        self._info(
            f"[b]{escape(model)}[/b] for {data}: {escape(params)}\n\n"
            f"[b]{data}[/b]: {info.note}\n{info.train:,} train / {info.test:,} test, "
            f"{c}×{h}×{w}, {info.classes} classes\n{catalog.files_status(data, data_dir)}\n\n"
            f"[b]device[/b]: {resolved}" + (" (auto)" if device == "auto" else "") +
            f"\navailable: {', '.join(self.devices)}")

    def _refresh_lm(self, model: str, data: str, data_dir: str) -> None:
        """gpt: its parameter count (arithmetic, no torch) once the corpus's vocabulary
        is known, and the corpus's size in tokens, read on a thread."""
        try:
            run = RunConfig(**{n: self._raw(n) for n in FIELDS})
            shape = run.gpt_shape()
        except (ValueError, Exception):  # half-typed, or not text data yet
            self._info(
                f"[b]{escape(model)}[/b]: a language model; pick text data: "
                f"{', '.join(TEXT_DATA)} or text:PATH")
            return
        # What reads the text: char, byte, or the hf: model's own tokenizer.
        tokenizer = run.model.strip() if run.is_hf else run.text_tokenizer
        key = f"{data}\0{data_dir}\0{tokenizer}"
        if key not in self._facts:
            self._facts[key] = None
            text_facts(data, data_dir, tokenizer, lambda facts, k=key:
                       self.app.call_from_thread(self._model_facts, k, facts))
        facts = self._facts[key]
        if run.is_hf:
            self._refresh_hf(run, facts)
            return
        layers, heads, width, context = shape
        if facts is None:
            corpus, params = "reading the corpus…", "counted once the vocabulary is known"
        elif isinstance(facts, str):
            corpus, params = f"✗ {facts}", "-"
        else:
            tokens, vocab = facts
            corpus = f"{tokens:,} tokens, {vocab} symbols ({tokenizer} tokenizer)"
            # per block: 12·d² + 13·d; embeddings (the head is tied to them) and ln_f
            count = layers * (12 * width * width + 13 * width) + (vocab + context) * width \
                + 2 * width
            params = f"{count:,} parameters"
        self._info(
            f"[b]{escape(model)}[/b] {layers} layer{'s' if layers != 1 else ''} × {heads} "
            f"head{'s' if heads != 1 else ''} × {width} wide, "
            f"context {context}: {escape(params)}\n\n[b]{escape(data)}[/b]\n"
            f"{escape(corpus)}\n\n[b]device[/b]: {', '.join(self.devices)}")

    def _refresh_hf(self, run: RunConfig, facts) -> None:
        """An hf: model's shape and size (read on a thread from its config) and the
        corpus in its tokens."""
        ref = run.model.strip()
        key = f"hf\0{ref}"
        if key not in self._facts:
            self._facts[key] = "reading its config…"
            hf_facts(ref, lambda text, k=key: self.app.call_from_thread(self._model_facts, k,
                                                                        text))
        if facts is None:
            corpus = "reading the corpus with the model's tokenizer…"
        elif isinstance(facts, str):
            corpus = f"✗ {facts}"
        else:
            corpus = f"{facts[0]:,} tokens ({facts[1]:,}-token vocabulary)"
        self._info(
            f"[b]{escape(ref)}[/b] (Hugging Face)\n{escape(self._facts[key])}\n\n"
            f"[b]{escape(run.data)}[/b]\n{escape(corpus)}\n\n"
            f"[b]device[/b]: {', '.join(self.devices)}")

    def _refresh_user_data(self, model: str, data: str) -> None:
        if "data" in self.errors:
            facts, shape, classes = "✗ " + self.errors["data"], None, None
        else:
            try:
                fraction = float(self.query_one("#f-val_fraction", Input).value)
            except ValueError:
                fraction = 0.1
            facts, shape, classes = catalog.user_data_facts(data, fraction)
        if shape and classes and model in BUILTIN_MODELS:
            params = f"{catalog.parameter_count(model, shape, classes):,} parameters"
        else:
            params = "parameters counted when the run starts"
        self._info(
            f"[b]{escape(model)}[/b]: {escape(params)}\n\n[b]{escape(data)}[/b]\n"
            f"{escape(facts)}\n\n[b]device[/b]: {', '.join(self.devices)}")

    # ---- events ------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "f-model":
            self._show_rows_for(event.value)
        self.validate(event.input.id[2:])
        self._refresh_info()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.validate(event.select.id[2:])
        self._refresh_info()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    def action_start(self) -> None:
        config = self.config()
        if config is None and not self.errors:  # a sweep's definition: said in a toast
            return
        if config is None:
            first = next(n for n in FIELDS if n in self.errors)  # the first in the form
            self.notify(f"{first}: {self.errors[first]}", severity="error")
            self.query_one(f"#f-{first}").focus()
            return
        self.dismiss(config)

    def action_cancel(self) -> None:
        if self.can_cancel:
            self.dismiss(None)
        else:  # nothing to go back to; quitting on Esc would throw the edits away
            self.notify("this is the first form: ctrl+q quits", timeout=3)
