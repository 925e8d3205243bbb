"""Where a running vamp process spends its time: py-spy record, summarised by function."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

TOP = 12


def pyspy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


def profile(pid: int, seconds: float, out: Path) -> str:
    """Sample ``pid`` for ``seconds``; the functions where most samples were, by own time
    and by total time (as text). Never raises: a profiler that cannot run says why."""
    tool = pyspy()
    if tool is None:
        return "py-spy is not installed (make bench installs it: pip install py-spy)"
    try:
        res = subprocess.run(
            [tool, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
             "--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking"],
            capture_output=True, text=True, timeout=seconds + 30,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"py-spy failed: {exc}"
    if res.returncode != 0 or not out.exists():
        return f"py-spy failed ({res.returncode}): {res.stderr.strip()[-400:]}"
    return summarise(out.read_text())


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 1)[-1]
    return f"{name} ({file})" if file else name


def summarise(collapsed: str) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if not samples:
        return "no samples"
    lines = [f"{samples} samples; own time (where the CPU was):"]
    lines += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in own.most_common(TOP)]
    lines.append("total time (inside, including callees), vamp and aiortc frames:")
    interesting = [(f, n) for f, n in total.most_common()
                   if any(k in f for k in ("sync.py", "store.py", "peer.py", "mesh.py", "wire.py",
                                           "rtcsctptransport", "rtcdtlstransport", "capture.py",
                                           "trace.py", "takefile.py", "ranges.py", "ice.py"))]
    lines += [f"  {100 * n / samples:5.1f}%  {f}" for f, n in interesting[:TOP]]
    return "\n".join(lines)
