#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""bench/history.py: the benchmarks' history, bench/history.jsonl.

  history.py record RUN.jsonl...   append the runs bench/suite printed
  history.py guard RUN.jsonl [--rerun]
                                   compare a run with the last recorded run
                                   on the same kind of machine; --rerun
                                   measures a regression once more before
                                   calling it one
  history.py chart [--out DIR]     SVG charts with gnuplot (bench/charts)
  history.py table                 the README's table, from the latest runs

A run is a "run" line (revision, date, where: "host" or "vm 6.12") and
what the programs printed.  Its kind of machine (arch, CPU model, CPU
count, protection keys, /dev/smem, and where) decides what it is compared
with: absolute times mean nothing across machines, or on a shared one
from hour to hour, so the guard compares only ratios to anchors measured
in the same run (the paired ratio: bench/bench.h) and figures that are
not times (bytes, mappings, counts).
"""
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HISTORY = os.path.join(TOP, "bench", "history.jsonl")
# A guarded figure regresses when it gets this much worse.
FACTOR = 2.0


def read_runs(lines):
    """The runs in @lines: a list of (run, figures)."""
    runs = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            # A guest's console may cut a line with a kernel message.
            sys.stderr.write("history.py: not JSON, left out: %s\n" % line[:120])
            continue
        kind = rec.get("type")
        if kind == "run":
            runs.append([rec, []])
        elif not runs:
            raise SystemExit("history.py: figures before any run line")
        elif kind == "machine":
            run = runs[-1][0]
            if "machine" not in run:
                run["machine"] = {k: rec[k] for k in
                                  ("kernel", "arch", "cpu", "cpus", "pkeys",
                                   "smem_device", "loadavg")}
        elif kind == "end":
            runs[-1][0]["loadavg_end"] = rec["loadavg"]
        else:
            runs[-1][1].append(rec)
    for run, _ in runs:
        if "machine" not in run:
            raise SystemExit("history.py: a run without a machine line")
        m = run["machine"]
        run["kind"] = "%s, %s, %s, %d CPUs, %s, %s" % (
            run["where"].split()[0] if run["where"] == "host" else run["where"],
            m["arch"], m["cpu"], m["cpus"],
            "keys" if m["pkeys"] else "no keys",
            "/dev/smem" if m["smem_device"] else "no /dev/smem")
        run.setdefault("id", "%s %s %s" % (run["date"], run["where"], run["rev"]))
    return [(r, f) for r, f in runs]


def load_history():
    if not os.path.exists(HISTORY):
        return []
    runs, figures = {}, {}
    order = []
    with open(HISTORY) as f:
        for line in f:
            rec = json.loads(line)
            if rec["type"] == "run":
                runs[rec["id"]] = rec
                figures[rec["id"]] = []
                order.append(rec["id"])
            else:
                figures[rec["run"]].append(rec)
    return [(runs[i], figures[i]) for i in order]


def key(fig):
    return (fig["bench"], fig["config"], fig["section"], fig["row"])


# ------------------------------------------------------------------ record

def record(paths):
    n = 0
    with open(HISTORY, "a") as out:
        for path in paths:
            with open(path) as f:
                for run, figures in read_runs(f):
                    out.write(json.dumps(run, sort_keys=True) + "\n")
                    for fig in figures:
                        fig = dict(fig, run=run["id"])
                        out.write(json.dumps(fig, sort_keys=True) + "\n")
                    print("recorded %s: %d figures, %s" % (run["id"], len(figures), run["kind"]))
                    n += 1
    if not n:
        raise SystemExit("history.py: no run to record")


# ------------------------------------------------------------------- guard

def guarded(figures):
    """The figures the guard watches, by key: (value, lower is better, text)."""
    out = {}
    for fig in figures:
        if not fig.get("guard"):
            continue
        # A ratio is compared only with one to the same anchor.
        if fig["type"] == "row" and "p10_ratio" in fig:
            out[key(fig) + (fig["anchor"],)] = (fig["p10_ratio"], True,
                                                "x %s (p10)" % fig["anchor"])
        elif fig["type"] == "value" and fig.get("better"):
            out[key(fig) + ("",)] = (fig["value"], fig["better"] == "lower", fig["unit"])
    return out


def worse(new, old, lower):
    if lower:
        # From none to a whole unit (a mapping, a byte) is a regression too.
        return new > old * FACTOR if old > 0 else new >= 1
    return new < old / FACTOR


def compare(new, old):
    """The keys of @new that regressed against @old, and how many were compared."""
    bad = [k for k in new if k in old and worse(new[k][0], old[k][0], new[k][1])]
    return bad, sum(1 for k in new if k in old)


def rerun(run, benches):
    cmd = [os.path.join(TOP, "bench", "suite"), "--quick", "--only", ",".join(sorted(benches))]
    if run["where"] != "host":
        cmd += ["--vm", run["where"].split()[1]]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return guarded(read_runs(out.splitlines())[0][1])


def guard(path, again):
    with open(path) as f:
        runs = read_runs(f)
    history = load_history()
    status = 0
    for run, figures in runs:
        base = [r for r in history if r[0]["kind"] == run["kind"]]
        if not base:
            print("bench-guard: no recorded run on this kind of machine (%s): "
                  "nothing to compare; make bench-record adds one" % run["kind"])
            status = max(status, 77)
            continue
        # Each figure against its last recorded value: a run may have
        # recorded some programs only (bench/suite --only).
        old, source = {}, {}
        for old_run, old_figures in base:
            for k, v in guarded(old_figures).items():
                old[k], source[k] = v, old_run["id"]
        new = guarded(figures)
        bad, compared = compare(new, old)
        if bad and again:
            print("# %d figures more than %gx worse: measuring them again" % (len(bad), FACTOR))
            second = rerun(run, {k[0] for k in bad})
            for k in bad:
                if k in second:
                    v, lower, text = new[k]
                    best = min(v, second[k][0]) if lower else max(v, second[k][0])
                    new[k] = (best, lower, text)
            bad, compared = compare(new, old)
        for k in bad:
            print("# REGRESSION %s | %s | %s | %s: %.4g %s now, %.4g in %s" %
                  (k[:4] + (new[k][0], new[k][2], old[k][0], source[k])))
        runs_used = sorted({source[k] for k in new if k in old})
        print("bench-guard: %s: %d figures against %s, %d more than %gx worse" %
              (run["where"], compared, " and ".join(runs_used) or "nothing", len(bad), FACTOR))
        if bad:
            status = 1
    return 1 if status == 1 else status


# ------------------------------------------------------------------- charts

# access_bench's rows of windows on secrets given a linger (without keys).
LONE_LINGER = "lone window, linger 1000 us"
TWO_LINGER = "2 threads, a secret each, linger 1000 us"


def latest(history, where, quick=False):
    """The last run at @where and each figure as that place last recorded it."""
    runs = [r for r in history if r[0]["where"] == where and r[0]["quick"] == quick]
    if not runs:
        return None
    merged = {}
    for _, figures in runs:
        for fig in figures:
            merged[key(fig)] = fig
    return runs[-1][0], list(merged.values())


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


PALETTE = ["#9400d3", "#009e73", "#56b4e9", "#e69f00", "#f0e442", "#0072b2", "#e51e10",
           "#000000", "#cc79a7", "#8c564b", "#7f7f7f", "#17becf"]


def bars(out, title, ylabel, figures, section, rows, configs, field="median_ns", log=True):
    """A clustered bar chart: one cluster per config, one bar per row."""
    table = {}
    for fig in figures:
        if fig["section"] == section and fig["row"] in rows and fig["type"] != "skip":
            table[(fig["config"], fig["row"])] = fig.get(field, fig.get("value"))
    configs = [c for c in configs if any((c, r) in table for r in rows)]
    rows = [r for r in rows if any((c, r) in table for c in configs)]
    if not configs:
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
        dat.write("config\t" + "\t".join('"%s"' % r for r in rows) + "\n")
        for c in configs:
            dat.write('"%s"\t' % c + "\t".join(
                "%g" % table[(c, r)] if (c, r) in table else "NaN" for r in rows) + "\n")
    # A colour of its own per bar: gnuplot's default cycle repeats after 8.
    cols = " ,".join("'%s' using %d:xtic(1) title columnheader(%d) lc rgb '%s'" %
                     (dat.name, i + 2, i + 2, PALETTE[i % len(PALETTE)])
                     for i in range(len(rows)))
    gnuplot("""set terminal svg size 1000,520 dynamic font 'sans,11'
