"""Checkpoints of the audit chain, kept outside the database.

A checkpoint says: at `at`, the sealed chain ended at `seq` with hash `head`, and the events
sealed since the previous checkpoint (`from_seq` to `seq`) had these hashes (`links`: the
first 16 hex digits of each, in seq order). It is signed with HMAC-SHA256 under
AUDIT_CHECKPOINT_KEY, a key that lives in the environment (or, for the demo, a file beside
the app's data), never in the database: whoever controls the database can rewrite the chain
and recompute every hash, but cannot sign a checkpoint that agrees with the rewrite.

One record is one JSON line; the records are contiguous: each one's `from_seq` is the
previous one's `seq` + 1 (a record with no new events, written so that the head's age
stays under AUDIT_CHECKPOINT_INTERVAL, has `from_seq` = `seq` + 1 and no links). The first
record may start anywhere: events sealed before checkpoints began are anchored by its head.

`FileCheckpointStore` appends to one file (`audit-checkpoints.jsonl` in
AUDIT_CHECKPOINT_DIR) under an exclusive lock, with fsync. The store is the only thing the
sealer and the verifier know of (`append`, `latest`, `records`, `lock`): an object store
with object lock (S3 Object Lock in compliance mode, say) can take its place, one immutable
object per record, named by its zero-padded `seq` so that listing gives the order.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

LINK_DIGITS = 16
FILE_NAME = "audit-checkpoints.jsonl"
VERSION = 1


class CheckpointInvalid(Exception):
    """A record that is not a checkpoint signed by this key: `line` is its line (1-based)."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"checkpoint line {line}: {detail}")
        self.line = line
        self.detail = detail


@dataclass(frozen=True)
class Checkpoint:
    seq: int  # the chain's last sealed seq (0: nothing sealed yet)
    head: str  # the hash at seq (GENESIS when seq is 0)
    from_seq: int  # the first seq `links` covers
    links: str  # LINK_DIGITS hex digits per seq from from_seq to seq
    at: datetime
    key_id: str = ""  # set from the key when written
    line: int = 0  # where it was read from (0: not read)

    def link(self, seq: int) -> str | None:
        """The fingerprint of the hash at `seq`, if this record covers it."""
        if not self.from_seq <= seq <= self.seq:
            return None
        start = (seq - self.from_seq) * LINK_DIGITS
        return self.links[start : start + LINK_DIGITS]


def link_of(event_hash: str) -> str:
    return event_hash[:LINK_DIGITS]


# --- signing ----------------------------------------------------------------------------


