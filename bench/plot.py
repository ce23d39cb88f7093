#!/usr/bin/env python3
"""Runs atomkit's benchmark sweep and draws the throughput curves.

For each family (the first part of a benchmark name, "<family>/<variant>/<impl>/<threads>") it runs
the benchmark binary with repetitions, keeps the raw Google Benchmark JSON, and writes:
  results/raw_<family>.json    raw results, every repetition
  results/results.csv          one row per benchmark: the median and spread of each counter
  results/<family>_<variant>.png  throughput ("rate") against threads, every impl on one chart
  results/<family>_<variant>_latency.png  hand-off latency (p50, p99, p99.9 in ns, log scale)
                               against threads, for the families that report it
  results/summary.txt          the text table, the ratio of each atomkit impl to each peer, and
                               the ratio of each atomkit impl's p99.9 to the best peer's
Reference rows (names starting with "bare " or holding "(reference)") are bounds, not peers: they
are drawn and tabulated but never the "best peer".
A progress line is printed while it runs. In the ipc family, "(processes)" impls run their sides in
fork()ed processes and "(threads)" ones in threads of one process.
"""
import argparse
import collections
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import time


def parse_name(name):
    # "<family>/<variant>/<impl>/<threads>[/iterations:1/manual_time...]"; impl may hold "/"? no.
    parts = name.split("/")
    return parts[0], parts[1], parts[2], int(parts[3])


def list_families(binary, filt):
    out = subprocess.run([binary, "--benchmark_list_tests", "--benchmark_filter=" + filt],
                         check=True, capture_output=True, text=True).stdout
    names = [l.strip() for l in out.splitlines() if l.strip()]
    fams = collections.OrderedDict()
    for n in names:
        fams.setdefault(n.split("/")[0], []).append(n)
    return fams


