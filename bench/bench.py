#!/usr/bin/env python3
"""The measuring half of `make bench` (scripts/bench.sh starts the servers, then runs this).

Generates an account tree and an attempt history straight in CouchDB, logs in through the
service, drives load with wrk (bench/wrk.lua) from a separate process, and writes one table of
ratios, each measured side by side in this run, to stdout and bench/results.md, plus a plot of
latency by tree depth and by attempt volume to bench/results.svg.

Python standard library only. Settings come from the environment (defaults in brackets):
  BENCH_DURATION [5]       seconds of each throughput run (P1, P3)
  BENCH_THREADS [2]        wrk threads of throughput runs
  BENCH_CONNS [32]         wrk connections of throughput runs
  BENCH_LAT_DURATION [4]   seconds of each latency run (P2, P4, the plot)
  BENCH_LAT_CONNS [1]      connections of latency runs (one request at a time: its latency)
  BENCH_WARMUP [1]         seconds of an unrecorded run before each measured one
  BENCH_ATTEMPTS [100000]  attempts in the big month database (P4); 1% and 10% accounts too
  BENCH_P5_CONNS [1000]    keep-alive connections held for P5
  BENCH_P5_DURATION [10]   seconds P5 holds them
"""

import argparse
import calendar
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

GREGORIAN_OFFSET = 62_167_219_200
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WRK_SCRIPT = os.path.join(HERE, "wrk.lua")


def env_int(name, default):
    return int(os.environ.get(name, default))


DURATION = env_int("BENCH_DURATION", 5)
THREADS = env_int("BENCH_THREADS", 2)
CONNS = env_int("BENCH_CONNS", 32)
LAT_DURATION = env_int("BENCH_LAT_DURATION", 4)
LAT_CONNS = env_int("BENCH_LAT_CONNS", 1)
WARMUP = env_int("BENCH_WARMUP", 1)
ATTEMPTS = env_int("BENCH_ATTEMPTS", 100_000)
P5_CONNS = env_int("BENCH_P5_CONNS", 1000)
P5_DURATION = env_int("BENCH_P5_DURATION", 10)
CHAIN_DEPTH = 10
PASSWORD = "Bench-Kestrel-42"


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


class Phases:
    """Wall time of each phase, for the report."""

    def __init__(self):
        self.times = []
        self.started = None
        self.name = None

    def start(self, name):
        self.stop()
        self.name, self.started = name, time.monotonic()
        log(name + " ...")

    def stop(self):
        if self.name:
            self.times.append((self.name, time.monotonic() - self.started))
            self.name = None


# ----------------------------------------------------------------------------------------
# HTTP


def http(method, url, body=None, headers=None, timeout=60):
    """(status, parsed JSON or text) of one request; never raises on an HTTP status."""
    data = None
    all_headers = {"Accept": "application/json"}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def enc(db):
    return urllib.parse.quote(db, safe="")


class Couch:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def db_url(self, db):
        return f"{self.url}/{enc(db)}"

    def create_db(self, db):
        status, body = http("PUT", self.db_url(db))
        if status not in (201, 202, 412):
            raise SystemExit(f"bench: creating {db} failed: {status} {body}")

    def bulk(self, db, docs, timeout=300):
        status, body = http("POST", self.db_url(db) + "/_bulk_docs", {"docs": docs},
                            timeout=timeout)
        if status not in (201, 202):
            raise SystemExit(f"bench: _bulk_docs into {db} failed: {status} {str(body)[:300]}")
        bad = [row for row in body if "error" in row]
        if bad:
            raise SystemExit(f"bench: _bulk_docs into {db}: {len(bad)} rejected, e.g. {bad[0]}")


# ----------------------------------------------------------------------------------------
# Data


def new_id():
    return secrets.token_hex(16)


def account_db(account_id):
    return f"account/{account_id[:2]}/{account_id[2:4]}/{account_id[4:]}"


def md5_hex(text):
    return hashlib.md5(text.encode()).hexdigest()


def design_docs(folder):
    docs = []
    for name in sorted(os.listdir(os.path.join(ROOT, "views", folder))):
        if name.endswith(".json"):
            with open(os.path.join(ROOT, "views", folder, name)) as f:
                docs.append(json.load(f))
    return docs


class Account:
    def __init__(self, name, parent, depth):
        self.id = new_id()
        self.name = name
        self.depth = depth
        self.tree = (parent.tree + [parent.id]) if parent else []
        self.api_key = secrets.token_hex(32)
        self.db = account_db(self.id)
        self.admin = f"admin.{self.id[:8]}"

    def doc(self):
        return {
            "_id": self.id, "name": self.name, "realm": f"{self.id[:12]}.bench.test",
            "pvt_type": "account", "pvt_account_id": self.id,
            "pvt_account_db": self.db.replace("/", "%2F"), "pvt_api_key": self.api_key,
            "pvt_tree": self.tree, "pvt_vsn": "1", "enabled": True, "pvt_enabled": True,
            "pvt_created": 63870998400, "pvt_modified": 63870998400,
            "pvt_signature_secret": new_id(),
        }

    def user(self, username, priv_level):
        return {
            "_id": new_id(), "pvt_type": "user", "username": username,
            "first_name": "Bench", "last_name": "User", "priv_level": priv_level,
            "enabled": True, "pvt_md5_auth": md5_hex(f"{username}:{PASSWORD}"),
            "pvt_sha1_auth": hashlib.sha1(f"{username}:{PASSWORD}".encode()).hexdigest(),
            "pvt_signature_secret": new_id(), "pvt_account_id": self.id,
            "pvt_account_db": self.db.replace("/", "%2F"), "pvt_vsn": "1",
        }

    def credentials(self):
        return md5_hex(f"{self.admin}:{PASSWORD}")

    def month_db(self, year, month):
        return f"{self.db}-{year:04d}{month:02d}"


