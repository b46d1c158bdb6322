"""The training progress bar: drawn on terminals only, and fed by long loops."""

from __future__ import annotations

import io

from intently.progress import ProgressBar, progress_enabled


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_draws_on_a_terminal_and_not_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert progress_enabled(Terminal())
    assert not progress_enabled(io.StringIO())
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled(Terminal())


def test_bar_renders_progress_and_values():
    stream = Terminal()
    with ProgressBar(4, "train", stream=stream, enabled=True) as bar:
        for step in range(4):
            bar.update(loss=f"{1.0 / (step + 1):.2f}")
    text = stream.getvalue()
    assert "train  4/4 [========================] 100%" in text and "loss=0.25" in text
    assert text.endswith("\n")


def test_silent_bar_writes_nothing():
    stream = io.StringIO()
    with ProgressBar(3, "x", stream=stream) as bar:
        bar.update()
    assert stream.getvalue() == ""


def test_crf_training_reports_every_iteration(monkeypatch):
    from intently.plugins.extractors import crf_entity_extractor as crf
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer
    from intently.training_data.reader import read_yaml_string

    stream = Terminal()
    real = crf.ProgressBar
    monkeypatch.setattr(crf, "ProgressBar", lambda total, description: real(total, description, stream=stream, enabled=True))
    data = read_yaml_string(
        'version: "3.1"\nnlu:\n- intent: go\n  examples: |\n    - to [Paris](city)\n    - fly to [Rome](city) now\n'
    )
    WhitespaceTokenizer().train(data, None)
    crf.CRFEntityExtractor({"max_iterations": 5}).train(data, None)
    assert "(CRF)" in stream.getvalue() and "loss=" in stream.getvalue()
