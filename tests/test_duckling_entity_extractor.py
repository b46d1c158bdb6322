"""DucklingEntityExtractor: Duckling in-process, over HTTP (a local server answering through it), failures."""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from component_helpers import persist_and_load

import intently

from intently.config import ModelConfig
from intently.errors import ComponentConfigError, MissingDependencyError
from intently.message import Message
from intently.plugins.extractors import duckling_engines
from intently.plugins.extractors.duckling_entity_extractor import DucklingEntityExtractor
from intently.testing import check_component
from intently.training_data import read_yaml_string

pytest.importorskip("duckling", reason="the duckling extra (pyduckling-native-phihos) is not installed")

from intently.plugins.extractors.duckling_engines import EmbeddedDuckling, serve_parse_form  # noqa: E402

#: 2023-11-14 22:13:20 UTC, a Tuesday: 2023-11-15 in Shanghai, 2023-11-14 in Los Angeles.
REFERENCE = 1_700_000_000
DATA = read_yaml_string(
    """
version: "3.1"
nlu:
- intent: book
  examples: |
    - 明天下午三点订[两](number)张票
    - book a table for [three](number) tomorrow
- intent: greet
  examples: |
    - 你好
    - hello
"""
)


def trained(language: str = "zh", **config) -> DucklingEntityExtractor:
    extractor = DucklingEntityExtractor(config)
    extractor.train(DATA, ModelConfig(language=language))
    return extractor


def run(extractor: DucklingEntityExtractor, *texts: str, reference: float | str | None = REFERENCE) -> list[Message]:
    messages = [Message(text=t, metadata={} if reference is None else {"time": reference}) for t in texts]
    extractor.process(messages)
    return messages


def as_dicts(message: Message) -> list[dict]:
    return [entity.to_dict() for entity in message.entities]


# --- the embedded engine ---------------------------------------------------------------------------------


def test_the_embedded_engine_parses_times_and_numbers_against_the_reference_time():
    engine = EmbeddedDuckling.get()
    matches = engine.parse(
        "明天下午三点订两张票", locale="zh_CN", timezone="Asia/Shanghai", reference_ms=REFERENCE * 1000
    )
    by_dim = {m["dim"]: m for m in matches}
    assert by_dim["time"]["body"] == "明天下午三点"  # rebuilt from the offsets, not mis-decoded
    assert by_dim["time"]["value"]["value"] == "2023-11-16T15:00:00.000+08:00"
    assert (by_dim["number"]["start"], by_dim["number"]["end"], by_dim["number"]["value"]["value"]) == (7, 8, 2)
    english = engine.parse("tomorrow at 5pm", reference_ms=REFERENCE * 1000)  # a server's defaults: en, Los Angeles
    assert english[0]["value"]["value"] == "2023-11-15T17:00:00.000-08:00"
    only_numbers = engine.parse("3 people tomorrow", dimensions=["number"], reference_ms=REFERENCE * 1000)
    assert [m["dim"] for m in only_numbers] == ["number"]


def test_entities_have_rasas_shape_values_intervals_and_extractor():
    extractor = trained(language="en", timezone="Europe/Berlin")
    (message,) = run(extractor, "send 20 dollars to a@b.com from 3 to 5 pm")
    entities = {e["entity"]: e for e in as_dicts(message)}
    assert set(entities) >= {"amount-of-money", "email", "time"}
    email = entities["email"]
    assert email == {
        "entity": "email", "start": 19, "end": 26, "value": "a@b.com", "confidence_entity": 1.0,
        "extractor": "DucklingEntityExtractor", "text": "a@b.com", "confidence": 1.0,
        "additional_info": {"value": "a@b.com", "type": "value"},
    }
    assert entities["amount-of-money"]["value"] == 20
    assert entities["amount-of-money"]["additional_info"]["unit"] == "$"
    interval = entities["time"]
    assert interval["value"] == {"from": "2023-11-15T15:00:00.000+01:00", "to": "2023-11-15T18:00:00.000+01:00"}
    assert interval["additional_info"]["type"] == "interval"


