"""supervisord event listener: every program's output, line by line, behind its name.

supervisord hands each chunk a program writes (stdout_events_enabled) to this process as a
PROCESS_LOG event on stdin. The lines go out on stderr, which supervisord writes to its own
stdout (stderr_logfile=/dev/stdout): under `make run`, the terminal. stdout is the event
protocol and carries nothing else.
"""

from __future__ import annotations

import io
import sys

from supervisor import childutils

# Wide enough for "worker" and "relay"; longer names push their own lines out.
NAME_WIDTH = 6


class LinePrefixer:
    """Whole lines behind their program's name; a chunk that ends mid-line keeps the rest
    until the program writes the end of it (a chunk is what one read of its pipe got)."""

    def __init__(self) -> None:
        self._partial: dict[str, str] = {}

    def feed(self, name: str, data: str) -> str:
        text = self._partial.pop(name, "") + data
        *lines, rest = text.split("\n")
        if rest:
            self._partial[name] = rest
        return "".join(f"{name:<{NAME_WIDTH}} | {line}\n" for line in lines)


def main() -> None:
    # The envelope counts characters of UTF-8 text: read it as such, with no newline
    # translation (a \r\n in a program's output must count as two characters).
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    out = sys.stderr.buffer
    prefixer = LinePrefixer()
    while True:
        headers, payload = childutils.listener.wait(stdin, stdout)
        if headers["eventname"].startswith("PROCESS_LOG"):
            event, data = childutils.eventdata(payload)
            out.write(prefixer.feed(event["processname"], data).encode("utf-8"))
            out.flush()
        childutils.listener.ok(stdout)


if __name__ == "__main__":
    main()
