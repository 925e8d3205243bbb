"""The table on stdout, docs/benchmarks.json and docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.bench.common import Figure
from tests.bench.context import Context

PACKAGES = ("aiortc", "aioice", "python-socketio", "python-engineio", "aiohttp", "numpy",
            "sounddevice")


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def cell(stats: dict[str, float] | None) -> str:
    if not stats:
        return "—"
    if stats.get("n", 1) <= 1:
        return fmt(stats["median"])
    return f"{fmt(stats['median'])} / {fmt(stats['p99'])}"


def rows(figures: list[Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        ratio = f.ratio
        out.append([f.section, f.name, f.unit, cell(f.value), f.baseline_name or "—",
                    cell(f.baseline), f"{ratio:.2f}x" if ratio is not None else "—", f.note])
    return out


HEADER = ["section", "measurement", "unit", "vamp median / p99", "baseline",
          "baseline median / p99", "ratio", "note"]


def table_text(figures: list[Figure]) -> str:
    body = [HEADER, *rows(figures)]
    widths = [min(max(len(r[i]) for r in body), 48) for i in range(len(HEADER) - 1)]
    lines = []
    for r in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return "\n".join(lines)


def table_markdown(figures: list[Figure]) -> str:
    body = rows(figures)
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in body:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    def versions() -> dict[str, str]:
        out = {}
        for name in PACKAGES:
            try:
                out[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                out[name] = "missing"
        for tool, args in (("jackd", ["--version"]), ("jacktrip", ["-v"]), ("node", ["-v"])):
            try:
                res = subprocess.run([tool, *args], capture_output=True, text=True, timeout=10)
                text = (res.stdout + res.stderr).strip().splitlines()
                out[tool] = next((t for t in text if any(c.isdigit() for c in t)), "?")[:80]
            except (OSError, subprocess.TimeoutExpired):
                out[tool] = "missing"
        return out

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "versions": versions(),
        "load_average_at_start": os.getloadavg(),
    }


def write(ctx: Context, out_dir: Path, info: dict[str, Any], elapsed: float,
          argv: list[str], template: Path, findings: Path) -> None:
    """benchmarks.json and benchmarks.md (``template`` filled in; ``findings`` is the
    hand-written reading of the last full run, kept beside the template)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": info,
        "elapsed_s": elapsed,
        "command": "python -m tests.bench " + " ".join(argv) if argv else "python -m tests.bench",
        "quick": ctx.quick,
        "figures": [f.as_dict() for f in ctx.figures],
        "notes": ctx.notes,
        "profiles": ctx.profiles,
    }
    (out_dir / "benchmarks.json").write_text(json.dumps(data, indent=2) + "\n")
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    notes = "\n".join(f"- **{k}**: {v}" for k, v in ctx.notes.items()) or "- none"
    profiles = "\n\n".join(f"#### {k}\n\n```\n{v}\n```" for k, v in ctx.profiles.items())
    text = template.read_text().format(
        date=info["date"], platform=info["platform"], cpu=info["cpu"], cores=info["cores"],
        python=info["python"], versions=versions, load=", ".join(
            f"{x:.2f}" for x in info["load_average_at_start"]),
        elapsed=f"{elapsed:.0f}", command=data["command"], table=table_markdown(ctx.figures),
        notes=notes, profiles=profiles or "(no profile taken in this run)",
        findings=findings.read_text().strip() if findings.exists() else "(none written)",
    )
    (out_dir / "benchmarks.md").write_text(text)


def load(path: Path) -> tuple[Context, dict[str, Any]]:
    """A context holding the figures of a benchmarks.json (for ``--render``)."""
    data = json.loads(path.read_text())
    ctx = Context(path.parent, bool(data.get("quick")))
    for f in data["figures"]:
        f.pop("ratio", None)
        ctx.figures.append(Figure(**f))
    ctx.notes.update(data.get("notes", {}))
    ctx.profiles.update(data.get("profiles", {}))
    return ctx, data
