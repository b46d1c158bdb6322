"""`intently run` under load on loopback, beside `rasa run --enable-api`, in one command.

    python benchmarks/serve.py                      # 100,000 requests, 16 connections; Rasa 5,000
    python benchmarks/serve.py --requests 20000 --rasa-seconds 60 --stem serve-quick

The load generator is wrk (Debian's `wrk` package: `apt-get install wrk`)
with `benchmarks/serve/parse.lua`, which POSTs `{"text": ...}` bodies of the
SNIPS test texts to `/model/parse` in turn over `--connections` keep-alive
connections (2 wrk threads). Every run is bounded: by a request count (the
script watches the server's request counter in /metrics and stops wrk with
SIGINT, after which wrk prints its own duration and latency percentiles)
and by `--max-seconds`; every address is 127.0.0.1.

Runs, each against a fresh server process:
1. intently, `benchmarks/configs/diet.yml` trained on `snips/train-100.yml`
   (model A): throughput, p50/p90/p99, non-200 answers and socket errors,
   peak RSS (the server's VmHWM);
2. the same load with a `PUT /model` to model B (the same config with
   `random_seed: 2`) at about half of it: 0 failures expected, and texts
   parsed right after the swap must equal what model B parses in this process;
3. Rasa 3.6 (`--rasa`, default /tmp/rasa-venv/bin/rasa) serving the same
   pipeline trained by Rasa, under the same load for `--rasa-seconds` (it is
   much slower, so the count is whatever it answered, and said).

Models are trained once into `--work` (default /tmp/intently-serve-bench) and
reused. Writes `<stem>.json` and `<stem>.md` into `--out`. The load generator
shares the machine's cores with the server: say how busy the machine was
(the load averages are recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCHMARKS, DEFAULT_OUT, SHARED_DATA, environment, markdown_table, write_outputs  # noqa: E402

LUA = BENCHMARKS / "serve" / "parse.lua"
CONFIG = BENCHMARKS / "configs" / "diet.yml"
RASA_CONFIG = SHARED_DATA.parent / "peers" / "rasa" / "config.yml"
TRAIN = SHARED_DATA / "snips" / "train-100.yml"
TEST = SHARED_DATA / "snips" / "test.yml"
TARGETS = {"throughput": 2000.0, "p99_ms": 25.0, "vs_rasa_throughput": 20.0, "vs_rasa_p99": 0.1, "rss_mb": 200.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method: str, url: str, body: Any = None, timeout: float = 30.0) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} before it was ready")
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"server not ready after {timeout} s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def parse_count(base: str) -> int:
    """Answered POST /model/parse requests, from intently's /metrics."""
    status, body = http("GET", base + "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith("intently_http_requests_total{") and 'endpoint="/model/parse"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def run_wrk(base: str, bodies: Path, connections: int, *, count: int | None, seconds: float,
            on_progress: Any = None) -> dict[str, Any]:
    """wrk against ``base``; stopped (SIGINT) once intently answered ``count`` more parses, or after ``seconds``."""
    env = {**os.environ, "WRK_BODIES": str(bodies)}
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{int(seconds)}s", "--latency", "--timeout", "10s",
               "-s", str(LUA), base]
    start_count = parse_count(base) if count is not None else 0
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    started = time.monotonic()
    if count is not None:
        while process.poll() is None:
            done = parse_count(base) - start_count
            if on_progress is not None:
                on_progress(done)
            if done >= count:
                process.send_signal(signal.SIGINT)
                break
            time.sleep(0.2)
    output, _ = process.communicate(timeout=seconds + 60)
    wall = time.monotonic() - started
    match = re.search(r"WRK_JSON (\{.*\})", output)
    if not match:
        raise SystemExit(f"wrk printed no result:\n{output}")
    raw = json.loads(match.group(1))
    seconds_run = raw["duration_us"] / 1e6
    failures = raw["non_200"] + raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return {
        "requests": raw["requests"],
        "connections": connections,
        "seconds": round(seconds_run, 2),
        "wall_seconds": round(wall, 2),
        "throughput": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "failures": failures,
        "wrk": raw,
    }


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def bodies_file(work: Path) -> tuple[Path, list[str]]:
    from intently.training_data.loading import load_data

    texts = [m.text for m in load_data(TEST).training_examples]
    path = work / "bodies.jsonl"
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path, texts