set output '%s'
set title "%s"
set ylabel "%s"
set termoption noenhanced
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below
set grid ytics
%s
set xtics rotate by -20
plot %s
""" % (out, title, ylabel, "set logscale y" if log else "set yrange [0:*]", cols))
    os.unlink(dat.name)
    return True


def trend(out, title, history, where, series):
    """Lines of @series (label, bench, section, row) over the runs at @where."""
    runs = [r for r in history if r[0]["where"] == where]
    if len(runs) < 1:
        return False
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as dat:
        dat.write("run\t" + "\t".join('"%s"' % s[0] for s in series) + "\n")
        for i, (run, figures) in enumerate(runs):
            by = {(f["bench"], f["config"], f["section"], f["row"]): f for f in figures}
            vals = []
            for _, bench, config, section, row in series:
                f = by.get((bench, config, section, row))
                vals.append("%g" % f["paired_ratio"] if f and "paired_ratio" in f else "NaN")
            dat.write('"%s %s"\t' % (run["rev"][:7], run["date"][:10]) + "\t".join(vals) + "\n")
    cols = ", ".join("'%s' using 0:%d:xtic(1) with linespoints title columnheader(%d)"
                     % (dat.name, i + 2, i + 2) for i in range(len(series)))
    gnuplot("""set terminal svg size 1000,480 dynamic font 'sans,11'
