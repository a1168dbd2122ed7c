"""Facts about a language-model run for the setup form's side panel, found on threads
(a corpus can be large; an hf: model's tokenizer and shape need transformers and torch,
which the UI thread must not run)."""

from __future__ import annotations

import threading

_ENGINE_IMPORT = threading.Lock()


def import_engine() -> None:
    """Import tbx_tui.engine whole, one thread at a time: two probes importing its
    modules at once met the package's import cycle and Python broke the "deadlock" by
    failing one of them (seen here: the form showed it)."""
    with _ENGINE_IMPORT:
        import tbx_tui.engine  # noqa: F401


def text_facts(data: str, data_dir: str, tokenizer: str, done) -> None:
    """(tokens, symbols) of a text corpus, or why it cannot be read, on a thread (a
    corpus can be large). ``tokenizer``: char, byte, or an hf: model reference."""
    def probe():
        from pathlib import Path

        from ...data_files import shakespeare_file, text_files

        try:
            if data.strip() == "shakespeare_char":
                files = [shakespeare_file(data_dir)]
                if not files[0].is_file():
                    done("not downloaded yet: the run downloads it into the data dir")
                    return
            else:  # the same files the run will read
                files = text_files(Path(data.strip()[len("text:"):]).expanduser())
            if tokenizer.startswith("hf:"):  # its own tokenizer, as the run will
                import_engine()
                from ...engine.language.hf import load_tokenizer
                from ...engine.language.text import Tokenizer

                tok = Tokenizer("hf", hf=load_tokenizer(tokenizer, download=False))
                text = "\n".join(p.read_text("utf-8") for p in files)
                done((len(tok.encode(text)), tok.size))
                return
            if tokenizer == "byte":
                done((sum(p.stat().st_size for p in files) + len(files) - 1, 256))
                return
            text = "\n".join(p.read_text("utf-8") for p in files)
            done((len(text), len(set(text))))
        except (OSError, UnicodeDecodeError) as e:
            done(f"cannot read it as UTF-8 text ({type(e).__name__}); try the byte tokenizer")
        except Exception as e:  # the hf: model's tokenizer: not installed, not found
            done(str(e))

    threading.Thread(target=probe, name="tbx-text-facts", daemon=True).start()


def hf_facts(ref: str, done) -> None:
    """An hf: model's class, shape, parameter count and context limit, from its config:
    the model is built on the meta device (no memory, no weights read)."""
    def probe():
        try:
            import_engine()
            import torch

            from ...engine.language import hf

            cfg = hf.load_config(ref, download=False)  # the extra's absence is said here
            from transformers import AutoModelForCausalLM

            with torch.device("meta"):
                model = AutoModelForCausalLM.from_config(cfg)
            params = sum(p.numel() for p in model.parameters())
            layers = getattr(cfg, "num_hidden_layers", "?")
            width = getattr(cfg, "hidden_size", "?")
            done(f"{type(model).__name__}, {layers} layers × {width} wide, {params:,} "
                 f"parameters, context up to {hf.context_limit(cfg):,}")
        except Exception as e:  # not installed, not found, not a causal LM
            done(f"✗ {e}")

    threading.Thread(target=probe, name="tbx-hf-facts", daemon=True).start()