def test_relative_times_follow_each_messages_reference_time_and_locale_defaults_to_the_language():
    extractor = trained(language="zh", timezone="Asia/Shanghai", dimensions=["time"])
    a, b = run(extractor, "明天", "明天")
    assert a.entities[0].value == "2023-11-16T00:00:00.000+08:00"
    later = [Message(text="明天", metadata={"timestamp": "2024-02-28T12:00:00+08:00"})]
    extractor.process(later)
    assert later[0].entities[0].value == "2024-02-29T00:00:00.000+08:00"
    millis = [Message(text="明天", metadata={"time": REFERENCE * 1000})]
    extractor.process(millis)
    assert millis[0].entities[0].value == a.entities[0].value


def test_an_unreadable_reference_time_is_a_warning_and_now_is_used(caplog):
    extractor = trained(language="en", dimensions=["number"])
    with caplog.at_level(logging.WARNING):
        (message,) = run(extractor, "two", reference="yesterday-ish")
    assert [e.value for e in message.entities] == [2]
    assert "cannot read the reference time" in caplog.text


def test_dimensions_filter_and_unknown_dimensions_or_timezones_are_errors_in_process():
    (message,) = run(trained(language="en", dimensions=["number"]), "3 tickets for tomorrow")
    assert [e.entity for e in message.entities] == ["number"]
    with pytest.raises(ComponentConfigError, match="did you mean 'time'"):
        trained(dimensions=["times"])
    with pytest.raises(ComponentConfigError, match="unknown timezone"):
        trained(timezone="Mars/Olympus")
    with pytest.raises(ComponentConfigError, match="timeout"):
        DucklingEntityExtractor({"timeout": 0})
    with pytest.raises(ComponentConfigError, match="dimensions"):
        DucklingEntityExtractor({"dimensions": "time"})


def test_training_leaves_the_examples_alone_and_a_loaded_model_keeps_the_language(tmp_path):
    data = read_yaml_string(
        'version: "3.1"\nnlu:\n- intent: book\n  examples: |\n    - 明天订[两](number)张票\n'
    )
    extractor = DucklingEntityExtractor({"dimensions": ["time", "number"], "timezone": "Asia/Shanghai"})
    extractor.train(data, ModelConfig(language="zh"))
    assert [e.extractor for e in data.training_examples[0].entities] == [None]  # only the annotation
    loaded = persist_and_load(extractor, tmp_path)
    assert loaded.language == "zh"
    (message,) = run(loaded, "明天订两张票")
    assert sorted(e.entity for e in message.entities) == ["number", "time"]


def test_conformance_checks():
    check_component(
        DucklingEntityExtractor,
        DATA,
        config={"timezone": "Asia/Shanghai"},
        before=["WhitespaceTokenizer", {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1,
                                         "max_ngram": 2}, {"name": "LogisticRegressionClassifier"}],
        language="zh",
    )


def test_without_url_and_without_the_extra_training_says_what_to_install(monkeypatch):
    monkeypatch.setattr(EmbeddedDuckling, "_instance", None)
    monkeypatch.setitem(__import__("sys").modules, "duckling", None)  # import fails
    with pytest.raises(MissingDependencyError, match=r"intently\[duckling\]"):
        trained()
    trainer = intently.Trainer({"language": "zh", "pipeline": [
        {"name": "WhitespaceTokenizer"}, {"name": "CountVectorsFeaturizer"},
        {"name": "LogisticRegressionClassifier"}, {"name": "DucklingEntityExtractor"}]})
    from intently.plugins.classifiers.logistic_regression import LogisticRegressionClassifier
    from intently.plugins.tokenizers.whitespace import WhitespaceTokenizer

    trained_first = []
    for component in (WhitespaceTokenizer, LogisticRegressionClassifier):
        monkeypatch.setattr(component, "train", lambda *a, **k: trained_first.append(1))
    with pytest.raises(MissingDependencyError):
        trainer.train(DATA)
    assert trained_first == []  # stopped before any component trained