def run_family(binary, family, filt, names, reps, outdir, idx, total):
    count = len(names)
    raw = os.path.join(outdir, "raw_%s.json" % family)
    start = time.time()
    print("[%d/%d] %-10s %3d benchmarks x %d repetitions ..." % (idx, total, family, count, reps),
          flush=True)
    if filt != "^%s/" % family:
        # Exactly the family's names that the user's filter matched (the binary's regex is POSIX:
        # no lookahead to combine the two filters, so the names are listed, escaped).
        filt = "^(%s)" % "|".join(re.sub(r"([][.()*+?{}|^$\\])", r"\\\1", n) for n in names)
    cmd = [binary, "--benchmark_filter=" + filt, "--benchmark_repetitions=%d" % reps,
           "--benchmark_out=" + raw, "--benchmark_out_format=json",
           "--benchmark_format=console"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = 0
    for line in proc.stdout:
        if "/manual_time" in line and "_mean" not in line and "_median" not in line \
                and "_stddev" not in line and "_cv" not in line:
            done += 1
            # One line rewritten in place on a terminal; every 20 runs into a log.
            if sys.stdout.isatty():
                sys.stdout.write("\r      %s: %d/%d runs, %.0f s" % (family, done, count * reps,
                                                                   time.time() - start))
                sys.stdout.flush()
            elif done % 20 == 0 or done == count * reps:
                print("      %s: %d/%d runs, %.0f s" % (family, done, count * reps,
                                                      time.time() - start), flush=True)
    proc.wait()
    sys.stdout.write("\n")
    if proc.returncode != 0:
        sys.exit("benchmark binary failed for family %s (exit %d)" % (family, proc.returncode))
    with open(raw) as f:
        return json.load(f)


def collect(raw_docs):
    """-> {(family, variant, impl, threads): {counter: [values...]}}"""
    data = collections.OrderedDict()
    for doc in raw_docs:
        for b in doc["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            key = parse_name(b["run_name"] if "run_name" in b else b["name"])
            slot = data.setdefault(key, collections.defaultdict(list))
            for c in COUNTERS:
                if c in b:
                    slot[c].append(float(b[c]))
    return data


LATENCY = ("p50_ns", "p99_ns", "p999_ns", "max_ns")
# The pool family adds heap allocations per task (a table: it has no rate) and the per-future
# cost of as_completed.
COUNTERS = ("rate", "fairness", "cpu_seconds") + LATENCY + ("allocs_per_task", "ns_per_future")


def is_reference(impl):
    return impl.startswith("bare ") or "(reference)" in impl


# Locks that serve waiters strictly in arrival order. Each acquisition of such a lock waits for a
# whole round of the queue, while a lock that lets the releasing thread take it again (barging)
# serves most acquisitions with no wait and starves the others (its max and fairness show that):
# their p99.9 figures measure different things. A FIFO atomkit lock's p99.9 is therefore also
# set beside the best FIFO peer's (and the futex ring's, a bound rather than a peer).
FIFO = ("atomkit::ticket_lock", "ck_spinlock_ticket", "futex ring (reference)")


def p999_line(label, a_row, candidates, impls, threads):
    cells = []
    for n in threads:
        a = a_row.get(n, {}).get("p999_ns")
        bs = [(impls[p][n]["p999_ns"], p) for p in candidates if "p999_ns" in impls[p].get(n, {})]
        if a is None or not bs:
            cells.append("%12s" % "-")
            continue
        b, _ = min(bs)
        cells.append("%12s" % ("%.2fx" % (a / b) if b > 0 else "-"))
    return "    %-34s" % label[:34] + "".join(cells)


def fmt_ns(v):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if v >= div:
            return "%.3g%s" % (v / div, unit)
    return "%.3gns" % v


def fmt_cell(c, v):
    if c == "rate":
        return fmt_rate(v)
    if c in LATENCY:
        return fmt_ns(v)
    return "%.3g" % v


def fmt_rate(v):
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return "%.3g%s" % (v / div, unit)
    return "%.3g" % v


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bench", default="build/bench/bench/atomkit_bench")
    ap.add_argument("--out", default="results")
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--filter", default=".", help="regex of benchmarks to run")
    ap.add_argument("--no-run", action="store_true", help="only redraw from the raw JSON files")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    docs = []
    if args.no_run:
        for f in sorted(os.listdir(args.out)):
            if f.startswith("raw_") and f.endswith(".json"):
                with open(os.path.join(args.out, f)) as fh:
                    docs.append(json.load(fh))
    else:
        fams = list_families(args.bench, args.filter)
        for i, (fam, names) in enumerate(fams.items(), 1):
            # A user filter narrows each family's run to the benchmarks it matched.
            filt = "^%s/" % fam if args.filter == "." else args.filter
            docs.append(run_family(args.bench, fam, filt, names, args.repetitions, args.out,
                                   i, len(fams)))
    data = collect(docs)

    med = {k: {c: statistics.median(v) for c, v in cs.items()} for k, cs in data.items()}
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["family", "variant", "impl", "threads", "counter", "median", "min", "max",
                    "repetitions"])
        for k, cs in data.items():
            for c, v in cs.items():
                w.writerow(list(k) + [c, statistics.median(v), min(v), max(v), len(v)])

    charts = collections.OrderedDict()
    for (fam, var, impl, n), cs in med.items():
        charts.setdefault((fam, var), collections.OrderedDict()).setdefault(impl, {})[n] = cs

    lines = ["atomkit benchmark summary: medians of %d repetitions, run side by side in one process"
             % args.repetitions, ""]
    for (fam, var), impls in charts.items():
        threads = sorted({n for per in impls.values() for n in per})
        lines.append("== %s / %s ==" % (fam, var))
        counters = [c for c in COUNTERS
                    if any(c in per.get(n, {}) for per in impls.values() for n in threads)]
        for c in counters:
            lines.append("  %s" % c)
            lines.append("    %-34s" % "impl \\ threads" + "".join("%12d" % n for n in threads))
            for impl, per in impls.items():
                cells = []
                for n in threads:
                    v = per.get(n, {}).get(c)
                    cells.append("%12s" % ("-" if v is None else fmt_cell(c, v)))
                lines.append("    %-34s" % impl + "".join(cells))
        if "rate" in counters:
            ours = [i for i in impls if i.startswith("atomkit::")]
            peers = [i for i in impls if not i.startswith("atomkit::")]
            for o in ours:
                for p in peers:
                    cells = []
                    for n in threads:
                        a = impls[o].get(n, {}).get("rate")
                        b = impls[p].get(n, {}).get("rate")
                        cells.append("%12s" % ("-" if not a or not b else "%.2fx" % (a / b)))
                    lines.append("    %-34s" % ("%s / %s" % (o.replace("atomkit::", ""), p))[:34]
                                 + "".join(cells))
        if "p999_ns" in counters:
            ours = [i for i in impls if i.startswith("atomkit::")]
            peers = [i for i in impls if not i.startswith("atomkit::") and not is_reference(i)]
            lines.append("  p99.9 / best peer's p99.9 (below 1: atomkit's tail is shorter)")
            for o in ours:
                lines.append(p999_line(o, impls[o], peers, impls, threads))
            fifo_peers = [p for p in impls if p in FIFO and not p.startswith("atomkit::")]
            for o in (o for o in ours if o in FIFO and fifo_peers):
                for p in fifo_peers:
                    lines.append(p999_line("%s / %s" % (o.replace("atomkit::", ""), p), impls[o],
                                           [p], impls, threads))
            for n in threads:
                bs = [(impls[p][n]["p999_ns"], p) for p in peers if "p999_ns" in impls[p].get(n, {})]
                if bs:
                    lines.append("    best peer at %d threads: %s (%s)" % (n, min(bs)[1],
                                                                       fmt_ns(min(bs)[0])))
        lines.append("")
    summary = "\n".join(lines)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(summary + "\n")
    print(summary)

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing: charts skipped (apt-get install python3-matplotlib)")
        return
    for (fam, var), impls in charts.items():
        if not any("rate" in cs for per in impls.values() for cs in per.values()):
            continue
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        for impl, per in impls.items():
            xs = sorted(n for n in per if "rate" in per[n])
            ys = [per[n]["rate"] for n in xs]
            style = "-o" if impl.startswith("atomkit::") else "--s"
            ax.plot(xs, ys, style, label=impl, linewidth=2 if impl.startswith("atomkit::") else 1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        xs_all = sorted({n for per in impls.values() for n in per})
        ax.set_xticks(xs_all)
        ax.set_xticklabels([str(x) for x in xs_all])
        # The ipc family's robust-lock charts count processes (fork()), not threads.
        unit = "processes" if fam == "ipc" and var.startswith("robust_") else "threads"
        ax.set_xlabel("%s (2 cores)" % unit)
        ax.set_ylabel("operations / s (median of %d)" % args.repetitions)
        ax.set_title("%s: %s" % (fam, var))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, "%s_%s.png" % (fam, var)), dpi=110)
        plt.close(fig)
        draw_latency(plt, fam, var, impls, args)
    print("charts and tables written to %s/" % args.out)