def security_config(depth):
    """The security config some accounts of the chain hold, as Kazoo stores it."""
    modules = {"cb_user_auth": {"token_auth_expiry_s": 3600 + 60 * depth}}
    if depth == 1:
        modules["cb_api_auth"] = {"token_auth_expiry_s": 7200}
    return {"_id": "configs_crossbar.auth", "pvt_type": "account_config",
            "auth_modules": modules}


CONFIG_DEPTHS = {1, 3, 5, 7, 9, 10}


def load_accounts(couch, chain, others):
    accounts = chain + others
    account_designs = design_docs("account")
    for acct in accounts:
        couch.create_db(acct.db)
        docs = [acct.doc(), acct.user(acct.admin, "admin"),
                acct.user(f"clerk.{acct.id[:8]}", "user")]
        docs += [dict(d) for d in account_designs]
        if acct in chain and acct.depth in CONFIG_DEPTHS:
            docs.append(security_config(acct.depth))
        couch.bulk(acct.db, docs)
    couch.bulk("accounts", [a.doc() for a in accounts])
    couch.bulk("services", [
        {"_id": a.id, "pvt_type": "service", "pvt_reseller": a.depth == 1 and not a.tree,
         "pvt_tree": a.tree, "pvt_vsn": 2} for a in accounts])


def attempt_window(now):
    """(year, month, first, last): Unix seconds inside the current UTC month, at most
    2,000,000 s back, so that the service's default listing range covers them."""
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    month_start = calendar.timegm((today.year, today.month, 1, 0, 0, 0))
    last = max(now - 5, month_start)
    first = max(month_start, now - 2_000_000)
    return today.year, today.month, min(first, last), last


def load_attempts(couch, acct, count, now, batch=5000):
    year, month, first, last = attempt_window(now)
    db = acct.month_db(year, month)
    couch.create_db(db)
    couch.bulk(db, [dict(d) for d in design_docs("modb")])
    prefix = f"{year:04d}{month:02d}"
    for start in range(0, count, batch):
        docs = []
        for i in range(start, min(start + batch, count)):
            t = first + (last - first) * i // max(count - 1, 1) + GREGORIAN_OFFSET
            ok = t % 3 != 0
            docs.append({
                "_id": f"{prefix}-{new_id()}", "auth_type": "jwt_auth_token" if ok else
                "credentials", "status": "success" if ok else "failed",
                "auth_module": "cb_user_auth",
                "message": "authentication resulted in token creation" if ok else
                "invalid credentials", "client_ip": f"192.0.2.{i % 250 + 1}",
                "timestamp": t, "pvt_type": "login_attempt", "pvt_account_id": acct.id,
                "pvt_created": t, "pvt_modified": t,
            })
        couch.bulk(db, docs)
    return db


# ----------------------------------------------------------------------------------------
# Load


class ServiceLog:
    """The service's log file: status codes and warnings written during a run."""

    ANSI = re.compile(r"\x1b\[[0-9;]*m")
    STATUS = re.compile(r"http\.status_code=(\d+)")
    LEVEL = re.compile(r"^\S+\s+(WARN|ERROR)\s")

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def mark(self):
        self.offset = os.path.getsize(self.path) if self.path else 0

    def since_mark(self):
        statuses, problems = {}, {}
        if not self.path:
            return statuses, problems
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            for raw in f:
                line = self.ANSI.sub("", raw.decode(errors="replace"))
                m = self.STATUS.search(line)
                if m:
                    statuses[m.group(1)] = statuses.get(m.group(1), 0) + 1
                lvl = self.LEVEL.search(line)
                if lvl:
                    # Group by the message, without timestamps and ids.
                    text = re.sub(r"^\S+\s+", "", line.strip())
                    text = re.sub(r"[0-9a-f]{16,}|\d+", "#", text)[:160]
                    problems[text] = problems.get(text, 0) + 1
        return statuses, problems


class CPU:
    """CPU seconds (user + system) of the service instances and CouchDB, from /proc."""

    pids = {}
    TICK = os.sysconf("SC_CLK_TCK")

    @classmethod
    def snapshot(cls):
        out = {}
        for name, pid in cls.pids.items():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                # utime and stime: fields 14 and 15 of stat(5), 12th and 13th after the name.
                out[name] = (int(fields[11]) + int(fields[12])) / cls.TICK
            except (OSError, IndexError, ValueError):
                out[name] = None
        return out

    @staticmethod
    def used(before, after):
        return {k: (after[k] - before[k]) if before.get(k) is not None and
                after.get(k) is not None else None for k in after}


