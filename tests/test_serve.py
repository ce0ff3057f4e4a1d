"""serve: the HTTP endpoints, bad requests, many clients while the logs grow, SIGTERM, and a real Prometheus."""

import http.client
import json
import queue
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request

import pytest

from logsynth import assistant_line, write_lines
from support import first_line_is_one_error

# Every wait for the server is bounded by this many seconds.
WAIT = 30


class Served:
    """A `ccusage serve` process on a free loopback port, its log lines kept as they come."""

    def __init__(self, env, *argv):
        self.proc = subprocess.Popen(env.command("serve", "--port", "0", *argv), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.log = []
        threading.Thread(target=self._read, daemon=True).start()
        self.port = None
        deadline = time.monotonic() + WAIT
        while self.port is None:
            line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            assert line is not None, f"serve ended before it listened: {self.log}"
            listening = re.search(r" serving http://[^/]+:(\d+)/", line)
            if listening:
                self.port = int(listening.group(1))

    def _read(self):
        for line in self.proc.stderr:
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def stop(self):
        """SIGTERM; (exit status, every log line)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while self.lines.get(timeout=max(deadline - time.monotonic(), 0.01)) is not None:
            pass
        return code, "".join(self.log)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)


def request(port, path, method="GET", headers=None, connection=None):
    """(status, headers, body) of one request (on connection when given, kept open)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    if connection is None:
        conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def raw_request(port, data):
    """What the server answers to bytes sent as they are, until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def write_calls(env):
    """Two sessions of known usage: 18,400 tokens in 3 calls."""
    write_lines(env.log(session="sess-a", cwd="/home/u/alpha"), [
        assistant_line(ts="2026-11-20T09:00:00.000Z", session="sess-a", cwd="/home/u/alpha",
                       input=1000, output=2000, cache_5m=4000, cache_1h=1000, cache_read=10000),
        assistant_line(ts="2026-11-20T09:30:00.000Z", session="sess-a", cwd="/home/u/alpha", output=100)])
    write_lines(env.log(session="sess-b", cwd="/home/u/beta"), [
        assistant_line(ts="2026-11-21T10:00:00.000Z", session="sess-b", cwd="/home/u/beta",
                       model="claude-haiku-4-5-20251001", input=100, output=200)])
    return 18_400


def test_the_endpoints_answer(env):
    total = write_calls(env)
    with Served(env) as served:
        status, headers, body = request(served.port, "/metrics")
        assert (status, headers["content-type"]) == (200, "text/plain; version=0.0.4; charset=utf-8")
        text = body.decode()
        assert "# TYPE ccusage_tokens_total counter" in text
        assert sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("ccusage_tokens_total{")) == total
        status, headers, body = request(served.port, "/api/summary")
        assert (status, headers["content-type"]) == (200, "application/json")
        summary = json.loads(body)
        assert summary["totals"]["totalTokens"] == total and summary["totals"]["calls"] == 3
        assert summary["sessionCount"] == 2
        assert summary["lastActivity"] == "2026-11-21T10:00:00.000Z"
        # Those calls are long past: no window is active now.
        assert (summary["window"], summary["burnRate"], summary["activeSession"]) == (None, None, None)
        status, _, body = request(served.port, "/api/history?days=366")
        history = json.loads(body)
        assert [(d["date"], d["totalTokens"]) for d in history["daily"]] == [("2026-11-20", 18_100),
                                                                             ("2026-11-21", 300)]
        assert history["totals"]["totalTokens"] == total
        status, _, body = request(served.port, "/api/history")
        assert status == 200 and json.loads(body)["daily"] == []  # the default 7 days hold none of them
        status, _, body = request(served.port, "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, headers, body = request(served.port, "/metrics", method="HEAD")
        assert (status, body) == (200, b"") and int(headers["content-length"]) == len(text.encode())
        code, log = served.stop()
    assert code == 0
    assert log.endswith("ccusage: stopped\n")
    # Answered requests are not logged (--verbose logs them).
    assert "/metrics" not in log.split("serving", 1)[1].split("\n", 1)[1]


def test_bad_requests_are_refused_and_logged_escaped(env):
    write_calls(env)
    with Served(env) as served:
        assert request(served.port, "/nowhere")[0] == 404
        assert request(served.port, "/metrics/")[0] == 404
        status, headers, _ = request(served.port, "/metrics", method="POST")
        assert (status, headers["allow"]) == (405, "GET, HEAD")
        assert request(served.port, "/metrics", method="DELETE")[0] == 405
        for bad in ("/api/history?days=0", "/api/history?days=367", "/api/history?days=x",
                    "/api/history?days=1&days=2", "/api/history?days=%C2%B2", "/api/summary?verbose=1",
                    "/metrics?a=%zz&b"):
            status, _, body = request(served.port, bad)
            assert status == 400 and "error" in json.loads(body), bad
        assert request(served.port, "/metrics", headers={"Content-Length": "5"})[0] == 400
        assert raw_request(served.port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n").startswith(
            b"HTTP/1.1 400 ")
        assert raw_request(served.port, b"NONSENSE\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        escape = b"GET /\x1b[31mred HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert raw_request(served.port, escape).startswith(b"HTTP/1.1 404 ")
        # Still answering.
        assert request(served.port, "/healthz")[0] == 200
        code, log = served.stop()
    assert code == 0
    assert "\x1b" not in log and "GET /\\x1b[31mred" in log
    assert "POST /metrics HTTP/1.1 405" in log


def test_a_thousand_requests_from_twenty_clients_while_the_logs_grow(env):
    write_calls(env)
    appended = 200
    paths = ["/metrics", "/api/summary", "/api/history?days=30", "/healthz"]
    with Served(env) as served:
        started = time.monotonic()
        failures, answered = [], []

        def client(number):
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=WAIT)
            try:
                for i in range(50):
                    path = paths[(number + i) % len(paths)]
                    status, _, body = request(served.port, path, connection=conn)
                    complete = body.endswith(b"\n") and (path == "/metrics" or json.loads(body))
                    (answered if status == 200 and complete else failures).append((path, status))
            except Exception as exc:  # a dropped request is what this test looks for
                failures.append(repr(exc))
            finally:
                conn.close()

        def writer():
            path = env.log(session="grows", cwd="/home/u/grows")
            for i in range(appended):
                write_lines(path, [assistant_line(ts="2026-11-22T12:00:00.000Z", session="grows",
                                                  cwd="/home/u/grows", output=1)])
                time.sleep(0.002)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(20)] + [threading.Thread(target=writer)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        assert failures == [] and len(answered) == 1000
        # Every appended line is counted once a refresh has read it.
        deadline = time.monotonic() + WAIT
        while json.loads(request(served.port, "/api/summary")[2])["totals"]["calls"] != 3 + appended:
            assert time.monotonic() < deadline, "the appended calls never showed"
            time.sleep(0.2)
        refreshes = json.loads(request(served.port, "/healthz")[2])["refreshes"]
        elapsed = time.monotonic() - started
        assert 2 <= refreshes <= elapsed / 1.0 + 2, (refreshes, elapsed)
        assert served.stop()[0] == 0


def test_requests_are_answered_while_another_process_holds_the_store(env):
    write_calls(env)
    with Served(env) as served:
        # As a long ingest by another ccusage would: the refresh that reads the new line waits for it.
        other = sqlite3.connect(env.db, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            write_lines(env.log(session="late", cwd="/home/u/late"),
                        [assistant_line(ts="2026-11-22T08:00:00.000Z", session="late", cwd="/home/u/late", output=7)])
            # Long enough for the figures to be due a refresh, which then waits for the lock.
            until = time.monotonic() + 2.5
            while time.monotonic() < until:
                status, _, body = request(served.port, "/api/summary")
                assert (status, json.loads(body)["totals"]["calls"]) == (200, 3)
        finally:
            other.execute("ROLLBACK")
            other.close()
        deadline = time.monotonic() + WAIT
        while json.loads(request(served.port, "/api/summary")[2])["totals"]["calls"] != 4:
            assert time.monotonic() < deadline, "the new call never showed"
            time.sleep(0.2)
        assert served.stop()[0] == 0


def test_a_slow_client_holds_up_no_one(env):
    write_calls(env)
    with Served(env) as served:
        with socket.create_connection(("127.0.0.1", served.port), timeout=WAIT) as slow:
            slow.sendall(b"GET /metr")
            assert request(served.port, "/healthz")[0] == 200
            assert request(served.port, "/api/summary")[0] == 200
        assert served.stop()[0] == 0


def test_a_remote_address_needs_allow_remote_and_gets_a_warning(env):
    result = env.run("serve", "--host", "0.0.0.0")
    assert result.code == 2 and "--allow-remote" in result.err
    first_line_is_one_error(result)
    assert env.run("serve", "--port", "65536").code == 2
    write_calls(env)
    with Served(env, "--host", "0.0.0.0", "--allow-remote") as served:
        code, log = served.stop()
    assert code == 0
    assert "warning: listening on 0.0.0.0, which other machines can reach: anyone who reaches it reads" in log


def test_a_port_in_use_is_one_error(env):
    write_calls(env)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = env.cli("serve", "--port", taken.getsockname()[1], timeout=WAIT)
    assert result.code == 1 and "cannot listen on 127.0.0.1:" in result.err
    first_line_is_one_error(result)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(not shutil.which("prometheus"),
                    reason="the prometheus server is not installed (Debian's prometheus package)")
def test_prometheus_scrapes_serve_and_queries_our_token_total(env):
    total = write_calls(env)
    with Served(env) as served:
        config = env.tmp / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                          "scrape_configs:\n  - job_name: ccusage\n    static_configs:\n"
                          f"      - targets: ['127.0.0.1:{served.port}']\n")
        port = free_port()
        prometheus = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={env.tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=env.tmp)
        try:
            url = f"http://127.0.0.1:{port}/api/v1/query?query=sum(ccusage_tokens_total)"
            deadline = time.monotonic() + WAIT
            result = []
            while not result:
                assert time.monotonic() < deadline, "Prometheus never had ccusage_tokens_total"
                assert prometheus.poll() is None, prometheus.stderr.read().decode()
                try:
                    with urllib.request.urlopen(url, timeout=WAIT) as answer:
                        result = json.load(answer)["data"]["result"]
                except OSError:
                    pass  # not listening yet
                if not result:
                    time.sleep(0.25)
            assert float(result[0]["value"][1]) == total
        finally:
            prometheus.terminate()
            prometheus.wait(timeout=WAIT)
        assert served.stop()[0] == 0
