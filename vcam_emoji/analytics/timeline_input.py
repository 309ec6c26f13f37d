"""Read a timeline written by ``run --timeline`` or ``render --timeline`` (one JSON object per frame).

``run`` appends, so one file may hold several sessions: a new one starts where the frame number or the time goes
back. Each session is analysed as a recording of its own. A line that is not a frame record (a line cut short when
the app was killed, a hand edit) is skipped and counted; a file with no frame record at all is an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .summarise import FrameLog, RecordError


@dataclass
class TimelineSession:
    index: int  # 1-based, in the order of the file
    first_line: int
    log: FrameLog = field(default_factory=FrameLog)
    last_frame: int = -1


@dataclass(frozen=True)
class TimelineFile:
    path: Path
    sessions: tuple[TimelineSession, ...]
    skipped_lines: int
    first_skipped: int | None  # line number of the first skipped line
    first_problem: str | None


def read_timeline(path: str | Path) -> TimelineFile:
    """Parse ``path`` into sessions. Raises InputError if it cannot be read or holds no frame record."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; give the .jsonl written by run --timeline or render --timeline")
    sessions: list[TimelineSession] = []
    skipped, first_skipped, first_problem = 0, None, None
    try:
        with open(path, encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise RecordError("not a JSON object")
                    frame = record.get("frame")
                    if not isinstance(frame, int) or isinstance(frame, bool):
                        raise RecordError(f"frame must be an integer, got {frame!r}")
                    current = sessions[-1] if sessions else None
                    if current is None or frame <= current.last_frame or (
                            current.log.t and float(record.get("t", 0.0)) < current.log.t[-1]):
                        current = TimelineSession(len(sessions) + 1, number)
                        sessions.append(current)
                    current.log.add_record(record)
                    current.last_frame = frame
                except (json.JSONDecodeError, RecordError, TypeError, ValueError) as exc:
                    skipped += 1
                    if first_skipped is None:
                        first_skipped, first_problem = number, str(exc)
                    if sessions and not len(sessions[-1].log):
                        sessions.pop()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file; give the .jsonl written by run --timeline") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    if not sessions:
        detail = f" (line {first_skipped}: {first_problem})" if first_skipped is not None else " (it is empty)"
        raise InputError(f"{path}: no frame record found{detail}; give the .jsonl written by run --timeline or "
                         "render --timeline")
    return TimelineFile(path, tuple(sessions), skipped, first_skipped, first_problem)