class Run:
    """One wrk run's numbers."""

    def __init__(self, label, result, statuses=None, problems=None):
        self.label = label
        self.raw = result
        self.requests = result["requests"]
        self.seconds = result["duration_us"] / 1e6
        self.rps = self.requests / self.seconds if self.seconds else 0.0
        self.mean_ms = result["latency_us"]["mean"] / 1000
        self.p50_ms = result["latency_us"]["p50"] / 1000
        self.p99_ms = result["latency_us"]["p99"] / 1000
        errors = result["errors"]
        self.non2xx = errors["status"]
        self.socket_errors = {k: v for k, v in errors.items() if k != "status" and v}
        # Status codes by count: from the service's log, or a diagnostic run.
        self.statuses = statuses or {}
        self.problems = problems or {}
        self.cpu = {}

    def errors_text(self):
        parts = [f"{self.non2xx} non-2xx"]
        bad = {k: v for k, v in self.statuses.items() if not k.startswith("2")}
        if bad:
            parts[0] += " (" + ", ".join(f"{k}×{v}" for k, v in sorted(bad.items())) + ")"
        if self.socket_errors:
            parts.append(", ".join(f"{v} {k}" for k, v in self.socket_errors.items()))
        return "; ".join(parts)

    def clean(self):
        return self.non2xx == 0 and not self.socket_errors


def wrk(url, method="GET", headers=None, body=None, unique=None, threads=THREADS,
        conns=CONNS, duration=DURATION, statuses=False):
    env = dict(os.environ)
    env["WRK_METHOD"] = method
    env["WRK_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in (headers or {}).items())
    env["WRK_BODY"] = json.dumps(body) if body is not None else ""
    env["WRK_RUN"] = new_id()[:12]
    env.pop("WRK_UNIQUE", None)
    if unique:
        env["WRK_UNIQUE"] = unique
    env["WRK_STATUSES"] = "1" if statuses else "0"
    command = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration}s",
               "--timeout", "10s", "-s", WRK_SCRIPT, url]
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise SystemExit(f"bench: wrk gave no result ({done.returncode}):\n{done.stdout}\n"
                     f"{done.stderr}")


def measure(label, url, service_log=None, latency=False, **request):
    """A warm-up run (not recorded), then the measured one."""
    threads, conns, duration = ((1, LAT_CONNS, LAT_DURATION) if latency
                                else (THREADS, CONNS, DURATION))
    threads = min(threads, conns)
    if WARMUP > 0:
        wrk(url, threads=threads, conns=conns, duration=WARMUP, **request)
    if service_log:
        service_log.mark()
    cpu_before = CPU.snapshot()
    result = wrk(url, threads=threads, conns=conns, duration=duration, **request)
    cpu_after = CPU.snapshot()
    statuses, problems = service_log.since_mark() if service_log else ({}, {})
    run = Run(label, result, statuses, problems)
    run.cpu = CPU.used(cpu_before, cpu_after)
    if service_log and run.requests and not statuses:
        log(f"  warning: no 'request completed' lines in {service_log.path} during {label}; "
            "status codes of failures cannot be named (RUST_LOG must keep info)")
    if not service_log and run.non2xx:
        # CouchDB keeps no such log: a short run that counts responses by status.
        diag = wrk(url, threads=threads, conns=conns, duration=2, statuses=True, **request)
        run.statuses = diag.get("statuses", {})
    log(f"  {label}: {run.rps:.0f} req/s, mean {run.mean_ms:.2f} ms, p50 {run.p50_ms:.2f} ms, "
        f"{run.errors_text()}")
    return run


def vm_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def rss_mb(pid):
    return int(vm_status(pid)["VmRSS"].split()[0]) / 1024


