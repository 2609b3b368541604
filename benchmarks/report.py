#!/usr/bin/python3
"""report.py: turns the raw output of one scripts/bench run into results.

    report.py --meta=DIR --out=DIR [--markdown_only]

DIR (from scripts/bench) holds runs.jsonl (one kv-bench JSON object per
run), redis.csv (redis-benchmark --csv lines, each prefixed with a run
name), profile_*.txt and threads_*.txt (perf report excerpts) and small
files of one value each (machine, memory, start-up, fsync probe).

Writes, in --out: results.jsonl (appends one JSON object per scenario, sweep
point, redis figure and the memory figures), RESULTS.md (rewritten) and
sweep.dat (gnuplot input for latency.png). Uses only the standard library.
"""

import argparse
import csv
import json
import os
import statistics

# The standard scenarios, in report order: name, what is compared, the
# target and whether larger is better.
SCENARIOS = ["get", "set", "set_durable", "get_single", "set_single"]
TARGETS = [
    # scenario, metric key, description, limit, larger_is_better
    ("get", "ratio", "throughput >= 90% of the ceiling", 0.90, True),
    ("get", "cpu_ratio", "server CPU per get <= 1.2x the ceiling's", 1.20,
     False),
    ("set", "ratio", "throughput >= 85% of the ceiling", 0.85, True),
    ("set_durable", "ratio", "throughput >= 70% of the ceiling", 0.70, True),
    ("get_single", "p50_ratio", "p50 within 15% of the ceiling's", 1.15,
     False),
    ("set_single", "p50_ratio", "p50 within 15% of the ceiling's", 1.15,
     False),
]
# LevelDbStore's default block cache; kv-server has no flag for it.
BLOCK_CACHE_MIB = 8
NUMERIC = ["ops_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
           "mean_us", "server_cpu_us_per_op", "client_cpu_us_per_op",
           "fsyncs_per_op", "mean_group_size"]


def read_value(meta, name, default=None):
    path = os.path.join(meta, name)
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return f.read().strip()


def read_machine(meta):
    machine = {}
    for line in read_value(meta, "machine", "").splitlines():
        key, _, value = line.partition("=")
        machine[key] = value
    return machine


def median_run(runs):
    """Field-wise median of several kv-bench runs of one configuration."""
    out = dict(runs[0])
    for key in NUMERIC:
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    out["runs_ops_per_s"] = [r["ops_per_s"] for r in runs]
    return out


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def pair_ratio(kv, ceiling, key):
    """The median over pairs of kv-server's figure over the ceiling's. The
    i-th runs of the two ran back to back, so each ratio compares the same
    moment of the machine, which medians taken apart would not."""
    ratios = [ratio(k.get(key), c.get(key)) for k, c in zip(kv, ceiling)]
    ratios = [r for r in ratios if r is not None]
    return statistics.median(ratios) if ratios else None


def summarise(runs, machine):
    """One result per standard scenario: kv-server's medians beside the
    ceiling's, with the medians of their ratios pair by pair."""
    results = {}
    for name in SCENARIOS:
        kv = [r for r in runs if r["scenario"] == name and
              r["label"] == "kv-server"]
        ceiling = [r for r in runs if r["scenario"] == name and
                   r["label"] == "ceiling"]
        if not kv or not ceiling:
            continue
        k, c = median_run(kv), median_run(ceiling)
        result = {
            "scenario": name,
            "label": "kv-server",
            "date": k["date"],
            "ops_per_s": k["ops_per_s"],
            "ceiling_ops_per_s": c["ops_per_s"],
            "ratio": pair_ratio(kv, ceiling, "ops_per_s"),
            "p50_us": k["p50_us"],
            "p90_us": k["p90_us"],
            "p99_us": k["p99_us"],
            "p999_us": k["p999_us"],
            "ceiling_p50_us": c["p50_us"],
            "ceiling_p99_us": c["p99_us"],
            "p50_ratio": pair_ratio(kv, ceiling, "p50_us"),
            "server_cpu_us_per_op": k["server_cpu_us_per_op"],
            "ceiling_server_cpu_us_per_op": c["server_cpu_us_per_op"],
            "cpu_ratio": pair_ratio(kv, ceiling, "server_cpu_us_per_op"),
            "client_cpu_us_per_op": k["client_cpu_us_per_op"],
            "fsyncs_per_op": k["fsyncs_per_op"],
            "mean_group_size": k["mean_group_size"],
            "in_flight": k["in_flight"],
            "channels": k["channels"],
            "value_bytes": k["value_bytes"],
            "keys": k["keys"],
            "pairs": min(len(kv), len(ceiling)),
            "runs_ops_per_s": k["runs_ops_per_s"],
            "ceiling_runs_ops_per_s": c["runs_ops_per_s"],
            "errors": sum(r["errors"] for r in kv),
            "get_misses": sum(r["get_misses"] for r in kv),
            "commit": machine.get("commit"),
        }
        results[name] = result
    return results