def draw_latency(plt, fam, var, impls, args):
    """p50 / p99 / p99.9 per impl: lines against threads, or grouped bars at a single count."""
    have = {impl: per for impl, per in impls.items()
            if any("p999_ns" in cs for cs in per.values())}
    if not have:
        return
    quantiles = (("p50_ns", "p50", ":"), ("p99_ns", "p99", "--"), ("p999_ns", "p99.9", "-"))
    xs_all = sorted({n for per in have.values() for n in per})
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(xs_all) == 1:
        n = xs_all[0]
        width = 0.8 / len(quantiles)
        names = list(have)
        for qi, (c, label, _) in enumerate(quantiles):
            ys = [have[i].get(n, {}).get(c, 0) for i in names]
            ax.bar([k + (qi - 1) * width for k in range(len(names))], ys, width, label=label)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=25, ha="right", fontsize=7)
        ax.set_xlabel("%d threads" % n)
    else:
        for k, (impl, per) in enumerate(have.items()):
            color = colors[k % len(colors)]
            for c, label, style in quantiles:
                xs = sorted(n for n in per if c in per[n])
                ax.plot(xs, [per[n][c] for n in xs], style, color=color, marker="o", markersize=3,
                        linewidth=2 if impl.startswith("atomkit::") else 1,
                        label="%s %s" % (impl, label))
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs_all)
        ax.set_xticklabels([str(x) for x in xs_all])
        ax.set_xlabel("threads (2 cores)")
    ax.set_yscale("log")
    ax.set_ylabel("latency, ns (median of %d runs' percentiles)" % args.repetitions)
    ax.set_title("%s: %s latency (p50 dotted, p99 dashed, p99.9 solid)" % (fam, var)
                 if len(xs_all) > 1 else "%s: %s latency" % (fam, var))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, loc="best", ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "%s_%s_latency.png" % (fam, var)), dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