def socket_inodes(pid):
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def tcp_ports():
    """inode -> (local port, remote port) of every TCP socket of this network namespace."""
    ports = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    local, remote, inode = cols[1], cols[2], cols[9]
                    ports[inode] = (int(local.rsplit(":", 1)[1], 16),
                                    int(remote.rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def sockets_of(pid, service_port, couch_port):
    """(client connections, CouchDB connections, other sockets) the process holds."""
    inodes = socket_inodes(pid)
    ports = tcp_ports()
    clients = couch = 0
    for inode in inodes:
        local, remote = ports.get(inode, (None, None))
        if local == service_port and remote:
            clients += 1
        elif remote == couch_port:
            couch += 1
    return clients, couch, len(inodes) - clients - couch


def hold_connections(url, pid, headers, service_log, couch_port):
    """P5: VmRSS of the service while wrk keeps P5_CONNS keep-alive connections busy."""
    service_port = urllib.parse.urlsplit(url).port
    idle = rss_mb(pid)
    service_log.mark()
    samples = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                samples.append((rss_mb(pid),) + sockets_of(pid, service_port, couch_port))
            except OSError:
                pass
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu_before = CPU.snapshot()
    result = wrk(url, headers=headers, threads=min(THREADS, P5_CONNS), conns=P5_CONNS,
                 duration=P5_DURATION)
    cpu_after = CPU.snapshot()
    stop.set()
    sampler.join()
    statuses, problems = service_log.since_mark()
    run = Run(f"P5 GET /v2/security, {P5_CONNS:,} connections", result, statuses, problems)
    run.cpu = CPU.used(cpu_before, cpu_after)
    peak = max(samples) if samples else (rss_mb(pid), 0, 0, 0)
    out = {
        "run": run, "idle_mb": idle, "peak_mb": peak[0],
        "clients": max((x[1] for x in samples), default=0),
        "couch": max((x[2] for x in samples), default=0),
        "after_mb": rss_mb(pid),
    }
    log(f"  P5: idle {idle:.1f} MB, peak {out['peak_mb']:.1f} MB with up to "
        f"{out['clients']} client and {out['couch']} CouchDB connections, "
        f"{run.requests} requests completed, {run.errors_text()}")
    return out


# ----------------------------------------------------------------------------------------
# Report


def machine():
    def first(path, key):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    def run(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                  timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"

    commit = run("git", "rev-parse", "--short", "HEAD") or "?"
    if run("git", "status", "--porcelain", "--untracked-files=no", "--", "src", "Cargo.toml",
           "Cargo.lock"):
        commit += " + uncommitted changes under src/ or Cargo.*"
    mem_kb = first("/proc/meminfo", "MemTotal").split()[0]
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": run("nproc"),
        "memory": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "cpu": first("/proc/cpuinfo", "model name"),
        "commit": commit,
        "rustc": run("rustc", "--version"),
        "wrk": (run("sh", "-c", "wrk --version 2>&1 | head -n1").split(" Copyright")[0]),
        "load": load,
    }


def fmt_ratio(value):
    return f"{value:.2f}×" if value < 100 else f"{value:.0f}×"


def build_table(r):
    p1, p1_raw, p1_cheap = r["p1"], r["p1_raw"], r["p1_cheap"]
    d1, d10 = r["depth"][1], r["depth"][10]
    p3, p3_raw = r["p3"], r["p3_raw"]
    p4, p4_raw = r["attempts"][ATTEMPTS]
    p5 = r["p5"]

    rows = []

    def row(key, what, service, baseline, ratio, goal, met, errors):
        rows.append((key, what, service, baseline, ratio, goal, "yes" if met else "**no**",
                     errors))

    ratio = p1.rps / p1_raw.rps if p1_raw.rps else 0
    row("P1", "warm `GET /v2/accounts/{A}/security`, depth 3, vs raw CouchDB doc GET "
        "(throughput)", f"{p1.rps:,.0f} req/s", f"{p1_raw.rps:,.0f} req/s",
        fmt_ratio(ratio), "≥ 10×", ratio >= 10,
        f"svc {p1.errors_text()}; couch {p1_raw.errors_text()}")
    ratio = p1.rps / p1_cheap.rps if p1_cheap.rps else 0
    row("P1", "same, vs the cheapest route `GET /v2/security` (throughput)",
        f"{p1.rps:,.0f} req/s", f"{p1_cheap.rps:,.0f} req/s", fmt_ratio(ratio), "≥ 0.5×",
        ratio >= 0.5, f"cheapest {p1_cheap.errors_text()}")
    ratio = d10.p50_ms / d1.p50_ms if d1.p50_ms else 0
    mean_ratio = d10.mean_ms / d1.mean_ms if d1.mean_ms else 0
    row("P2", "cold `GET …/security` (CONFIG_CACHE_TTL=0), depth 10 vs depth 1 (median "
        "latency)", f"{d10.p50_ms:.2f} ms (mean {d10.mean_ms:.2f})",
        f"{d1.p50_ms:.2f} ms (mean {d1.mean_ms:.2f})",
        f"{fmt_ratio(ratio)} (of means {fmt_ratio(mean_ratio)})", "≤ 1.5×", ratio <= 1.5,
        f"d10 {d10.errors_text()}; d1 {d1.errors_text()}")
    ratio = p3.rps / p3_raw.rps if p3_raw.rps else 0
    row("P3", "`PUT /v2/user_auth` (success logged) vs raw CouchDB doc PUT (throughput)",
        f"{p3.rps:,.0f} req/s", f"{p3_raw.rps:,.0f} req/s", fmt_ratio(ratio), "≥ 0.5×",
        ratio >= 0.5, f"svc {p3.errors_text()}; couch {p3_raw.errors_text()}")
    ratio = p4.p50_ms / p4_raw.p50_ms if p4_raw.p50_ms else 0
    mean_ratio = p4.mean_ms / p4_raw.mean_ms if p4_raw.mean_ms else 0
    row("P4", f"attempts page of 50, month of {ATTEMPTS:,}, vs raw view query limit=51 "
        "(median latency)", f"{p4.p50_ms:.2f} ms (mean {p4.mean_ms:.2f})",
        f"{p4_raw.p50_ms:.2f} ms (mean {p4_raw.mean_ms:.2f})",
        f"{fmt_ratio(ratio)} (of means {fmt_ratio(mean_ratio)})", "≤ 1.5×", ratio <= 1.5,
        f"svc {p4.errors_text()}; couch {p4_raw.errors_text()}")
    run = p5["run"]
    row("P5", f"VmRSS with {P5_CONNS:,} keep-alive connections on `GET /v2/security`",
        f"{p5['peak_mb']:.1f} MB peak (up to {p5['clients']:,} client and {p5['couch']:,} "
        f"CouchDB connections open)", f"{p5['idle_mb']:.1f} MB before", "—", "≤ 50 MB",
        p5["peak_mb"] <= 50, f"{run.errors_text()}; {run.requests:,} requests completed in "
        f"{run.seconds:.0f} s")

    head = ("| | measure | service | baseline | ratio | goal | met | errors under load |\n"
            "|---|---|---|---|---|---|---|---|\n")
    return head + "".join("| " + " | ".join(cells) + " |\n" for cells in rows)


def runs_table(r):
    lines = ["| run | req/s | mean ms | p50 ms | p99 ms | requests | errors | CPU s service "
             "| CPU s CouchDB |", "|---|---|---|---|---|---|---|---|---|"]

    def cpu(value):
        return "?" if value is None else f"{value:.1f}"

    for run in r["all_runs"]:
        service = run.cpu.get("cold") if "cold" in run.label else run.cpu.get("svc")
        lines.append(f"| {run.label} | {run.rps:,.1f} | {run.mean_ms:.2f} | {run.p50_ms:.2f} "
                     f"| {run.p99_ms:.2f} | {run.requests:,} | {run.errors_text()} "
                     f"| {cpu(service)} | {cpu(run.cpu.get('couch'))} |")
    return "\n".join(lines) + "\n"


def series_table(r):
    lines = ["| tree depth (TTL=0) | 1 | 3 | 5 | 10 |", "|---|---|---|---|---|"]
    lines.append("| cold `GET …/security`, median ms | " + " | ".join(
        f"{r['depth'][d].p50_ms:.2f}" for d in (1, 3, 5, 10)) + " |")
    lines.append("| mean ms | " + " | ".join(
        f"{r['depth'][d].mean_ms:.2f}" for d in (1, 3, 5, 10)) + " |")
    lines.append("")
    volumes = sorted(r["attempts"])
    lines.append("| attempts in the month | " + " | ".join(f"{v:,}" for v in volumes) + " |")
    lines.append("|---" * (len(volumes) + 1) + "|")
    for i, name in ((0, "service page of 50"), (1, "raw view limit=51")):
        lines.append(f"| {name}, median ms | " + " | ".join(
            f"{r['attempts'][v][i].p50_ms:.2f}" for v in volumes) + " |")
        lines.append(f"| {name}, mean ms | " + " | ".join(
            f"{r['attempts'][v][i].mean_ms:.2f}" for v in volumes) + " |")
    return "\n".join(lines) + "\n"


def problems_text(r):
    seen = {}
    for run in r["all_runs"]:
        for text, count in run.problems.items():
            seen.setdefault(text, []).append(f"{run.label}×{count}")
    if not seen:
        return "No WARN or ERROR lines in the service logs during the measured runs.\n"
    out = ["WARN/ERROR lines in the service logs during measured runs (digits and ids as #):",
           ""]
    for text, where in sorted(seen.items(), key=lambda kv: -len(kv[1])):
        out.append(f"- `{text}` — {', '.join(where)}")
    return "\n".join(out) + "\n"


# ----------------------------------------------------------------------------------------
# Plot: a hand-written SVG with two line charts.


def svg_chart(x0, y0, w, h, title, xlabel, xs, xlabels, lines):
    """A line chart at (x0, y0) of size w × h; lines = [(name, colour, ys)]."""
    ymax = 1.08 * max(max(ys) for _, _, ys in lines) or 1.0
    step = nice_step(ymax / 5)
    ytop = step * (int(ymax / step) + 1)
    left, right, top, bottom = 60, 45, 62, 50
    pw, ph = w - left - right, h - top - bottom
    xmin, xmax = min(xs), max(xs)

    def px(x):
        return x0 + left + (pw * (x - xmin) / (xmax - xmin) if xmax > xmin else pw / 2)

    def py(y):
        return y0 + top + ph - ph * y / ytop

    out = [f'<text x="{x0 + w / 2}" y="{y0 + 22}" text-anchor="middle" font-size="15" '
           f'font-weight="bold">{title}</text>']
    # Grid and y axis labels.
    y = 0.0
    while y <= ytop + 1e-9:
        out.append(f'<line x1="{x0 + left}" y1="{py(y):.1f}" x2="{x0 + left + pw}" '
                   f'y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{x0 + left - 6}" y="{py(y) + 4:.1f}" text-anchor="end" '
                   f'font-size="11">{y:g}</text>')
        y += step
    out.append(f'<line x1="{x0 + left}" y1="{y0 + top}" x2="{x0 + left}" y2="{y0 + top + ph}" '
               f'stroke="#333"/>')
    out.append(f'<line x1="{x0 + left}" y1="{y0 + top + ph}" x2="{x0 + left + pw}" '
               f'y2="{y0 + top + ph}" stroke="#333"/>')
    for x, label in zip(xs, xlabels):
        out.append(f'<line x1="{px(x):.1f}" y1="{y0 + top + ph}" x2="{px(x):.1f}" '
                   f'y2="{y0 + top + ph + 5}" stroke="#333"/>')
        out.append(f'<text x="{px(x):.1f}" y="{y0 + top + ph + 18}" text-anchor="middle" '
                   f'font-size="11">{label}</text>')
    out.append(f'<text x="{x0 + left + pw / 2}" y="{y0 + h - 8}" text-anchor="middle" '
               f'font-size="12">{xlabel}</text>')
    out.append(f'<text x="{x0 + 14}" y="{y0 + top + ph / 2}" text-anchor="middle" '
               f'font-size="12" transform="rotate(-90 {x0 + 14} {y0 + top + ph / 2})">'
               f'median latency (ms)</text>')
    for i, (name, colour, ys) in enumerate(lines):
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"/>')
        for j, (x, y) in enumerate(zip(xs, ys)):
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
            last = j == len(xs) - 1
            out.append(f'<text x="{px(x) + (-6 if last else 6):.1f}" y="{py(y) - 7:.1f}" '
                       f'text-anchor="{"end" if last else "start"}" font-size="10" '
                       f'fill="{colour}">{y:.2f}</text>')
        # The legend, in a row between the title and the plot.
        lx = x0 + left + sum(40 + 6.5 * len(n) for n, _, _ in lines[:i])
        ly = y0 + 40
        out.append(f'<rect x="{lx:.1f}" y="{ly}" width="14" height="3" fill="{colour}"/>')
        out.append(f'<text x="{lx + 19:.1f}" y="{ly + 5}" font-size="11">{name}</text>')
    return out


def nice_step(raw):
    if raw <= 0:
        return 1.0
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def write_svg(path, r, info):
    width, height = 960, 420
    depths = [1, 3, 5, 10]
    volumes = sorted(r["attempts"])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    parts += svg_chart(0, 0, 480, 390, "Cold GET …/security by tree depth (TTL=0)",
                       "account depth (1 = root reseller)", depths, [str(d) for d in depths],
                       [("service", "#c0392b", [r["depth"][d].p50_ms for d in depths])])
    # Attempt volumes on a log axis: 1k, 10k, 100k are evenly spaced.
    import math
    xs = [math.log10(v) for v in volumes]
    parts += svg_chart(480, 0, 480, 390, "Attempts page of 50 by month volume",
                       "login attempts in the month (log scale)", xs,
                       [f"{v:,}" for v in volumes],
                       [("service page", "#c0392b", [r["attempts"][v][0].p50_ms
                                                     for v in volumes]),
                        ("raw CouchDB view, limit=51", "#2471a3",
                         [r["attempts"][v][1].p50_ms for v in volumes])])
    parts.append(f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle" font-size="10" '
                 f'fill="#555">{info["date"]} · {info["nproc"]} CPUs · {info["cpu"]} · '
                 f'commit {info["commit"]} · each point the median of wrk -t 1 -c {LAT_CONNS} -d {LAT_DURATION}s'
                 f'</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


# ----------------------------------------------------------------------------------------


def load(args):
    """Writes the tree and the attempt history; saves what measure needs to args.state."""
    couch = Couch(args.couch)
    phases = Phases()
    phases.start("writing the account chain (depth 10) and the attempt accounts")
    # `setup` may not have run yet (the release build runs meanwhile): it creates what is
    # missing and keeps these.
    for db in ("accounts", "services"):
        couch.create_db(db)
    chain = []
    for depth in range(1, CHAIN_DEPTH + 1):
        parent = chain[-1] if chain else None
        chain.append(Account(f"Bench Depth {depth} {new_id()[:6]}", parent, depth))
    root = chain[0]
    volumes = sorted({max(ATTEMPTS // 100, 1), max(ATTEMPTS // 10, 1), ATTEMPTS})
    holders = {v: Account(f"Bench Attempts {v} {new_id()[:6]}", root, 2) for v in volumes}
    load_accounts(couch, chain, list(holders.values()))
    couch.create_db("bench_raw_put")

    now = int(time.time())
    month_dbs = {}
    for volume in volumes:
        phases.start(f"writing {volume:,} login attempts with _bulk_docs")
        month_dbs[volume] = load_attempts(couch, holders[volume], volume, now)

    phases.start("building the attempt views (first query of each)")
    for volume in volumes:
        t = time.monotonic()
        url = (couch.db_url(month_dbs[volume])
               + "/_design/auth/_view/login_attempt_by_time?limit=1&descending=true")
        status, body = http("GET", url, timeout=1800)
        if status != 200:
            raise SystemExit(f"bench: warming the view of {volume} attempts: {status} {body}")
        log(f"  view of {volume:,} attempts built in {time.monotonic() - t:.1f} s "
            f"({body.get('total_rows')} rows)")
    phases.stop()
    state = {
        "now": now,
        "chain": [vars(a) for a in chain],
        "holders": {str(v): vars(a) for v, a in holders.items()},
        "month_dbs": {str(v): db for v, db in month_dbs.items()},
        "phases": phases.times,
    }
    with open(args.state, "w") as f:
        json.dump(state, f)


def revive(fields):
    acct = Account.__new__(Account)
    acct.__dict__.update(fields)
    return acct


def measure_all(args):
    couch = Couch(args.couch)
    svc, cold = args.service.rstrip("/"), args.cold.rstrip("/")
    svc_log, cold_log = ServiceLog(args.service_log), ServiceLog(args.cold_log)
    CPU.pids = {"svc": args.service_pid, "cold": args.cold_pid, "couch": args.couch_pid}
    with open(args.state) as f:
        state = json.load(f)
    chain = [revive(a) for a in state["chain"]]
    holders = {int(v): revive(a) for v, a in state["holders"].items()}
    month_dbs = {int(v): db for v, db in state["month_dbs"].items()}
    volumes = sorted(holders)
    now = state["now"]
    root = chain[0]
    info = machine()
    phases = Phases()
    started = time.monotonic()

    # --- Tokens ------------------------------------------------------------------------
    phases.start("logging in through the service")
    a = chain[2]  # depth 3
    login_body = {"data": {"credentials": a.credentials(), "account_name": a.name}}
    status, body = http("PUT", f"{svc}/v2/user_auth", login_body, timeout=120)
    if status != 201:
        raise SystemExit(f"bench: user_auth as the depth-3 admin failed: {status} {body}")
    a_token = body["auth_token"]
    status, body = http("PUT", f"{svc}/v2/api_auth", {"data": {"api_key": root.api_key}},
                        timeout=120)
    if status != 201:
        raise SystemExit(f"bench: api_auth of the root failed: {status} {body}")
    root_token = body["auth_token"]

    a_headers = {"X-Auth-Token": a_token}
    root_headers = {"X-Auth-Token": root_token}
    page_url = f"{svc}/v2/accounts/{holders[ATTEMPTS].id}/security/attempts?page_size=50"
    checks = [
        (f"{svc}/v2/accounts/{a.id}/security", a_headers),
        (f"{svc}/v2/security", a_headers),
        (f"{cold}/v2/accounts/{chain[-1].id}/security", root_headers),
        (page_url, root_headers),
    ]
    for url, headers in checks:
        status, body = http("GET", url, headers=headers, timeout=120)
        if status != 200:
            raise SystemExit(f"bench: GET {url} answered {status}: {str(body)[:300]}")
    rows = len(body.get("data", []))
    if rows != 50:
        raise SystemExit(f"bench: the attempts page has {rows} rows, not 50")

    r = {"all_runs": []}

    def keep(run):
        r["all_runs"].append(run)
        return run

    # --- P1 ----------------------------------------------------------------------------
    phases.start(f"P1: throughput, wrk -t {THREADS} -c {CONNS} -d {DURATION}s")
    r["p1"] = keep(measure("P1 service depth 3", f"{svc}/v2/accounts/{a.id}/security",
                           svc_log, headers=a_headers))
    r["p1_raw"] = keep(measure("P1 raw CouchDB GET",
                               f"{couch.db_url(a.db)}/configs_crossbar.auth"))
    r["p1_cheap"] = keep(measure("P1 GET /v2/security", f"{svc}/v2/security", svc_log,
                                 headers=a_headers))

    # --- P2 and the depth series ---------------------------------------------------------
    phases.start(f"P2: cold latency by depth, wrk -t 1 -c {LAT_CONNS} -d {LAT_DURATION}s")
    r["depth"] = {}
    for depth in (1, 3, 5, 10):
        acct = chain[depth - 1]
        r["depth"][depth] = keep(measure(f"P2 cold depth {depth}",
                                         f"{cold}/v2/accounts/{acct.id}/security", cold_log,
                                         latency=True, headers=root_headers))

    # --- P3 ----------------------------------------------------------------------------
    phases.start(f"P3: login throughput, wrk -t {THREADS} -c {CONNS} -d {DURATION}s")
    json_headers = {"Content-Type": "application/json"}
    r["p3"] = keep(measure("P3 PUT /v2/user_auth", f"{svc}/v2/user_auth", svc_log,
                           method="PUT", headers=json_headers, body=login_body))
    stamp = int(time.time()) + GREGORIAN_OFFSET
    like_attempt = {
        "auth_type": "jwt_auth_token", "status": "success", "auth_module": "cb_user_auth",
        "message": "authentication resulted in token creation",
        "client_headers": {"user-agent": "wrk", "content-type": "application/json"},
        "client_ip": "127.0.0.1", "crossbar_request_id": new_id(), "timestamp": stamp,
        "metadata": {"owner_id": new_id(), "account_id": a.id},
        "pvt_type": "login_attempt", "pvt_account_id": a.id,
        "pvt_created": stamp, "pvt_modified": stamp,
    }
    r["p3_raw"] = keep(measure("P3 raw CouchDB PUT", f"{couch.url}/", method="PUT",
                               headers=json_headers, body=like_attempt,
                               unique="/bench_raw_put/"))

    # --- P4 and the volume series --------------------------------------------------------
    phases.start(f"P4: attempts page latency by volume, wrk -t 1 -c {LAT_CONNS} "
                 f"-d {LAT_DURATION}s")
    r["attempts"] = {}
    for volume in volumes:
        acct = holders[volume]
        page = keep(measure(f"P4 page, {volume:,} attempts",
                            f"{svc}/v2/accounts/{acct.id}/security/attempts?page_size=50",
                            svc_log, latency=True, headers=root_headers))
        raw = keep(measure(f"P4 raw view, {volume:,} attempts",
                           couch.db_url(month_dbs[volume]) + "/_design/auth/_view/"
                           "login_attempt_by_time?limit=51&descending=true", latency=True))
        r["attempts"][volume] = (page, raw)

    # --- P5 ----------------------------------------------------------------------------
    phases.start(f"P5: memory with {P5_CONNS} connections, {P5_DURATION}s")
    r["p5"] = hold_connections(f"{svc}/v2/security", args.service_pid, a_headers, svc_log,
                               args.couch_port)
    keep(r["p5"]["run"])
    phases.stop()

    # --- Report ------------------------------------------------------------------------
    table = build_table(r)
    series = series_table(r)
    problems = problems_text(r)
    runs = runs_table(r)
    total = time.monotonic() - started
    times = []
    if args.build_seconds is not None:
        times.append(("cargo build --release (alongside the data load)", args.build_seconds))
    times += [tuple(t) for t in state["phases"]] + phases.times
    timings = "".join(f"| {name} | {seconds:.1f} s |\n" for name, seconds in times)
    if args.total_seconds is not None:
        timings += f"| all of `make bench` | {args.total_seconds + total:.0f} s |\n"
    os.makedirs(args.out, exist_ok=True)
    md = f"""# kazoo-security benchmark

Written by `make bench` (scripts/bench.sh, bench/bench.py). Each row compares two numbers
measured in this run on this machine; a throughput ratio is service ÷ baseline requests/s, a
latency ratio is service ÷ baseline median latency (the ratio of the means is shown beside it).

| | |
|---|---|
| date | {info['date']} |
| machine | {info['nproc']} CPUs, {info['cpu']}, {info['memory']} RAM |
| load average before measuring | {info['load']} |
| commit | {info['commit']} |
| toolchain | {info['rustc']}; {info['wrk']} |
| CouchDB | pouchdb-server in memory (couchdb/package.json), on the same machine |

## Results

{table}
Throughput rows (P1, P3): `wrk -t {THREADS} -c {CONNS} -d {DURATION}s`. Latency rows (P2, P4):
`wrk -t 1 -c {LAT_CONNS} -d {LAT_DURATION}s`, one request at a time. Each measured run follows an
unrecorded {WARMUP} s warm-up of the same request. P1, P3, P4 and P5 use the `CONFIG_CACHE_TTL=5`
instance, P2 a second instance with `CONFIG_CACHE_TTL=0`; `RATE_LIMIT_BUCKET=0` on both. P1
and P3 use a depth-3 admin's login; P2 and P4 the root reseller's API-key token. The tree is a
chain of {CHAIN_DEPTH} accounts (root reseller at depth 1) with security configs at depths
{', '.join(str(d) for d in sorted(CONFIG_DEPTHS))}. Errors: wrk's count of non-2xx answers and
socket errors, with the status codes from the service's log (or, for CouchDB, from a short
counting run). P5 samples VmRSS of the service every 0.2 s while wrk keeps {P5_CONNS:,}
keep-alive connections busy.

## Latency by tree depth and by attempt volume

![latency by depth and volume](results.svg)

{series}
## Every measured run

CPU seconds are what the process used during the run (user + system), from /proc.

{runs}
## Service log

{problems}
## Time

| phase | wall time |
|---|---|
{timings}"""
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    write_svg(os.path.join(args.out, "results.svg"), r, info)

    print()
    print(f"kazoo-security benchmark — {info['date']}, {info['nproc']} CPUs, {info['cpu']}, "
          f"load average {info['load']}, commit {info['commit']}")
    print()
    print(table)
    print(series)
    print(runs)
    print(problems)
    print(f"Written: {os.path.relpath(os.path.join(args.out, 'results.md'), ROOT)}, "
          f"{os.path.relpath(os.path.join(args.out, 'results.svg'), ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load", help="write the generated data into CouchDB")
    p_load.add_argument("--couch", required=True)
    p_load.add_argument("--state", required=True, help="JSON file for `measure`")
    p_measure = sub.add_parser("measure", help="drive wrk and write the report")
    p_measure.add_argument("--couch", required=True)
    p_measure.add_argument("--couch-pid", required=True, type=int)
    p_measure.add_argument("--couch-port", required=True, type=int)
    p_measure.add_argument("--state", required=True)
    p_measure.add_argument("--service", required=True,
                           help="URL of the CONFIG_CACHE_TTL=5 instance")
    p_measure.add_argument("--service-pid", required=True, type=int)
    p_measure.add_argument("--service-log", required=True)
    p_measure.add_argument("--cold", required=True,
                           help="URL of the CONFIG_CACHE_TTL=0 instance")
    p_measure.add_argument("--cold-pid", required=True, type=int)
    p_measure.add_argument("--cold-log", required=True)
    p_measure.add_argument("--out", default=HERE)
    p_measure.add_argument("--build-seconds", type=float, default=None)
    p_measure.add_argument("--total-seconds", type=float, default=None,
                           help="seconds make bench had run before measure started")
    args = parser.parse_args()
    if args.command == "load":
        load(args)
    else:
        measure_all(args)


if __name__ == "__main__":
    main()