set output '%s'
set title "%s"
set termoption noenhanced
set offsets 0.5, 0.5, 0, 0
set ylabel "paired ratio to its anchor (lower is better)"
set logscale y
set grid
set key below
set xtics rotate by -30
plot %s
""" % (out, title, cols))
    os.unlink(dat.name)
    return True


def configs_of(figures):
    seen = []
    for f in figures:
        if f["config"] and f["config"] not in seen and f["type"] != "skip":
            seen.append(f["config"])
    return seen


def chart(outdir):
    history = load_history()
    if not history:
        raise SystemExit("history.py: no history yet (make bench-record)")
    os.makedirs(outdir, exist_ok=True)
    made = []
    wheres = []
    for run, _ in history:
        if run["where"] not in wheres:
            wheres.append(run["where"])
    for where in wheres:
        got = latest(history, where) or latest(history, where, quick=True)
        if not got:
            continue
        run, figures = got
        tag = where.replace(" ", "-")
        access = [f for f in figures if f["bench"] == "access_bench"]
        name = os.path.join(outdir, "windows-%s.svg" % tag)
        if bars(name, "A read window on a 32-byte secret, %s (%s, %s)" %
                (where, run["machine"]["cpu"], run["rev"]),
                "ns per window (log scale)", access, "read 32 B",
                ["floor: callback on ordinary memory", "WRPKRU pair", "mprotect pair",
                 "sodium_mprotect pair", "lone window", "nested window",
                 "overlapping window (another thread inside)", "2 threads, a secret each",
                 "2 threads, one secret", LONE_LINGER, TWO_LINGER], configs_of(access)):
            made.append(name)
        life = [f for f in figures if f["bench"] == "lifetime_bench"]
        name = os.path.join(outdir, "lifetime-%s.svg" % tag)
        if bars(name, "Create and close a 32-byte secret, %s (%s)" % (where, run["rev"]),
                "ns per secret (log scale)", life, "create+close 32 B",
                sorted({f["row"] for f in life if f["section"] == "create+close 32 B"}),
                configs_of(life)):
            made.append(name)
        scale = [f for f in figures if f["bench"] == "scale_bench"]
        name = os.path.join(outdir, "scale-%s.svg" % tag)
        live = sorted({f["row"] for f in scale if f["row"].startswith("secrets live")})
        if live and bars(name, "Live 32-byte secrets in one process, %s (%s)" % (where, run["rev"]),
                         "secrets (log scale)", scale, "live 32-byte secrets", live,
                         configs_of(scale), field="value"):
            made.append(name)
        series = []
        for config in configs_of(access):
            series.append(("%s: lone window" % config, "access_bench", config, "read 32 B",
                           "lone window"))
            series.append(("%s: 2 threads" % config, "access_bench", config, "read 32 B",
                           "2 threads, a secret each"))
            series.append(("%s: 2 threads, linger" % config, "access_bench", config, "read 32 B",
                           TWO_LINGER))
        name = os.path.join(outdir, "trend-%s.svg" % tag)
        if trend(name, "Read window ratios across revisions, %s" % where, history, where,
                 series):
            made.append(name)
    for m in made:
        print("chart: %s" % os.path.relpath(m, TOP))


# ------------------------------------------------------------------- table

def table():
    """Per place and configuration: the main figures of the latest full runs."""
    history = load_history()
    print("| where | configuration | read window | x its mechanism | nested | 2 threads, x lone "
          "| 2 threads with a linger, x lone | make+close 32 B, x sodium_malloc | live secrets |")
    print("|---|---|---|---|---|---|---|---|---|")
    for where in ("host", "vm 6.12"):
        got = latest(history, where)
        if not got:
            continue
        run, figures = got
        by = {key(f): f for f in figures}
        for config in configs_of([f for f in figures if f["bench"] == "access_bench"]):
            def get(bench, section, row):
                return by.get((bench, config, section, row))
            lone = get("access_bench", "read 32 B", "lone window")
            nested = get("access_bench", "read 32 B", "nested window")
            two = get("access_bench", "read 32 B", "2 threads, a secret each")
            two_linger = get("access_bench", "read 32 B", TWO_LINGER)
            life = get("lifetime_bench", "create+close 32 B", "smem_secret_new + unref")
            sodium = get("lifetime_bench", "create+close 32 B", "sodium_malloc + sodium_free")
            live = [f for f in figures if f["bench"] == "scale_bench" and f["config"] == config
                    and f["row"].startswith("secrets live")]
            if not lone:
                continue
            print("| %s (%s) | %s | %.1f us | %.2f (%s) | %.0f ns | %s | %s | %s | %s |" % (
                where, run["rev"][:7], config, lone["median_ns"] / 1000, lone["p10_ratio"],
                lone["anchor"], nested["median_ns"] if nested else float("nan"),
                "%.1f" % (two["median_ns"] / lone["median_ns"]) if two else "-",
                "%.3f" % (two_linger["median_ns"] / lone["median_ns"]) if two_linger else "-",
                "%.2f" % (life["median_ns"] / sodium["median_ns"]) if life and sodium else "-",
                "{:,}".format(int(live[0]["value"])) if live else "-"))


def main(argv):
    if len(argv) > 1 and argv[1] == "record" and len(argv) > 2:
        record(argv[2:])
        return 0
    if len(argv) in (3, 4) and argv[1] == "guard":
        return guard(argv[2], "--rerun" in argv[3:])
    if argv[1:2] == ["chart"] and (len(argv) == 2 or (len(argv) == 4 and argv[2] == "--out")):
        chart(argv[3] if len(argv) == 4 else os.path.join(TOP, "bench", "charts"))
        return 0
    if len(argv) == 2 and argv[1] == "table":
        table()
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