def train_models(work: Path, rasa: Path | None) -> dict[str, Path]:
    import yaml

    from intently.api import train

    models = work / "models"
    paths = {"a": models / "diet-a.tar.gz", "b": models / "diet-b.tar.gz"}
    if not paths["a"].exists():
        train(str(CONFIG), [str(TRAIN)], models, fixed_model_name="diet-a")
    if not paths["b"].exists():
        config = yaml.safe_load(CONFIG.read_text())
        for item in config["pipeline"]:
            if item["name"] == "DIETClassifier":
                item["random_seed"] = 2
        train(config, [str(TRAIN)], models, fixed_model_name="diet-b")
    if rasa is not None:
        paths["rasa"] = work / "rasa-models" / "rasa-diet.tar.gz"
        if not paths["rasa"].exists():
            subprocess.run([str(rasa), "train", "nlu", "--config", str(RASA_CONFIG), "--nlu", str(TRAIN), "--out",
                            str(work / "rasa-models"), "--fixed-model-name", "rasa-diet"], cwd=work, check=True,
                           env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"})
    return paths


def start_intently(work: Path, model: Path, port: int) -> subprocess.Popen:
    log = open(work / "intently-server.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "intently", "run", "-m", str(model), "--model-dir", str(model.parent), "--enable-api",
         "--interface", "127.0.0.1", "--port", str(port)],
        cwd=work, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def warm_up(base: str, bodies: Path, connections: int) -> None:
    run_wrk(base, bodies, connections, count=500, seconds=60)


def bench_intently(args: argparse.Namespace, work: Path, models: dict[str, Path], bodies: Path,
                   texts: list[str]) -> dict[str, Any]:
    from intently.api import load_model

    results: dict[str, Any] = {}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_intently(work, models["a"], port)
    try:
        wait_ready(base + "/health", server, 120)
        warm_up(base, bodies, args.connections)
        print(f"intently: {args.requests} requests, {args.connections} connections ...", flush=True)
        run = run_wrk(base, bodies, args.connections, count=args.requests, seconds=args.max_seconds)
        run["peak_rss_mb"] = round(peak_rss_mb(server.pid), 1)
        results["intently"] = run
    finally:
        stop(server)

    # The hot swap under load: a fresh server, PUT /model at about half of the requests.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_intently(work, models["a"], port)
    probe = texts[:20]
    # Batch composition moves DIET's float32 scores in the last digits: compare to 3 decimals.
    expected_a = [_rounded(r) for r in load_model(models["a"]).parse_batch(probe)]
    expected_b = [_rounded(r) for r in load_model(models["b"]).parse_batch(probe)]
    swap: dict[str, Any] = {}

    def maybe_swap(done: int) -> None:
        if "status" in swap or done < args.requests // 2:
            return
        started = time.perf_counter()
        status, _ = http("PUT", base + "/model", {"model_file": str(models["b"])}, timeout=120)
        swap["status"] = status
        swap["seconds"] = round(time.perf_counter() - started, 3)
        swap["at_request"] = done
        answers = [_rounded(json.loads(http("POST", base + "/model/parse", {"text": text})[1])) for text in probe]
        swap["answers_from_new_model"] = sum(a == e for a, e in zip(answers, expected_b))
        swap["answers_equal_to_old_model"] = sum(a == e for a, e in zip(answers, expected_a))
        swap["answers_checked"] = len(probe)

    try:
        wait_ready(base + "/health", server, 120)
        warm_up(base, bodies, args.connections)
        print("intently: the same with PUT /model to model B halfway ...", flush=True)
        run = run_wrk(base, bodies, args.connections, count=args.requests, seconds=args.max_seconds,
                      on_progress=maybe_swap)
        status = json.loads(http("GET", base + "/status")[1])
        run["peak_rss_mb"] = round(peak_rss_mb(server.pid), 1)
        run["swap"] = {**swap, "model_after": Path(status["model_file"]).name}
        results["intently_hot_swap"] = run
    finally:
        stop(server)
    return results


def bench_rasa(args: argparse.Namespace, work: Path, model: Path, bodies: Path) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(work / "rasa-server.log", "ab")
    server = subprocess.Popen(
        [str(args.rasa), "run", "--enable-api", "-m", str(model), "-i", "127.0.0.1", "-p", str(port)],
        cwd=work, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        wait_ready(base + "/status", server, 600)
        run_wrk(base, bodies, args.connections, count=None, seconds=10)  # warm-up
        print(f"rasa: {args.rasa_seconds:g} s at {args.connections} connections ...", flush=True)
        run = run_wrk(base, bodies, args.connections, count=None, seconds=args.rasa_seconds)
        run["peak_rss_mb"] = round(peak_rss_mb(server.pid), 1)
        return run
    finally:
        stop(server)


def table(data: dict[str, Any]) -> str:
    header = ["server", "requests", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "failures", "peak RSS MB"]
    rows = []
    names = {"intently": "intently run", "intently_hot_swap": "intently run, PUT /model halfway",
             "rasa": "rasa run --enable-api (3.6)"}
    for key in ("intently", "intently_hot_swap", "rasa"):
        run = data["runs"].get(key)
        if run:
            rows.append([names[key], f"{run['requests']:,}", str(run["connections"]), f"{run['throughput']:,.0f}",
                         f"{run['p50_ms']:.1f}", f"{run['p90_ms']:.1f}", f"{run['p99_ms']:.1f}", str(run["failures"]),
                         f"{run['peak_rss_mb']:.0f}"])
    lines = [f"# `intently run` under load ({data['machine']['cpus']} cores, wrk on the same machine)", "",
             markdown_table(header, rows), ""]
    swap = data["runs"].get("intently_hot_swap", {}).get("swap")
    if swap:
        lines.append(f"Hot swap: PUT /model answered {swap.get('status')} in {swap.get('seconds')} s at request "
                     f"{swap.get('at_request')}; {swap.get('answers_from_new_model')}/{swap.get('answers_checked')} "
                     f"texts parsed right after it equal model B's parse (to 3 decimals), "
                     f"{swap.get('answers_equal_to_old_model')} model A's; model after: {swap.get('model_after')}.")
    lines.append("")
    lines.append("Targets: " + "; ".join(f"{k} {'met' if v else 'not met'}" for k, v in data["targets_met"].items()))
    lines.append("")
    lines.append(f"Load averages before / after: {data['loadavg_before']} / {data['loadavg_after']}. "
                 f"Generated by `{data['command']}`.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000, help="requests of each intently run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=900, help="time bound of each run")
    parser.add_argument("--rasa", type=Path, default=Path("/tmp/rasa-venv/bin/rasa"))
    parser.add_argument("--rasa-seconds", type=float, default=60, help="length of Rasa's run")
    parser.add_argument("--skip-rasa", action="store_true")
    parser.add_argument("--work", type=Path, default=Path("/tmp/intently-serve-bench"))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--stem", default="serve")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    rasa = None if args.skip_rasa or not args.rasa.exists() else args.rasa
    if rasa is None and not args.skip_rasa:
        print(f"no Rasa at {args.rasa}: its run is left out (../shared/peers/rasa/install.sh installs it)")
    args.work.mkdir(parents=True, exist_ok=True)
    loadavg_before = os.getloadavg()
    models = train_models(args.work, rasa)
    bodies, texts = bodies_file(args.work)
    runs = bench_intently(args, args.work, models, bodies, texts)
    if rasa is not None:
        runs["rasa"] = bench_rasa(args, args.work, models["rasa"], bodies)
    ours, theirs = runs["intently"], runs.get("rasa")
    met = {
        f">= {TARGETS['throughput']:.0f} req/s": ours["throughput"] >= TARGETS["throughput"],
        f"p99 <= {TARGETS['p99_ms']:.0f} ms": ours["p99_ms"] <= TARGETS["p99_ms"],
        f"RSS <= {TARGETS['rss_mb']:.0f} MB": ours["peak_rss_mb"] <= TARGETS["rss_mb"],
        "0 failures, hot swap included": ours["failures"] == 0 and runs["intently_hot_swap"]["failures"] == 0,
    }
    ratios = {}
    if theirs:
        ratios = {"throughput_x": round(ours["throughput"] / theirs["throughput"], 1),
                  "p99_ratio": round(ours["p99_ms"] / theirs["p99_ms"], 3)}
        met[f">= {TARGETS['vs_rasa_throughput']:.0f}x Rasa's req/s ({ratios['throughput_x']}x)"] = (
            ratios["throughput_x"] >= TARGETS["vs_rasa_throughput"])
        met[f"<= {TARGETS['vs_rasa_p99']}x Rasa's p99 ({ratios['p99_ratio']}x)"] = (
            ratios["p99_ratio"] <= TARGETS["vs_rasa_p99"])
    data = {
        "machine": environment(),
        "command": "python benchmarks/serve.py " + " ".join(sys.argv[1:]),
        "loadavg_before": [round(x, 2) for x in loadavg_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "model": {"config": "benchmarks/configs/diet.yml", "train": "snips/train-100.yml", "texts": "snips/test.yml"},
        "runs": runs,
        "vs_rasa": ratios,
        "targets_met": met,
    }
    json_path, md_path = write_outputs(args.out, args.stem, data, table(data))
    print(table(data))
    print(f"\nwritten: {json_path}, {md_path}")


if __name__ == "__main__":
    main()
