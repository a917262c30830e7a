"""Where tests and throwaway servers keep their files: in memory (/dev/shm) when it has room.

The tests' SQLite stores and PostgreSQL's databases are written and fsynced hundreds of times a run;
on this box's disk (ext4 mounted with `discard`, shared) creating one store took 290-370 ms of wall
time for 17-23 ms of CPU, in memory 27-110 ms. Nothing a test checks depends on the disk: a killed
process leaves its writes in the page cache either way, and none of them cuts the power."""

from __future__ import annotations

import os

MEMORY = "/dev/shm"
ROOM = 2 << 30  # bytes free in /dev/shm for it to be used (a run leaves well under 1 GiB)


def memory_folder() -> str | None:
    """/dev/shm when it is writable and has `ROOM` free, else None (the usual temporary folder)."""
    try:
        stat = os.statvfs(MEMORY)
    except OSError:
        return None
    roomy = stat.f_bavail * stat.f_frsize >= ROOM
    return MEMORY if roomy and os.access(MEMORY, os.W_OK) else None
