"""Turns bench/run's raw results into Markdown tables.

    report.py results.tsv memory.tsv NIDLE [CHARTDIR]

results.tsv: one row per (round, scenario, server) measurement; memory.tsv:
one row per server. Rates are medians over the rounds, with min-max beside
them; a server with no successful measurement shows why (not built, not
installed, failed: check, ...). With CHARTDIR, the per-CPU-second medians
and the memory figures are also written there as <family>.chart.tsv for
chart.py.
"""
import csv
import statistics
import sys

HTTP = ["hello_c1", "hello_c64", "hello_c512", "hello_pipe16_c64"]
ECHO = ["echo_c1", "echo_c50", "echo_c50x16"]
HTTP_SERVERS = ["floor", "tornuv_http", "tornuv_web", "h2o", "nginx", "node", "tornado",
                "tornado_uvloop", "tornuv_http_w2", "tornuv_web_w2"]
# Scaling: each two-worker program against its one-loop self.
SCALING = [("tornuv_http", "tornuv_http_w2"), ("tornuv_web", "tornuv_web_w2")]
ECHO_SERVERS = ["floor_echo", "tornuv_echo", "node_echo", "tornado_echo", "tornado_echo_uvloop"]
# Ratio columns: the peer each tornuv row is divided by, per kind.
PEERS = ["floor", "h2o", "nginx", "node", "tornado", "tornado_uvloop"]
ECHO_PEER = {"floor": "floor_echo", "node": "node_echo", "tornado": "tornado_echo",
             "tornado_uvloop": "tornado_echo_uvloop"}
TORNUV = {"http": ["tornuv_http", "tornuv_web"], "echo": ["tornuv_echo"]}
LABEL = {
    "hello_c1": "hello, 1 connection",
    "hello_c64": "hello, 64 connections",
    "hello_c512": "hello, 512 connections",
    "hello_pipe16_c64": "hello, 64 connections, 16 pipelined",
    "echo_c1": "echo, 1 connection, 1 line in flight",
    "echo_c50": "echo, 50 connections, 1 line in flight each",
    "echo_c50x16": "echo, 50 connections, 16 lines in flight each",
}


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def summarize(rows):
    """Per (scenario, server): dict with median/min/max rate, p99, cpu, status."""
    out = {}
    for sc_srv in {(r["scenario"], r["server"]) for r in rows}:
        rs = [r for r in rows if (r["scenario"], r["server"]) == sc_srv]
        good = [r for r in rs if r["status"] in ("ok", "errors") and num(r["rps"])]
        if not good:
            out[sc_srv] = {"status": rs[0]["status"]}
            continue
        rates = [num(r["rps"]) for r in good]
        p99 = [num(r["p99_us"]) for r in good if num(r["p99_us"]) is not None]
        cpu = [num(r["cpu_s"]) / num(r["wall_s"]) for r in good
               if num(r["cpu_s"]) is not None and num(r["wall_s"])]
        per_core = [num(r["total"]) / num(r["cpu_s"]) for r in good
                    if num(r["total"]) and num(r["cpu_s"])]
        out[sc_srv] = {
            "status": "errors" if any(r["status"] == "errors" for r in good) else "ok",
            "n": len(good),
            "rate": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
            "p99": statistics.median(p99) if p99 else None,
            "cpu": statistics.median(cpu) if cpu else None,
            "per_core": statistics.median(per_core) if per_core else None,
        }
    return out


def fmt_rate(x):
    if x >= 100000:
        return f"{x / 1000:.0f}k"
    if x >= 10000:
        return f"{x / 1000:.1f}k"
    return f"{x:.0f}"


def fmt_us(x):
    if x is None:
        return "-"
    return f"{x / 1000:.2f} ms" if x >= 1000 else f"{x:.0f} us"


def scenario_table(summary, sc, servers, unit):
    if not any((sc, srv) in summary for srv in servers):
        return
    print(f"### {LABEL[sc]}")
    print()
    print(f"| server | {unit}/s median | min–max | p99 latency | server CPU | {unit} per CPU-second |")
    print("|---|---:|---:|---:|---:|---:|")
    for srv in servers:
        s = summary.get((sc, srv))
        if s is None:
            continue
        if "rate" not in s:
            print(f"| {srv} | {s['status']} | | | | |")
            continue
        note = " (errors)" if s["status"] == "errors" else ""
        cpu = f"{s['cpu'] * 100:.0f}%" if s["cpu"] is not None else "-"
        pc = fmt_rate(s["per_core"]) if s["per_core"] else "-"
        print(f"| {srv}{note} | {fmt_rate(s['rate'])} | {fmt_rate(s['min'])}–{fmt_rate(s['max'])}"
              f" | {fmt_us(s['p99'])} | {cpu} | {pc} |")
    print()


