"""The server under load (``python -m bench.load``): its process group's memory and CPU, its log's errors.

Read from Linux ``/proc`` (the server runs in a process group of its own:
``tests.browser.StreamlitServer``) and from the server log.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from tests.browser import REPO_ROOT


def _group_processes(pgid: int) -> list[tuple[Path, list[str]]]:
    """``(/proc/<pid>, stat fields after the command)`` of every process in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while being read
        if len(fields) > 12 and fields[2] == str(pgid):  # state, ppid, pgrp, …
            found.append((entry, fields))
    return found


def group_rss_mb(pgid: int) -> float:
    """The summed ``VmRSS`` (MB) of every process in process group ``pgid`` (Linux ``/proc``)."""
    total_kb = 0
    for entry, _ in _group_processes(pgid):
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_kb / 1024


def group_cpu_s(pgid: int) -> float:
    """The summed user + system CPU seconds of the processes now in process group ``pgid``."""
    ticks = sum(int(fields[11]) + int(fields[12]) for _, fields in _group_processes(pgid))  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def server_log_errors(log: str) -> dict[str, int]:
    """Each traceback in a server log as ``<deepest frame in this repository> → <exception line>``, counted."""
    found: dict[str, int] = defaultdict(int)
    for block in log.split("Traceback (most recent call last):")[1:]:
        lines = block.splitlines()
        frames = [line.strip() for line in lines if line.strip().startswith(f'File "{REPO_ROOT}')]
        ending = next((line.strip() for line in lines if re.match(r"^[\w.]+(Error|Exception|Warning)\b", line)), "?")
        where = frames[-1].removeprefix(f'File "{REPO_ROOT}/').replace('", line ', ":") if frames else "?"
        found[f"{where} → {ending}"] += 1
    return dict(found)
