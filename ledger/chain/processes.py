"""Process checks for the embedded node and its state saver, on the standard library."""

from __future__ import annotations

import os
from pathlib import Path


def process_alive(pid: int) -> bool:
    """Return whether process ``pid`` runs; a zombie counts as stopped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that exited but was not reaped is a zombie: treat it as stopped.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def group_members(group: int) -> list[int]:
    """Return the ids of the processes in process group ``group``, from /proc."""
    members = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        # After the command name: state, parent id, process group id.
        if len(fields) > 2 and int(fields[2]) == group:
            members.append(int(stat_file.parent.name))
    return members