def ratio_rows(summary, key):
    """Yields (tornuv program, scenario, cells) with tornuv ÷ peer for key."""
    for kind, scs in (("http", HTTP), ("echo", ECHO)):
        for tn in TORNUV[kind]:
            for sc in scs:
                mine = summary.get((sc, tn), {})
                cells = []
                for p in PEERS:
                    peer = p if kind == "http" else ECHO_PEER.get(p)
                    theirs = summary.get((sc, peer), {}) if peer else None
                    if peer is None:
                        cells.append("n/a")
                    elif not mine.get(key):
                        cells.append(mine.get("status", "-") if "rate" not in mine else "-")
                    elif not theirs.get(key):
                        cells.append(f"({theirs.get('status', '-') if 'rate' not in theirs else '-'})")
                    else:
                        cells.append(f"{mine[key] / theirs[key]:.2f}")
                if any(c not in ("-", "(-)", "n/a") for c in cells):
                    yield tn, sc, cells


def ratio_table(summary):
    for key, title in (("per_core", "per server CPU-second (the issue's targets)"),
                       ("rate", "median rates")):
        print(f"## Ratios: tornuv ÷ peer, {title}; > 1 means tornuv is ahead")
        print()
        print("| tornuv program | scenario | " + " | ".join(PEERS) + " |")
        print("|---|---|" + "---:|" * len(PEERS))
        for tn, sc, cells in ratio_rows(summary, key):
            print(f"| {tn} | {sc} | " + " | ".join(cells) + " |")
        print()


def write_charts(summary, mem, outdir):
    """Writes http/echo/memory .chart.tsv files for chart.py."""
    head = "chart\tserver\tvalue\tunit\n"
    for family, scs, servers, unit in (
            ("http", HTTP, HTTP_SERVERS, "req per server CPU-second"),
            ("echo", ECHO, ECHO_SERVERS, "lines per server CPU-second")):
        with open(f"{outdir}/{family}.chart.tsv", "w") as f:
            f.write(head)
            for sc in scs:
                for srv in servers:
                    s = summary.get((sc, srv), {})
                    if s.get("per_core"):
                        f.write(f"{sc}\t{srv}\t{s['per_core']:.0f}\t{unit}\n")
    with open(f"{outdir}/memory.chart.tsv", "w") as f:
        f.write(head)
        for m in mem:
            idle, loaded, ok = num(m["idle_kb"]), num(m["loaded_kb"]), num(m["ok"])
            if m["status"] == "ok" and idle and loaded and ok:
                f.write(f"idle keep-alive connection\t{m['server']}\t{(loaded - idle) / ok:.2f}"
                        f"\tKB per connection (lower is better)\n")


def scaling_table(summary):
    rows = [(one, two, sc) for one, two in SCALING for sc in HTTP
            if "rate" in summary.get((sc, one), {}) and "rate" in summary.get((sc, two), {})]
    if not rows:
        return
    print("## Scaling: two worker loops (--workers 2) against one")
    print()
    print("The *_w2 servers run on both CPUs, so their second loop shares a core with the load")
    print("generator: on a 2-CPU machine this shows the cost and the reach of the workers, not a")
    print("clean 2x.")
    print()
    print("| program | scenario | 1 loop req/s | 2 loops req/s | ratio |")
    print("|---|---|---:|---:|---:|")
    for one, two, sc in rows:
        a, b = summary[(sc, one)]["rate"], summary[(sc, two)]["rate"]
        print(f"| {one} | {sc} | {fmt_rate(a)} | {fmt_rate(b)} | {b / a:.2f} |")
    print()


def memory_table(mem, nidle):
    print(f"## Memory: RSS idle and with {nidle} idle keep-alive connections")
    print()
    print("| server | RSS idle | RSS loaded | connections held | KB per connection |")
    print("|---|---:|---:|---:|---:|")
    for m in mem:
        if m["status"] != "ok" or not num(m["idle_kb"]) or not num(m["loaded_kb"]):
            print(f"| {m['server']} | {m['status'] if m['status'] != 'ok' else 'failed'} | | | |")
            continue
        idle, loaded, ok = num(m["idle_kb"]), num(m["loaded_kb"]), num(m["ok"]) or 0
        per = f"{(loaded - idle) / ok:.2f}" if ok else "-"
        print(f"| {m['server']} | {idle / 1024:.1f} MB | {loaded / 1024:.1f} MB | {ok:.0f} | {per} |")
    print()


def main():
    rows = load(sys.argv[1])
    mem = load(sys.argv[2])
    nidle = sys.argv[3] if len(sys.argv) > 3 else "?"
    summary = summarize(rows)
    if len(sys.argv) > 4:
        write_charts(summary, mem, sys.argv[4])
    rounds = len({r["round"] for r in rows})
    print(f"Medians over {rounds} round(s); min–max is the spread over the rounds.")
    print("Latency is the load generator's 99th percentile (wrk --latency / echo_client).")
    print()
    scenarios = {sc for sc, _ in summary}
    if scenarios:
        ratio_table(summary)
        scaling_table(summary)
    if scenarios & set(HTTP):
        print("## HTTP hello (wrk, 1 thread)")
        print()
        for sc in HTTP:
            scenario_table(summary, sc, HTTP_SERVERS, "req")
    if scenarios & set(ECHO):
        print("## Line echo (bench/echo_client, 64-byte lines)")
        print()
        for sc in ECHO:
            scenario_table(summary, sc, ECHO_SERVERS, "lines")
    if mem:
        memory_table(mem, nidle)


if __name__ == "__main__":
    main()