def checkpoint_key() -> bytes:
    """AUDIT_CHECKPOINT_KEY from the environment, or the key in AUDIT_CHECKPOINT_KEY_FILE.
    Where neither is given and AUDIT_CHECKPOINT_KEY_CREATE allows it (the demo, never
    production), a random key is made in that file, readable by its owner only."""
    key = settings.AUDIT_CHECKPOINT_KEY
    if key:
        return str(key).encode()
    path = Path(settings.AUDIT_CHECKPOINT_KEY_FILE)
    if not path.exists():
        if not settings.AUDIT_CHECKPOINT_KEY_CREATE:
            raise ImproperlyConfigured(
                "set AUDIT_CHECKPOINT_KEY, or AUDIT_CHECKPOINT_KEY_FILE to a file holding it"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(os.urandom(32).hex())
    secret = path.read_text().strip()
    if not secret:
        raise ImproperlyConfigured(f"the audit checkpoint key file {path} is empty")
    return secret.encode()


def key_id(key: bytes) -> str:
    """Which key signed a record, without revealing it."""
    return hashlib.sha256(b"key-id:" + key).hexdigest()[:8]


def _signed_fields(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_line(checkpoint: Checkpoint, key: bytes) -> str:
    record: dict[str, Any] = {
        "v": VERSION,
        "seq": checkpoint.seq,
        "head": checkpoint.head,
        "from": checkpoint.from_seq,
        "links": checkpoint.links,
        "at": checkpoint.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "key": key_id(key),
    }
    record["mac"] = hmac.new(key, _signed_fields(record), hashlib.sha256).hexdigest()
    return json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"


def checkpoint_parse(text: str, *, line: int, key: bytes) -> Checkpoint:
    """The checkpoint on one line, its signature checked, or CheckpointInvalid."""
    try:
        record = json.loads(text)
    except ValueError:
        raise CheckpointInvalid(line, "not JSON (a torn or edited line)") from None
    if not isinstance(record, dict) or record.get("v") != VERSION:
        raise CheckpointInvalid(line, "not a checkpoint record")
    mac = record.pop("mac", None)
    if record.get("key") != key_id(key):
        raise CheckpointInvalid(line, f"signed with another key (id {record.get('key')!r})")
    expected = hmac.new(key, _signed_fields(record), hashlib.sha256).hexdigest()
    if not isinstance(mac, str) or not hmac.compare_digest(mac, expected):
        raise CheckpointInvalid(line, "its signature does not match: the line was altered")
    try:
        checkpoint = Checkpoint(
            seq=int(record["seq"]),
            head=str(record["head"]),
            from_seq=int(record["from"]),
            links=str(record["links"]),
            at=datetime.fromisoformat(record["at"]),
            key_id=str(record["key"]),
            line=line,
        )
    except (KeyError, TypeError, ValueError):
        raise CheckpointInvalid(line, "a field is missing or malformed") from None
    if len(checkpoint.links) != (checkpoint.seq - checkpoint.from_seq + 1) * LINK_DIGITS:
        raise CheckpointInvalid(line, "its links do not cover from..seq")
    return checkpoint


# --- stores -----------------------------------------------------------------------------


class CheckpointStore(Protocol):
    def append(self, checkpoint: Checkpoint) -> None: ...

    def latest(self) -> Checkpoint | None: ...

    def records(self) -> Iterator[Checkpoint]: ...

    def lock(self) -> Any: ...

    def describe(self) -> str: ...


class FileCheckpointStore:
    """An append-only JSON-lines file in `directory`."""

    def __init__(self, directory: Path | str | None = None, key: bytes | None = None) -> None:
        self.directory = Path(directory or settings.AUDIT_CHECKPOINT_DIR)
        self.path = self.directory / FILE_NAME
        self.key = key if key is not None else checkpoint_key()

    def describe(self) -> str:
        return f"the file {self.path}"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One sealer at a time on this host (PostgreSQL's advisory lock covers hosts)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def append(self, checkpoint: Checkpoint) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = checkpoint_line(checkpoint, self.key).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            while data:  # a short write (a full disk) raises or writes the rest
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def latest(self) -> Checkpoint | None:
        """The last record (read backwards from the end: the file grows for years)."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 (closed below)
        except FileNotFoundError:
            return None
        with handle:
            end = handle.seek(0, os.SEEK_END)
            if end == 0:
                return None
            tail, position = b"", end
            while position > 0 and tail.rstrip(b"\n").count(b"\n") == 0:
                step = min(64 * 1024, position)
                position -= step
                handle.seek(position)
                tail = handle.read(step) + tail
            text = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            # Its line number, counted only when needed: for messages about a bad last line.
            try:
                return checkpoint_parse(text.decode(), line=0, key=self.key)
            except (CheckpointInvalid, UnicodeDecodeError):
                handle.seek(0)
                lines = sum(1 for _ in handle)
                return checkpoint_parse(text.decode(errors="replace"), line=lines, key=self.key)

    def records(self) -> Iterator[Checkpoint]:
        """Every record in order, each signature checked (CheckpointInvalid at the first
        that fails)."""
        try:
            handle = open(self.path, encoding="utf-8", errors="replace")  # noqa: SIM115
        except FileNotFoundError:
            return
        with handle:
            for number, text in enumerate(handle, start=1):
                yield checkpoint_parse(text, line=number, key=self.key)


def checkpoint_store() -> CheckpointStore:
    """The configured store (AUDIT_CHECKPOINT_STORE, a dotted path to a class)."""
    store: CheckpointStore = import_string(settings.AUDIT_CHECKPOINT_STORE)()
    return store
