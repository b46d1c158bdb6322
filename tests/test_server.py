"""`intently run`: every endpoint, status code, auth path and limit, over HTTP to a real server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
jwt = pytest.importorskip("jwt")

from server_helpers import Server, request  # noqa: E402

CONFIG = {
    "language": "zh",
    "pipeline": [
        {"name": "WhitespaceTokenizer"},
        {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 2},
        {"name": "LogisticRegressionClassifier"},
    ],
}
DATA_A = """version: "3.1"
nlu:
  - intent: 问候
    examples: |
      - 你好
      - 早上好
      - 您好啊
      - 晚上好
  - intent: 告别
    examples: |
      - 再见
      - 拜拜
      - 明天见
      - 回头见
"""
DATA_B = DATA_A + """  - intent: 感谢
    examples: |
      - 谢谢
      - 多谢
      - 谢谢你
      - 非常感谢
"""
SECRET = "s3cr3t-令牌"
JWT_SECRET = "jwt-secret-for-the-server-tests-0123456789"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with models/a.tar.gz (two intents) and models/b.tar.gz (three), trained once."""
    import yaml

    from intently.api import train

    root = tmp_path_factory.mktemp("serve")
    for name, data in (("a", DATA_A), ("b", DATA_B)):
        (root / f"{name}.yml").write_text(data, encoding="utf-8")
        train(CONFIG, [str(root / f"{name}.yml")], root / "models", fixed_model_name=name)
    (root / "config.yml").write_text(yaml.safe_dump(CONFIG, allow_unicode=True), encoding="utf-8")
    # b is the newest: a folder's newest archive is its default model.
    now = time.time()
    import os

    os.utime(root / "models" / "a.tar.gz", (now - 60, now - 60))
    (root / "elsewhere").mkdir()
    shutil.copy(root / "models" / "a.tar.gz", root / "elsewhere" / "outside.tar.gz")
    (root / "models" / "broken.txt").write_text("not a model", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def server(project: Path):
    """The open server: the folder of models, the management API on, small limits."""
    with Server(["-m", "models/a.tar.gz", "--model-dir", "models", "--enable-api", "--max-request-size", "4096"],
                project) as running:
        yield running


def _intently_parse(project: Path, model: str, text: str) -> str:
    done = subprocess.run([sys.executable, "-m", "intently", "parse", "-m", model, text], cwd=project,
                          capture_output=True, timeout=120, check=True)
    return done.stdout.decode("utf-8").strip()


def _assert_rasa_error(reply, status: int, reason: str | None = None) -> dict:
    assert reply.status == status, reply
    body = reply.json()
    assert set(body) == {"version", "status", "message", "reason", "details", "help", "code"}
    assert body["status"] == "failure" and body["code"] == status
    if reason:
        assert body["reason"] == reason, body
    return body


# --- Rasa's API ---------------------------------------------------------------------------


def test_root_version_status(server: Server, project: Path) -> None:
    root = server.get("/")
    assert root.status == 200 and root.text.startswith("Hello from intently: ")
    version = server.get("/version").json()
    assert set(version) == {"version", "minimum_compatible_version"}
    status = server.get("/status").json()
    assert status["model_file"] == str((project / "models" / "a.tar.gz").resolve())
    assert status["model_id"] == status["fingerprint"]["combined"] and len(status["model_id"]) == 64
    assert status["num_active_training_jobs"] == 0


def test_parse_is_exactly_what_intently_parse_prints(server: Server, project: Path) -> None:
    for text in ("你好", "再见 朋友", "🙂 emoji"):
        reply = server.post("/model/parse", {"text": text, "message_id": "m-1"})
        assert reply.status == 200 and reply.headers["content-type"] == "application/json"
        assert reply.text == _intently_parse(project, "models/a.tar.gz", text)
    assert server.post("/model/parse", {"text": "你好"}).json()["intent"]["name"] == "问候"


def test_a_rasa_client_works_unchanged(server: Server) -> None:
    """What a bot written for `rasa run --enable-api` sends: a bare JSON POST, no content type even."""
    reply = request("POST", server.url + "/model/parse", data='{"text": "拜拜"}'.encode("utf-8"))
    assert reply.status == 200
    parsed = reply.json()
    assert {"text", "intent", "entities", "intent_ranking"} <= set(parsed)
    assert parsed["intent"]["name"] == "告别"


def test_parse_errors(server: Server) -> None:
    bad_json = server.post("/model/parse", data=b'{"text": ', headers={"Content-Type": "application/json"})
    assert "not valid JSON" in _assert_rasa_error(bad_json, 400, "BadRequest")["message"]
    missing = _assert_rasa_error(server.post("/model/parse", {"message_id": "x"}), 400, "BadRequest")
    assert missing["details"] == {"parameter": "text", "in": "body"}
    _assert_rasa_error(server.post("/model/parse", {"text": 7}), 400)
    _assert_rasa_error(server.post("/model/parse", data=b""), 400)
    _assert_rasa_error(server.post("/model/parse", data=b"[1, 2]"), 400)
    _assert_rasa_error(server.post("/model/parse", data=b"\xff\xfe"), 400)
    _assert_rasa_error(server.get("/no/such/path"), 404, "NotFound")
    _assert_rasa_error(server.get("/model/parse"), 405, "MethodNotAllowed")


def _raw(server: Server, head: bytes, body: bytes = b"") -> tuple[int, dict]:
    """Send a request as bytes (a body that may stop short) and read the answer, without urllib's retries."""
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < int(
                [line for line in answer.split(b"\r\n") if line.lower().startswith(b"content-length:")][0]
                .split(b":")[1]):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_body_limit_is_413(server: Server) -> None:
    # A declared Content-Length over the limit is refused before the body is read.
    status, body = _raw(server, b"POST /model/parse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"Content-Length: 6000\r\n\r\n")
    assert status == 413 and body["reason"] == "PayloadTooLarge" and "4096" in body["message"]
    assert set(body) == {"version", "status", "message", "reason", "details", "help", "code"}
    # Without a Content-Length (chunked), the limit holds while reading.
    chunk = b'{"text": "' + b"x" * 5000
    status, body = _raw(server, b"POST /model/parse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                        b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    assert status == 413 and body["code"] == 413
    assert server.post("/model/parse", {"text": "好" * 1000}).status == 200  # 3,000 bytes: under the limit


def test_parse_batch(server: Server) -> None:
    texts = ["你好", "再见", "早上好", "回头见"]
    reply = server.post("/model/parse/batch", {"texts": texts})
    assert reply.status == 200
    results = reply.json()
    assert [r["text"] for r in results] == texts
    assert [r["intent"]["name"] for r in results] == ["问候", "告别", "问候", "告别"]
    assert results[0] == server.post("/model/parse", {"text": "你好"}).json()
    assert server.post("/model/parse/batch", {"texts": []}).json() == []
    _assert_rasa_error(server.post("/model/parse/batch", {"texts": "你好"}), 400)
    _assert_rasa_error(server.post("/model/parse/batch", {"texts": ["a", 1]}), 400)


def test_put_model_loads_only_from_the_model_folders(server: Server, project: Path) -> None:
    for outside in ("elsewhere/outside.tar.gz", str(project / "elsewhere" / "outside.tar.gz"),
                    "models/../elsewhere/outside.tar.gz", "/etc/passwd", "../a.tar.gz", ""):
        reply = server.put("/model", {"model_file": outside})
        assert reply.status == 400, (outside, reply)
    link = project / "models" / "link.tar.gz"
    link.symlink_to(project / "elsewhere" / "outside.tar.gz")
    try:
        _assert_rasa_error(server.put("/model", {"model_file": "models/link.tar.gz"}), 400)
    finally:
        link.unlink()
    broken = _assert_rasa_error(server.put("/model", {"model_file": "models/broken.txt"}), 400, "LoadingError")
    assert "[E40" in broken["message"]
    _assert_rasa_error(server.put("/model", data=b""), 400)
    assert server.get("/status").json()["model_file"].endswith("a.tar.gz")


def test_put_and_delete_model(server: Server) -> None:
    try:
        assert server.put("/model", {"model_file": "models/b.tar.gz"}).status == 204
        assert server.get("/status").json()["model_file"].endswith("b.tar.gz")
        assert server.post("/model/parse", {"text": "谢谢"}).json()["intent"]["name"] == "感谢"
        assert [m["name"] for m in server.get("/models").json()["models"]] == ["b"]
        assert server.delete("/model").status == 204
        _assert_rasa_error(server.post("/model/parse", {"text": "你好"}), 409, "Conflict")
        _assert_rasa_error(server.get("/status"), 409)
        health = server.get("/health")
        assert health.status == 503 and health.json()["status"] == "no model"
        assert server.get("/health/live").status == 200
    finally:
        assert server.put("/model", {"model_file": "a.tar.gz"}).status == 204  # relative to the model folder
    assert server.get("/health").status == 200
    assert server.post("/model/parse", {"text": "你好"}).json()["intent"]["name"] == "问候"


def test_train_runs_off_the_request_path(server: Server, project: Path) -> None:
    import yaml

    body = yaml.safe_dump({**CONFIG, **yaml.safe_load(DATA_B)}, allow_unicode=True).encode("utf-8")
    result: dict = {}

    def train() -> None:
        result["reply"] = request("POST", server.url + "/model/train?fixed_model_name=trained&force_training=true",
                                  data=body, headers={"Content-Type": "application/x-yaml"}, timeout=300)

    worker = threading.Thread(target=train)
    worker.start()
    seen_job = False
    parses = 0
    while worker.is_alive():
        assert server.post("/model/parse", {"text": "你好"}).status == 200
        parses += 1
        seen_job = seen_job or server.get("/status").json()["num_active_training_jobs"] == 1
        time.sleep(0.02)
    worker.join()
    reply = result["reply"]
    assert reply.status == 200, reply
    assert reply.headers["filename"] == "trained.tar.gz"
    assert gzip.decompress(reply.body)[:100]  # a gzip'd archive
    assert (project / "models" / "trained.tar.gz").read_bytes() == reply.body
    assert seen_job and parses > 1  # parsing went on while it trained
    try:
        assert server.put("/models/trained", {"model_file": "models/trained.tar.gz"}).status == 204
        assert server.post("/models/trained/parse", {"text": "多谢"}).json()["intent"]["name"] == "感谢"
    finally:
        server.delete("/models/trained")
        (project / "models" / "trained.tar.gz").unlink()


def test_train_errors(server: Server) -> None:
    _assert_rasa_error(server.post("/model/train", data=b""), 400)
    _assert_rasa_error(server.post("/model/train", data=b"pipeline: [unclosed"), 400)
    bad = server.post("/model/train", data="language: zh\npipeline:\n  - name: NoSuchComponent\nnlu: []\n"
                      .encode("utf-8"), timeout=300)
    assert "[E" in _assert_rasa_error(bad, 400, "TrainingError")["message"]
    _assert_rasa_error(server.post("/model/train?fixed_model_name=../x", data=b"language: zh"), 400)


def test_test_intents(server: Server) -> None:
    test_data = """version: "3.1"
nlu:
  - intent: 问候
    examples: |
      - 你好呀
      - 早上好啊
  - intent: 告别
    examples: |
      - 再见了
"""
    reply = server.post("/model/test/intents", data=test_data.encode("utf-8"),
                        headers={"Content-Type": "application/x-yaml"}, timeout=300)
    assert reply.status == 200, reply
    evaluation = reply.json()
    assert set(evaluation) == {"intent_evaluation", "entity_evaluation", "response_selection_evaluation"}
    intents = evaluation["intent_evaluation"]
    assert 0.0 <= intents["accuracy"] <= 1.0
    assert [p["text"] for p in intents["predictions"]] == ["你好呀", "早上好啊", "再见了"]
    assert intents["report"]["问候"]["support"] == 2
    with_model = server.post("/model/test/intents?model=models/b.tar.gz", data=test_data.encode("utf-8"), timeout=300)
    assert with_model.status == 200
    _assert_rasa_error(server.post("/model/test/intents?model=elsewhere/outside.tar.gz",
                                   data=test_data.encode("utf-8")), 400)
    _assert_rasa_error(server.post("/model/test/intents", data=b""), 400)
    _assert_rasa_error(server.post("/model/test/intents?cross_validation_folds=3", data=test_data.encode()), 400)


# --- several models ------------------------------------------------------------------------


def test_several_models(project: Path) -> None:
    with Server(["-m", "models", "--enable-api"], project) as running:
        listed = running.get("/models").json()
        assert listed["default"] == "b"  # the newest archive
        assert sorted(m["name"] for m in listed["models"]) == ["a", "b"]
        assert running.post("/models/a/parse", {"text": "谢谢"}).json()["intent"]["name"] != "感谢"
        assert running.post("/models/b/parse", {"text": "谢谢"}).json()["intent"]["name"] == "感谢"
        assert running.post("/model/parse", {"text": "谢谢"}).json()["intent"]["name"] == "感谢"
        batch = running.post("/models/a/parse/batch", {"texts": ["你好", "再见"]}).json()
        assert [r["intent"]["name"] for r in batch] == ["问候", "告别"]
        _assert_rasa_error(running.post("/models/zzz/parse", {"text": "你好"}), 404)
        _assert_rasa_error(running.post("/models/bad%20name/parse", {"text": "你好"}), 400)
        assert running.put("/models/c", {"model_file": "models/a.tar.gz"}).status == 204
        assert running.post("/models/c/parse", {"text": "你好"}).text == running.post(
            "/models/a/parse", {"text": "你好"}).text
        _assert_rasa_error(running.put("/models/d", {"model_file": "elsewhere/outside.tar.gz"}), 400)
        assert running.delete("/models/c").status == 204
        _assert_rasa_error(running.delete("/models/c"), 404)
        assert sorted(m["name"] for m in running.get("/models").json()["models"]) == ["a", "b"]


def test_management_api_needs_enable_api(project: Path) -> None:
    with Server(["-m", "models/a.tar.gz"], project) as running:
        assert running.post("/model/parse", {"text": "你好"}).status == 200
        for reply in (running.put("/model", {"model_file": "models/b.tar.gz"}), running.delete("/model"),
                      running.post("/model/train", data=b"language: zh"),
                      running.post("/model/test/intents", data=b"nlu: []")):
            assert "--enable-api" in _assert_rasa_error(reply, 404)["message"]
        assert running.get("/status").json()["model_file"].endswith("a.tar.gz")


# --- auth, CORS, TLS, timeouts ---------------------------------------------------------------


def _token(role: str = "admin", secret: str = JWT_SECRET, **claims: object) -> str:
    return jwt.encode({"user": {"username": "bot", "role": role}, **claims}, secret, algorithm="HS256")


def test_auth(project: Path) -> None:
    with Server(["-m", "models/a.tar.gz", "--enable-api", "--auth-token", SECRET, "--jwt-secret", JWT_SECRET],
                project) as running:
        from urllib.parse import quote

        body = {"text": "你好"}
        _assert_rasa_error(running.post("/model/parse", body), 401, "NotAuthenticated")
        _assert_rasa_error(running.post("/model/parse?token=wrong", body), 401)
        _assert_rasa_error(running.post(f"/model/parse?token={quote(SECRET[:-1])}", body), 401)
        assert running.post(f"/model/parse?token={quote(SECRET)}", body).status == 200
        assert running.get(f"/status?token={quote(SECRET)}").status == 200
        _assert_rasa_error(running.get("/status"), 401)
        _assert_rasa_error(running.get("/models"), 401)
        _assert_rasa_error(running.put("/model", {"model_file": "models/b.tar.gz"}), 401)
        bearer = {"Authorization": f"Bearer {_token()}"}
        assert running.post("/model/parse", body, headers=bearer).status == 200
        assert running.get("/status", headers=bearer).status == 200
        _assert_rasa_error(running.post("/model/parse", body, headers={"Authorization": f"Bearer {_token('user')}"}),
                           403, "NotAuthorized")
        _assert_rasa_error(running.post("/model/parse", body,
                                        headers={"Authorization": f"Bearer {_token(secret='another-secret-of-at-least-32-bytes!!')}"}), 401)
        expired = _token(exp=int(time.time()) - 60)
        _assert_rasa_error(running.post("/model/parse", body, headers={"Authorization": f"Bearer {expired}"}), 401)
        _assert_rasa_error(running.post("/model/parse", body, headers={"Authorization": "Bearer not.a.jwt"}), 401)
        _assert_rasa_error(running.post("/model/parse", body, headers={"Authorization": f"Basic {_token()}"}), 401)
        for open_path in ("/", "/version", "/health", "/health/live", "/metrics"):
            assert running.get(open_path).status == 200, open_path
    log = running.output()
    assert SECRET not in log and quote(SECRET) not in log  # the access log leaves the query out


def test_cors_is_off_unless_asked(server: Server, project: Path) -> None:
    preflight = {"Origin": "https://bot.example", "Access-Control-Request-Method": "POST"}
    plain = request("OPTIONS", server.url + "/model/parse", headers=preflight)
    assert "access-control-allow-origin" not in {k.lower() for k in plain.headers}
    reply = server.post("/model/parse", {"text": "你好"}, headers={"Origin": "https://bot.example"})
    assert "access-control-allow-origin" not in {k.lower() for k in reply.headers}
    with Server(["-m", "models/a.tar.gz", "--cors", "https://bot.example"], project) as running:
        allowed = request("OPTIONS", running.url + "/model/parse", headers=preflight)
        assert allowed.status == 200 and allowed.headers["access-control-allow-origin"] == "https://bot.example"
        reply = running.post("/model/parse", {"text": "你好"}, headers={"Origin": "https://bot.example"})
        assert reply.headers["access-control-allow-origin"] == "https://bot.example"
        other = request("OPTIONS", running.url + "/model/parse",
                        headers={**preflight, "Origin": "https://evil.example"})
        assert other.status == 400 and "access-control-allow-origin" not in {k.lower() for k in other.headers}


def test_tls(project: Path, tmp_path: Path) -> None:
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(cafile=str(cert))
    with Server(["-m", "models/a.tar.gz", "--ssl-certificate", str(cert), "--ssl-keyfile", str(key)], project,
                scheme="https", context=context) as running:
        assert running.post("/model/parse", {"text": "你好"}).json()["intent"]["name"] == "问候"


def test_response_timeout_is_503(project: Path) -> None:
    # Enough distinct test examples that evaluating them cannot finish within the timeout on any machine
    # (8 examples took under 0.5 s on a quiet one).
    many = "".join(f"      - 你好 {i}\n" for i in range(30_000))
    slow_data = DATA_A.replace("      - 你好\n", "      - 你好\n" + many, 1)
    with Server(["-m", "models/a.tar.gz", "--enable-api", "--response-timeout", "0.5"], project) as running:
        reply = running.post("/model/test/intents", data=slow_data.encode("utf-8"), timeout=120)
        assert "--response-timeout" in _assert_rasa_error(reply, 503, "ResponseTimeout")["message"]
        assert running.post("/model/parse", {"text": "你好"}).status == 200


# --- batching, hot swap, operations -----------------------------------------------------------


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("where", [[], ["--parse-thread"]], ids=["on-the-loop", "in-a-thread"])
def test_concurrent_requests_are_batched(project: Path, where: list[str]) -> None:
    texts = ["你好", "再见", "早上好", "回头见", "晚上好", "拜拜"] * 20
    with Server(["-m", "models/a.tar.gz", "--batch-window-ms", "20", *where], project) as running:
        expected = {t: running.post("/model/parse", {"text": t}).text for t in set(texts)}
        before = running.get("/metrics").text
        with ThreadPoolExecutor(24) as pool:
            replies = list(pool.map(lambda t: running.post("/model/parse", {"text": t}), texts))
        assert all(r.status == 200 for r in replies)
        assert [r.text for r in replies] == [expected[t] for t in texts]  # each answer is its own text's
        after = running.get("/metrics").text
    batches = _metric(after, "intently_parse_batch_size_count") - _metric(before, "intently_parse_batch_size_count")
    parsed = _metric(after, "intently_parse_batch_size_sum") - _metric(before, "intently_parse_batch_size_sum")
    assert parsed == len(texts)
    assert batches < len(texts)  # some requests shared a batch


def test_hot_swap_under_load_drops_nothing(project: Path) -> None:
    with Server(["-m", "models/a.tar.gz", "--model-dir", "models", "--enable-api"], project) as running:
        stop = threading.Event()
        failures: list[object] = []
        counts = [0]

        def hammer() -> None:
            while not stop.is_set():
                reply = running.post("/model/parse", {"text": "谢谢"})
                if reply.status != 200:
                    failures.append(reply)
                counts[0] += 1

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        swapped = running.put("/model", {"model_file": "models/b.tar.gz"})
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(30)
        assert swapped.status == 204
        assert not failures and counts[0] > 20
        assert running.post("/model/parse", {"text": "谢谢"}).json()["intent"]["name"] == "感谢"


def test_metrics_health_and_access_log(project: Path) -> None:
    with Server(["-m", "models/a.tar.gz"], project) as running:
        for _ in range(3):
            running.post("/model/parse", {"text": "你好"})
        running.post("/model/parse", {"text": 1})
        assert running.get("/health").json() == {"status": "ok", "model": "a", "models": ["a"]}
        metrics = running.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert _metric(text, 'intently_http_requests_total{endpoint="/model/parse",method="POST",status="200"}') == 3
        assert _metric(text, 'intently_http_requests_total{endpoint="/model/parse",method="POST",status="400"}') == 1
        assert _metric(text, 'intently_http_request_duration_seconds_count{endpoint="/model/parse"}') == 4
        assert _metric(text, "intently_model_load_seconds_count") == 1
        assert _metric(text, "intently_models_loaded") == 1
    lines = [json.loads(line) for line in running.output().splitlines() if line.startswith("{")]
    parses = [line for line in lines if line["route"] == "/model/parse"]
    assert [line["status"] for line in parses] == [200, 200, 200, 400]
    assert all(set(line) >= {"ts", "client", "method", "path", "status", "ms", "bytes"} for line in parses)


def test_sigterm_drains_requests_in_flight(project: Path) -> None:
    running = Server(["-m", "models/a.tar.gz", "--enable-api"], project).start()
    try:
        result: dict = {}

        def evaluate() -> None:
            result["reply"] = request("POST", running.url + "/model/test/intents", data=DATA_A.encode("utf-8"),
                                      timeout=120)

        worker = threading.Thread(target=evaluate)
        worker.start()
        deadline = time.monotonic() + 30
        while running.get("/status").json()["num_active_training_jobs"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert running.process is not None
        running.process.send_signal(signal.SIGTERM)
        worker.join(120)
        assert result["reply"].status == 200, result["reply"]
        # uvicorn finishes what is in flight, then ends by the signal it got (143 in a shell).
        assert running.process.wait(60) == -signal.SIGTERM
    finally:
        running.stop()


# --- the command line ---------------------------------------------------------------------------


def test_cli_errors(project: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "intently", "run", "--port", "1", *args], cwd=project,
                              capture_output=True, text=True, timeout=120)

    broken = project / "models-broken"
    broken.mkdir(exist_ok=True)
    (broken / "x.tar.gz").write_bytes(b"not gzip")
    for args, expected in (
        (["-m", "models-broken/x.tar.gz"], "[E402]"),
        (["--ssl-certificate", "cert.pem"], "--ssl-keyfile"),
        (["--endpoints", "missing.yml"], "no such file"),
        (["--max-batch", "0"], "--max-batch"),
    ):
        done = run(*args)
        assert done.returncode == 1, (args, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert "Hello" not in run("--help").stdout and "--enable-api" in run("--help").stdout


# --- the model server of endpoints.yml, replicas, --workers ----------------------------------------


class _ModelServer:
    """A local HTTP model server: serves one archive with an ETag and answers 304 to If-None-Match."""

    def __init__(self) -> None:
        import hashlib
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.content = b""
        self.etag = ""
        self.conditional = 0
        self.hashlib = hashlib
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.headers.get("If-None-Match"):
                    outer.conditional += 1
                if self.headers.get("If-None-Match") == outer.etag:
                    self.send_response(304)
                    self.send_header("ETag", outer.etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", outer.etag)
                self.send_header("Content-Length", str(len(outer.content)))
                self.send_header("Content-Disposition", 'attachment; filename="nlu.tar.gz"')
                self.end_headers()
                self.wfile.write(outer.content)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/models/nlu.tar.gz"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, content: bytes) -> None:
        self.content = content
        self.etag = '"' + self.hashlib.sha256(content).hexdigest()[:16] + '"'

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _model_id(archive: Path) -> str:
    from intently.api import load_model

    return load_model(archive).metadata.fingerprint["combined"]


def _wait_for_model(replica: Server, model_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = replica.get("/status")
        if reply.status == 200 and reply.json()["model_id"] == model_id:
            return
        time.sleep(0.1)
    raise AssertionError(f"{replica.url} did not load {model_id} in {timeout} s:\n{replica.output()[-3000:]}")


def test_replicas_pull_from_the_model_server(project: Path, tmp_path: Path) -> None:
    models = project / "models"
    id_a, id_b = _model_id(models / "a.tar.gz"), _model_id(models / "b.tar.gz")
    model_server = _ModelServer()
    model_server.publish((models / "a.tar.gz").read_bytes())
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"models:\n  url: {model_server.url}\n  wait_time_between_pulls: 1\n", encoding="utf-8")
    try:
        with Server(["-m", "no-models-here", "--endpoints", str(endpoints)], project) as one, \
                Server(["-m", "no-models-here", "--endpoints", str(endpoints), "--workers", "2"], project) as two:
            for replica in (one, two):
                _wait_for_model(replica, id_a)
            time.sleep(1.5)  # a poll or two of the unchanged archive: 304s
            assert model_server.conditional >= 2
            assert _metric(one.get("/metrics").text, 'intently_model_server_pulls_total{outcome="not_modified"}') >= 1

            published = time.monotonic()
            model_server.publish((models / "b.tar.gz").read_bytes())
            for replica in (one, two):
                _wait_for_model(replica, id_b)
            assert time.monotonic() - published < 15  # within a few wait_time_between_pulls, even on a busy CI
            time.sleep(2)  # each of the second replica's workers polls on its own: give the other one a poll
            for _ in range(6):  # every worker of the second replica serves it
                assert two.post("/model/parse", {"text": "谢谢"}).json()["intent"]["name"] == "感谢"
            assert one.post("/model/parse", {"text": "谢谢"}).json()["intent"]["name"] == "感谢"

            model_server.publish(b"this is not a model archive")  # a broken archive: the old model keeps serving
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _metric(
                    one.get("/metrics").text, 'intently_model_server_pulls_total{outcome="invalid"}') < 1:
                time.sleep(0.1)
            assert one.get("/status").json()["model_id"] == id_b
            assert one.post("/model/parse", {"text": "谢谢"}).status == 200
        assert "does not load" in one.output()
    finally:
        model_server.close()


def test_endpoints_file_errors(project: Path, tmp_path: Path) -> None:
    for content, expected in (
        ("models: [1, 2]\n", "url"),
        ("models:\n  url: ftp://x/y.tar.gz\n", "http"),
        ("models:\n  url: http://127.0.0.1:9/x\n  wait_time_between_pulls: -1\n", "wait_time_between_pulls"),
    ):
        endpoints = tmp_path / "endpoints.yml"
        endpoints.write_text(content, encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "intently", "run", "--endpoints", str(endpoints)],
                              cwd=project, capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and expected in done.stderr and "[E200]" in done.stderr, done.stderr
