"""supervisord event listener: start again, every 5 seconds, any program that gave up.

supervisord retries a program that exits before `startsecs` only `startretries` times, one
second longer apart each time, then leaves it FATAL for good. A program that cannot start
yet (its database is down, its management command not deployed) should come up once it
can, without a person: this listener notes each program that turns FATAL and, at the next
TICK_5, starts it again (it then gets its quick retries again). A program stopped on
purpose (supervisorctl stop) is STOPPED, not FATAL, and stays stopped. Once supervisord
is stopping, nothing is started.
"""

from __future__ import annotations

import io
import os
import sys
import time
import xmlrpc.client
from typing import Any

from supervisor import childutils


class Retrier:
    def __init__(self, rpc: Any) -> None:
        self.rpc = rpc
        self.fatal: set[str] = set()
        self.stopping = False

    def handle(self, event_name: str, payload: str) -> None:
        if event_name == "SUPERVISOR_STATE_CHANGE_STOPPING":
            self.stopping = True
        elif event_name == "PROCESS_STATE_FATAL":
            event = childutils.get_headers(payload)
            self.fatal.add(f"{event['groupname']}:{event['processname']}")
        elif event_name.startswith("TICK") and self.fatal and not self.stopping:
            self.start_again()

    def start_again(self) -> None:
        names, self.fatal = sorted(self.fatal), set()
        for name in names:
            log(f"starting {name} again after it gave up")
            try:
                self.rpc.supervisor.startProcess(name, False)
            except xmlrpc.client.Fault as fault:
                # ALREADY_STARTED: a person did; SHUTDOWN_STATE: supervisord is stopping.
                log(f"{name} not started: {fault.faultString}")
            except OSError as exc:
                log(f"{name} not started: {exc}")

    def note_fatal_now(self) -> None:
        """Programs that turned FATAL while this listener was not running (it restarted)."""
        try:
            infos = self.rpc.supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error) as exc:
            log(f"cannot ask supervisord for its programs: {exc}")
            return
        self.fatal |= {f"{i['group']}:{i['name']}" for i in infos if i["statename"] == "FATAL"}


def log(message: str) -> None:
    # Shaped like supervisord's own lines, which sit beside these on the terminal.
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    sys.stderr.write(f"{stamp} INFO retry_fatal: {message}\n")
    sys.stderr.flush()


def main() -> None:
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")
    stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    retrier = Retrier(childutils.getRPCInterface(os.environ))
    retrier.note_fatal_now()
    while True:
        headers, payload = childutils.listener.wait(stdin, stdout)
        retrier.handle(headers["eventname"], payload)
        childutils.listener.ok(stdout)


if __name__ == "__main__":
    main()