def read_redis(meta, date):
    """redis-benchmark --csv lines, prefixed with the run name by
    scripts/bench, as result objects."""
    path = os.path.join(meta, "redis.csv")
    out = []
    if not os.path.exists(path):
        return out
    settings = {
        "c64": (64, 1, "no persistence"),
        "c64_p16": (64, 16, "no persistence"),
        "c1": (1, 1, "no persistence"),
        "c256_fsync": (256, 1, "appendfsync always"),
    }
    with open(path) as f:
        for row in csv.reader(f):
            if len(row) < 8 or row[1] == "test":
                continue
            name, test = row[0], row[1].lower()
            clients, pipeline, persistence = settings.get(name, (0, 0, "?"))
            out.append({
                "scenario": "redis_%s_%s" % (test, name),
                "label": "redis",
                "date": date,
                "op": test,
                "clients": clients,
                "pipeline": pipeline,
                "persistence": persistence,
                "ops_per_s": float(row[2]),
                "p50_us": float(row[5]) * 1000,
                "p99_us": float(row[7]) * 1000,
                "value_bytes": 100,
            })
    return out


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "-"
    return ("%." + str(digits) + "f%s") % (value, suffix)


def pct(value):
    return "-" if value is None else "%.0f%%" % (100 * value)


def target_rows(results, memory):
    """(description, measured, target, met, shortfall) for every target."""
    rows = []
    for scenario, key, text, limit, larger in TARGETS:
        r = results.get(scenario)
        value = r.get(key) if r else None
        if value is None:
            rows.append((scenario, text, "not measured", None, ""))
            continue
        met = value >= limit if larger else value <= limit
        if key in ("ratio",):
            shown = pct(value)
            miss = "" if met else "short by %.0f points" % (
                100 * (limit - value))
        else:
            shown = "%.2fx" % value
            miss = "" if met else "over by %.0f%%" % (
                100 * (value / limit - 1))
        rows.append((scenario, text, shown, met, miss))

    rss = memory.get("rss_mib_after_writes")
    limit = 100 + BLOCK_CACHE_MIB
    if rss is not None:
        met = rss < limit
        rows.append(("memory", "RSS after writing the keys < %d MiB "
                     "(100 + %d MiB block cache)" % (limit, BLOCK_CACHE_MIB),
                     "%.1f MiB" % rss, met,
                     "" if met else "over by %.1f MiB" % (rss - limit)))
    start = memory.get("startup_s_loaded")
    if start is not None:
        met = start < 1.0
        rows.append(("start-up", "start-up on that store < 1 s",
                     "%.3f s" % start, met,
                     "" if met else "over by %.3f s" % (start - 1.0)))
    return rows


def sweep_points(runs):
    points = []
    for r in runs:
        if r["scenario"].startswith("sweep_"):
            points.append(r)
    points.sort(key=lambda r: (r["scenario"], r["label"], r["in_flight"]))
    return points


def write_sweep(path, points):
    """Four gnuplot data blocks, separated by two blank lines, in the order
    latency.gp indexes them."""
    blocks = [("sweep_get", "kv-server"), ("sweep_get", "ceiling"),
              ("sweep_set", "kv-server"), ("sweep_set", "ceiling")]
    with open(path, "w") as f:
        for scenario, label in blocks:
            f.write("# %s %s: in_flight ops_per_s p50_us p99_us\n" %
                    (scenario, label))
            for p in points:
                if p["scenario"] == scenario and p["label"] == label:
                    f.write("%d %.1f %.1f %.1f\n" % (
                        p["in_flight"], p["ops_per_s"], p["p50_us"],
                        p["p99_us"]))
            f.write("\n\n")


