"""Training reports its progress as log lines, every tenth of its steps with the last loss, in place of the
dictionaries transformers prints (checked on transformers' own callback machinery, without training)."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("transformers", reason="the finetune extra is not installed: pip install -e '.[finetune]'")


class _Trainer:
    """What :func:`finetune.train.log_progress` needs of a trainer: transformers' own callback handler."""

    def __init__(self) -> None:
        from transformers import PrinterCallback
        from transformers.trainer_callback import CallbackHandler

        self.callback_handler = CallbackHandler([PrinterCallback], None, None, None, None)

    def add_callback(self, callback: object) -> None:
        self.callback_handler.add_callback(callback)

    def remove_callback(self, callback: object) -> None:
        self.callback_handler.remove_callback(callback)


def test_log_progress_logs_every_tenth_step_and_replaces_the_printed_dictionaries(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    from transformers import PrinterCallback, TrainerControl, TrainerState

    from finetune.train import log_progress

    trainer = _Trainer()
    log_progress(trainer, "sft")
    handler = trainer.callback_handler
    assert not any(isinstance(c, PrinterCallback) for c in handler.callbacks)
    state, control = TrainerState(max_steps=25), TrainerControl()
    with caplog.at_level(logging.INFO, logger="finetune.train"):
        for step in range(1, 26):
            state.global_step = step
            state.log_history.append({"loss": 3.0 - step / 10, "step": step})
            handler.on_step_end(None, state, control)  # type: ignore[arg-type]
        handler.on_log(None, state, control, logs={"loss": 0.5})  # type: ignore[arg-type]
    lines = [r.getMessage() for r in caplog.records if r.name == "finetune.train"]
    assert lines[0] == "  sft: step 2/25, loss 2.800" and lines[-1] == "  sft: step 25/25, loss 0.500"
    assert len(lines) == 13  # steps 2, 4, ..., 24 and the last
    assert capsys.readouterr().out == ""  # no printed dictionary