# --- over HTTP ---------------------------------------------------------------------------------------------


class _DucklingHandler(BaseHTTPRequestHandler):
    """Duckling's ``POST /parse``, answered by the embedded engine; records each form."""

    protocol_version = "HTTP/1.1"  # keep-alive, so the client's pool is exercised
    forms: list[dict[str, str]] = []
    connections: set[int] = set()

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8")))
        type(self).forms.append(form)
        type(self).connections.add(id(self.connection))
        status, body = serve_parse_form(form) if self.path == "/parse" else (404, b"not found")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def duckling_server():
    _DucklingHandler.forms = []
    _DucklingHandler.connections = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DucklingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_over_http_the_server_gets_rasas_form_and_the_entities_match_in_process(duckling_server):
    over_http = trained(url=duckling_server, timezone="Asia/Shanghai")
    in_process = trained(timezone="Asia/Shanghai")
    texts = ["明天下午三点订两张票", "我要三张票", "你好"]
    http_messages, local_messages = run(over_http, *texts), run(in_process, *texts)
    assert [as_dicts(m) for m in http_messages] == [as_dicts(m) for m in local_messages]
    assert any(http_messages[0].entities) and http_messages[1].entities[0].value == 3
    first = _DucklingHandler.forms[0]
    assert first == {
        "text": "明天下午三点订两张票", "lang": "zh", "tz": "Asia/Shanghai", "dims": "null",
        "reftime": str(REFERENCE * 1000),
    }
    assert len(_DucklingHandler.forms) == 3 and len(_DucklingHandler.connections) == 1  # one kept-alive connection


def test_the_environment_variable_overrides_url_and_the_locale_is_sent(duckling_server, monkeypatch):
    monkeypatch.setenv("RASA_DUCKLING_HTTP_URL", duckling_server)
    extractor = trained(url="http://127.0.0.1:9", locale="en_US", dimensions=["number"])
    (message,) = run(extractor, "three people")
    assert [e.value for e in message.entities] == [3]
    assert _DucklingHandler.forms[0]["locale"] == "en_US" and json.loads(_DucklingHandler.forms[0]["dims"]) == [
        "number"
    ]
    assert "lang" not in _DucklingHandler.forms[0]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_server_is_one_warning_per_batch_and_parsing_goes_on(caplog, tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}"
    extractor = trained(url=url)  # training does not need the server
    loaded = persist_and_load(extractor, tmp_path)
    with caplog.at_level(logging.WARNING):
        messages = run(loaded, "明天", "后天", "三个")
    assert all(m.entities == [] for m in messages)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert url in warnings[0].getMessage() and "3 message(s)" in warnings[0].getMessage()
    with caplog.at_level(logging.WARNING):
        run(loaded, "明天")
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2  # the next batch warns again


def test_a_server_error_or_a_timeout_is_a_warning(caplog):
    class Failing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/slow/parse":
                threading.Event().wait(1.0)
            body = b"boom"
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    class Quiet(ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:  # the client gave up on the slow answer
            pass

    server = Quiet(("127.0.0.1", 0), Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with caplog.at_level(logging.WARNING):
            (message,) = run(trained(url=base), "明天")
            (slow,) = run(trained(url=base + "/slow", timeout=0.2), "明天")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert message.entities == [] and slow.entities == []
    text = caplog.text
    assert "answered 500" in text and "boom" in text
    assert "timed out" in text


def test_urls_are_checked_when_the_config_is_read():
    with pytest.raises(ComponentConfigError, match="url"):
        DucklingEntityExtractor({"url": "ftp://example.org"})
    assert duckling_engines.DucklingHttpClient("localhost:8000", 3)._path == "/parse"