def write_markdown(path, meta, machine, results, redis, points, memory,
                   load):
    lines = []
    add = lines.append
    date = next(iter(results.values()))["date"] if results else "?"
    add("# kvstore benchmark results")
    add("")
    add("Written by `scripts/bench` on %s (UTC); every figure below is "
        "from that one run. Numbers on this shared 2-core machine are "
        "noisy: compare ratios, not absolute rates." % date)
    add("")
    add("Machine: %s vCPU, %s, %s. Build: %s at commit %s. Load average "
        "at the end of the run: %s. The run took %s s." % (
            machine.get("nproc"), machine.get("cpu"), machine.get("kernel"),
            machine.get("build_type"), machine.get("commit"),
            machine.get("loadavg"), machine.get("elapsed_s")))
    add("")
    add("Method: kv-bench (one driver thread, async completion-queue "
        "client, 4 channels of their own TCP connection each) drives "
        "kv-ceiling and kv-server alternately, %s pairs per scenario, "
        "%s measured after a warm-up (%s pairs of %s for the one-call "
        "scenarios, get_single and set_single); each figure is the "
        "median of the pairs, and each ratio the median of the pairs' "
        "ratios (the two runs of a pair are back to back). kv-ceiling is "
        "an async generic gRPC server on one completion-queue thread that "
        "parses each request and answers a response of kv-server's shape "
        "and size without storage: what the transport allows on this "
        "machine at that moment. Keys are uniform over %s keys; values "
        "are 100 bytes; get runs on a store loaded with every key. Before "
        "each scenario the script waits until both kv-servers are idle, "
        "so that LevelDB compacting after the load does not run during a "
        "measurement. kv-server CPU is utime+stime from /proc over the "
        "window divided by calls." % (
            machine.get("pairs"), machine.get("duration"),
            machine.get("single_pairs"), machine.get("single_duration"),
            machine.get("keys")))
    add("")

    add("## Targets")
    add("")
    add("| scenario | target | measured | met | gap |")
    add("|---|---|---|---|---|")
    for scenario, text, shown, met, miss in target_rows(results, memory):
        mark = "-" if met is None else ("yes" if met else "**no**")
        add("| %s | %s | %s | %s | %s |" % (scenario, text, shown, mark,
                                           miss))
    add("")

    add("## Scenarios")
    add("")
    add("| scenario | in flight | kv-server ops/s | ceiling ops/s | ratio "
        "| p50 us | p99 us | ceiling p50 / p99 us | server CPU us/op "
        "| ceiling CPU us/op | fsyncs/op | mean group |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in SCENARIOS:
        r = results.get(name)
        if not r:
            continue
        add("| %s | %d | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s "
            "| %s |" % (
                name, r["in_flight"], fmt(r["ops_per_s"]),
                fmt(r["ceiling_ops_per_s"]), pct(r["ratio"]),
                fmt(r["p50_us"]), fmt(r["p99_us"]),
                fmt(r["ceiling_p50_us"]), fmt(r["ceiling_p99_us"]),
                fmt(r["server_cpu_us_per_op"], 1),
                fmt(r["ceiling_server_cpu_us_per_op"], 1),
                fmt(r["fsyncs_per_op"], 3), fmt(r["mean_group_size"], 1)))
    add("")
    add("Runs (ops/s, in order; kv-server / ceiling):")
    add("")
    for name in SCENARIOS:
        r = results.get(name)
        if r:
            add("- %s: %s / %s" % (
                name, ", ".join(fmt(v) for v in r["runs_ops_per_s"]),
                ", ".join(fmt(v) for v in r["ceiling_runs_ops_per_s"])))
    errors = sum(r["errors"] for r in results.values())
    misses = results.get("get", {}).get("get_misses")
    add("")
    add("Failed calls in kv-server runs: %d. Gets that found no value in "
        "the get scenario: %s." % (errors, misses))
    add("")

    add("## Memory and start-up")
    add("")
    if load:
        add("- Load: %s keys of 100 bytes set once each at 256 in flight "
            "(sync off): %s ops/s, server CPU %s us/op." % (
                load["ops"], fmt(load["ops_per_s"]),
                fmt(load["server_cpu_us_per_op"], 1)))
    add("- kv-server RSS after writing them: %s MiB (target: under 100 MiB "
        "plus the %d MiB block cache). On-disk store: %s MiB." % (
            fmt(memory.get("rss_mib_after_writes"), 1), BLOCK_CACHE_MIB,
            fmt(memory.get("store_mib"), 1)))
    add("- Start-up (exec to the `listening on` line): %s s on an empty "
        "directory, %s s on that store, whose RSS just after start-up is "
        "%s MiB." % (
            fmt(memory.get("startup_s_empty"), 3),
            fmt(memory.get("startup_s_loaded"), 3),
            fmt(memory.get("rss_mib_reopened"), 1)))
    add("")

    add("## Latency against throughput")
    add("")
    add("![latency against throughput](latency.png)")
    add("")
    add("| op | in flight | kv-server ops/s | p50 / p99 us | ceiling ops/s "
        "| p50 / p99 us |")
    add("|---|---|---|---|---|---|")
    for op in ("get", "set"):
        for n in (1, 4, 16, 64, 256):
            k = [p for p in points if p["scenario"] == "sweep_" + op and
                 p["label"] == "kv-server" and p["in_flight"] == n]
            c = [p for p in points if p["scenario"] == "sweep_" + op and
                 p["label"] == "ceiling" and p["in_flight"] == n]
            if not k or not c:
                continue
            k, c = k[0], c[0]
            add("| %s | %d | %s | %s / %s | %s | %s / %s |" % (
                op, n, fmt(k["ops_per_s"]), fmt(k["p50_us"]),
                fmt(k["p99_us"]), fmt(c["ops_per_s"]), fmt(c["p50_us"]),
                fmt(c["p99_us"])))
    add("")

    add("## Reference: redis-server 7 with redis-benchmark")
    add("")
    add("Same machine, same run, 127.0.0.1, 100-byte values, random keys "
        "over the same key space, every key loaded with a 100-byte value "
        "first (redis-cli --pipe) so that gets find values. "
        "redis-benchmark is one client thread like kv-bench; "
        "redis speaks RESP over plain TCP, with no HTTP/2 or protobuf, so "
        "it shows what a user would pick instead, not what gRPC allows.")
    add("")
    add("| op | clients | pipeline | persistence | ops/s | p50 us | p99 us "
        "|")
    add("|---|---|---|---|---|---|---|")
    for r in redis:
        add("| %s | %d | %d | %s | %s | %s | %s |" % (
            r["op"], r["clients"], r["pipeline"], r["persistence"],
            fmt(r["ops_per_s"]), fmt(r["p50_us"]), fmt(r["p99_us"])))
    add("")

    add("## Bounds")
    add("")
    dsync = read_value(meta, "dsync_200_s")
    durable = results.get("set_durable")
    single = results.get("set_single")
    if dsync and durable and single:
        fsync_ms = float(dsync) / 200 * 1000
        rtt_ms = single["ceiling_p50_us"] / 1000
        bound = durable["in_flight"] / ((fsync_ms + rtt_ms) / 1000)
        add("- Durable writes: every acknowledged write waits for one fsync "
            "plus a round trip, so throughput <= in_flight / (fsync + "
            "round trip). Here one synced 4 KiB write (dd oflag=dsync, 200 "
            "of them) took %.2f ms and the ceiling's single-call p50 is "
            "%.2f ms: %d / %.2f ms = %s ops/s. Measured: %s ops/s with "
            "%s fsyncs per write and %s writes per commit group; the "
            "ceiling gives %s ops/s at the same in-flight level." % (
                fsync_ms, rtt_ms, durable["in_flight"], fsync_ms + rtt_ms,
                fmt(bound), fmt(durable["ops_per_s"]),
                fmt(durable["fsyncs_per_op"], 3),
                fmt(durable["mean_group_size"], 1),
                fmt(durable["ceiling_ops_per_s"])))
    get = results.get("get")
    if get and get.get("server_cpu_us_per_op") and get.get(
            "client_cpu_us_per_op"):
        cpu = get["server_cpu_us_per_op"] + get["client_cpu_us_per_op"]
        add("- CPU: client and server share %s cores. A get costs %.1f us "
            "of server CPU and %.1f us of client CPU, so the pair can do at "
            "most %s x 10^6 / %.1f = %s gets/s; measured %s." % (
                machine.get("nproc"), get["server_cpu_us_per_op"],
                get["client_cpu_us_per_op"], machine.get("nproc"), cpu,
                fmt(int(machine.get("nproc", "2")) * 1e6 / cpu),
                fmt(get["ops_per_s"])))
    add("")

    profiles = [n for n in ("get", "set", "set_durable")
                if read_value(meta, "profile_%s.txt" % n)]
    if profiles:
        add("## Where kv-server's time goes (perf, cpu-clock)")
        add("")
        add("perf record -e cpu-clock on kv-server for 3 s while kv-bench "
            "drove the scenario: self time by library, the top symbols, and "
            "by thread. Each column is a share of kv-server's samples.")
        for n in profiles:
            add("")
            add("### %s" % n)
            for title, name in (("by library", "dsos"),
                                ("top symbols", "profile"),
                                ("by thread", "threads")):
                text = read_value(meta, "%s_%s.txt" % (name, n))
                if not text:
                    continue
                add("")
                add("%s:" % title)
                add("")
                add("```")
                for line in text.splitlines():
                    add(line.strip()[:100])
                add("```")
        add("")

    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "NOTES.md")
    if os.path.exists(notes):
        add("## Analysis")
        add("")
        add("From benchmarks/NOTES.md, written by hand after a run; check "
            "its figures against the tables above.")
        add("")
        with open(notes) as f:
            lines.extend(l.rstrip("\n") for l in f)
        add("")

    with open(path, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--markdown_only", action="store_true",
                        help="rewrite RESULTS.md and sweep.dat from a kept "
                        "--meta directory without appending to "
                        "results.jsonl (e.g. after editing NOTES.md)")
    args = parser.parse_args()

    machine = read_machine(args.meta)
    with open(os.path.join(args.meta, "runs.jsonl")) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    results = summarise(runs, machine)
    date = runs[-1]["date"] if runs else None
    redis = read_redis(args.meta, date)
    points = sweep_points(runs)
    loads = [r for r in runs if r["mode"] == "load"]
    load = loads[0] if loads else None

    def mib(name):
        v = read_value(args.meta, name)
        return int(v) / 1024 if v else None

    def seconds(name):
        v = read_value(args.meta, name)
        return int(v) / 1000 if v else None

    memory = {
        "scenario": "memory",
        "label": "kv-server",
        "date": date,
        "keys": int(machine.get("keys", 0)),
        "value_bytes": 100,
        "rss_mib_after_writes": mib("rss_kib_loaded"),
        "rss_mib_reopened": mib("rss_kib_reopened"),
        "store_mib": mib("store_kib"),
        "block_cache_mib": BLOCK_CACHE_MIB,
        "startup_s_empty": seconds("startup_ms_empty"),
        "startup_s_loaded": seconds("startup_ms_loaded"),
    }

    results_path = os.path.join(args.out, "results.jsonl")
    with open(os.devnull if args.markdown_only else results_path, "a") as f:
        for name in SCENARIOS:
            if name in results:
                f.write(json.dumps(results[name]) + "\n")
        for p in points:
            f.write(json.dumps(p) + "\n")
        if load:
            f.write(json.dumps(load) + "\n")
        f.write(json.dumps(memory) + "\n")
        for r in redis:
            f.write(json.dumps(r) + "\n")
    write_sweep(os.path.join(args.out, "sweep.dat"), points)
    write_markdown(os.path.join(args.out, "RESULTS.md"), args.meta, machine,
                   results, redis, points, memory, load)


if __name__ == "__main__":
    main()
