"""Draws one SVG bar chart per benchmark family with gnuplot.

    chart.py DIR

Reads every DIR/<family>.chart.tsv (header: chart, server, value, unit; one
row per bar) and writes DIR/<family>.svg: one panel per chart id, one bar
per server, tornuv's servers (names starting with "tornuv") in a strong
colour and the others in grey, the value printed on each bar. gnuplot does
the drawing; this script only lays the data out for it. A family whose file
has no numeric row gets no chart. Exits non-zero when gnuplot is missing or
fails, so bench/run can say so in its report.
"""
import csv
import glob
import os
import shutil
import subprocess
import sys

TORNUV_COLOUR = "#d9480f"
PEER_COLOUR = "#868e96"


def load(path):
    panels = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            try:
                value = float(row["value"])
            except (KeyError, TypeError, ValueError):
                continue
            panel = panels.setdefault(row["chart"], {"unit": row.get("unit", ""), "bars": []})
            panel["bars"].append((row["server"], value))
    return panels


def short(x):
    if x >= 100000:
        return f"{x / 1000:.0f}k"
    if x >= 10000:
        return f"{x / 1000:.1f}k"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.2f}"


def gnuplot_script(family, panels, svg, datdir):
    n = len(panels)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    lines = [
        f"set terminal svg size {520 * cols},{300 * rows} dynamic noenhanced font 'sans,10'",
        f"set output '{svg}'",
        f"set multiplot layout {rows},{cols} title '{family}: tornuv highlighted'",
        "set style fill solid 0.9 border -1",
        "set boxwidth 0.7",
        "set xtics rotate by -35 left nomirror",
        "set ytics nomirror",
        "set format y '%.1s%c'",
        "set grid ytics",
        "set yrange [0:*]",
        "set offsets 0.5, 0.5, 0, 0",
        "unset key",
    ]
    for i, (chart, panel) in enumerate(panels.items()):
        dat = os.path.join(datdir, f"{family}-{i}.dat")
        top = max(v for _, v in panel["bars"]) or 1
        with open(dat, "w") as f:
            for server, value in panel["bars"]:
                colour = TORNUV_COLOUR if server.startswith("tornuv") else PEER_COLOUR
                f.write(f'"{server}"\t{value}\t0x{colour[1:]}\t"{short(value)}"\n')
        unit = panel["unit"].replace("'", "")
        lines += [
            f"set title '{chart}'",
            f"set ylabel '{unit}'",
            f"set yrange [0:{top * 1.15}]",
            f"plot '{dat}' using 0:2:3:xtic(1) with boxes lc rgb variable, "
            f"'' using 0:2:4 with labels offset 0,0.6 font 'sans,8'",
        ]
    lines.append("unset multiplot")
    return "\n".join(lines) + "\n"


def main():
    out = sys.argv[1]
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        print("chart.py: gnuplot is not installed", file=sys.stderr)
        return 1
    datdir = os.path.join(out, "chart-data")
    os.makedirs(datdir, exist_ok=True)
    status = 0
    for path in sorted(glob.glob(os.path.join(out, "*.chart.tsv"))):
        family = os.path.basename(path)[: -len(".chart.tsv")]
        panels = load(path)
        if not panels:
            continue
        svg = os.path.join(out, f"{family}.svg")
        script = gnuplot_script(family, panels, svg, datdir)
        gp = os.path.join(datdir, f"{family}.gp")
        with open(gp, "w") as f:
            f.write(script)
        r = subprocess.run([gnuplot, gp], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"chart.py: gnuplot failed on {family}: {r.stderr.strip()}", file=sys.stderr)
            status = 1
        else:
            print(svg)
    return status


if __name__ == "__main__":
    sys.exit(main())
