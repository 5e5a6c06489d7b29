"""ReportClient: a run's messages to a fitboard server, off the training thread, surviving the
network.

The training thread only calls `publish`, which numbers a message (`seq` from 1, `time`) and
appends it to a list. A background thread does the rest over one WebSocket
(`WS /ws/report/{run_id}`, docs/api.md): it registers the run (`POST /api/external/runs`),
writes every message to a spool file, sends them in batches, hands the commands the
dashboard sends down to `on_command`, and numbers what the server asks it to (`emit`).

If the server is unreachable, at the start or mid-run, training goes on: messages stay in
the spool (and the newest in memory) and go up with their original seq and time once a
connection is back; the server skips those it already holds, so the run's history has no
gap and no duplicate. A run that never reached a server is uploaded with `upload_spool`
(`fitboard sync PATH`).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_SPOOL_DIR", "ReportClient", "Spool", "upload_spool"]

log = logging.getLogger("trainer.reporting")

Message = dict[str, Any]
OnCommand = Callable[[Message], None]

DEFAULT_SPOOL_DIR = Path("~/.cache/fitboard/spool")
# Seconds between sends: at most 10 frames a second, however fast batches come. Commands do
# not wait for it (a frame from the server wakes the sender at once); every wake-up does cost
# the training thread a hand-over of the GIL, so the sender wakes no more often than this.
TICK = 0.1
MAX_FRAME_MESSAGES = 500
MAX_IN_MEMORY = 20_000  # unacknowledged messages kept in memory; older ones are read back
MAX_OUTBOX = 100_000  # handed over, not yet spooled: past this, batch messages are dropped
# The server refuses these for good: resending the same frames cannot help.
FINAL_CLOSE_CODES = {1000: "run finished", 4400: "refused", 4403: "refused", 4409: "closed"}


class Spool:
    """A run's messages in a JSON-lines file: a header line (the run's name, params, host and
    pid), registration lines (`{"registered": {...}}`, the run id and write key a server
    gave), then one line per message, in seq order."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, directory: Path, header: dict[str, Any]) -> Spool:
        directory = directory.expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
        spool = cls(directory / name)
        # The file holds the run's write key: only its owner may read it.
        fd = os.open(spool.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps({"fitboard_spool": 1, **header}) + "\n")
        return spool

    def append(self, lines: list[dict[str, Any]]) -> None:
        with self.path.open("a") as out:
            out.writelines(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)

    def read(self) -> tuple[dict[str, Any], dict[str, Any] | None, list[Message]]:
        """The header, the last registration (None if none) and the messages."""
        header: dict[str, Any] = {}
        registered = None
        messages = []
        with self.path.open() as lines:
            for text in lines:
                if not text.strip():
                    continue
                try:
                    line = json.loads(text)
                except ValueError:
                    continue  # a line cut short when the process was killed mid-write
                if "fitboard_spool" in line:
                    header = line
                elif "registered" in line:
                    registered = line["registered"]
                elif "seq" in line:
                    messages.append(line)
        if not header:
            raise ValueError(f"{self.path} is not a fitboard spool file")
        return header, registered, messages

    def messages_after(self, seq: int) -> Iterator[Message]:
        for message in self.read()[2]:
            if message["seq"] > seq:
                yield message

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass
class _Registration:
    run_id: str
    key: str
    report_path: str
    heartbeat_s: float


@dataclass
class _Sent:
    """What went up: the unacknowledged messages (the newest, in memory) and the highest seq
    sent and acknowledged on this connection."""

    unacked: deque[Message] = field(default_factory=deque)
    sent: int = 0
    acked: int = 0


class ReportClient:
    """Numbers a run's messages and reports them to the fitboard server at `url`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        spool_dir: str | Path | None = None,
        on_command: OnCommand | None = None,
        spool: Spool | None = None,
        reuse_registration: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.on_command = on_command or (lambda command: None)
        header: dict[str, Any] = {
            "name": name,
            "params": params or {},
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        self.spool = spool or Spool.create(Path(spool_dir or DEFAULT_SPOOL_DIR), header)
        # A spool given goes on from its last message (`fitboard sync`).
        spooled: list[Message] = []
        if spool is not None:
            header, _, spooled = spool.read()
        self.header = header
        self.registration: _Registration | None = None
        self.refused: str | None = None  # why the server will take no more reports
        self.connected = threading.Event()
        self.registered = threading.Event()
        self._lock = threading.Lock()
        self._seq = spooled[-1]["seq"] if spooled else 0
        self._outbox: list[Message] = []
        self._sent = _Sent()
        self._spooled = self._seq  # the highest seq written to the spool
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fitboard-report", daemon=True)
        self._ws: Any = None  # the open connection, on the sender thread
        self._deadline: float | None = None  # once closing: when to give up delivering
        self._close_timeout = 10.0
        self._last_frame = 0.0  # monotonic time of the last frame sent
        self.reuse_registration = reuse_registration  # the run the spool registered, if any
        self.refusal_code: int | None = None  # the close code of the server's refusal

    @property
    def run_id(self) -> str | None:
        return self.registration.run_id if self.registration else None

    # --- any thread -------------------------------------------------------------------------

    def publish(self, message: Message) -> Message:
        """Number `message` and queue it for the server; never blocks, never raises."""
        with self._lock:
            if len(self._outbox) >= MAX_OUTBOX and message.get("type") == "batch":
                return message  # the sender is far behind: a batch sample can go
            self._seq += 1
            message["seq"], message["time"] = self._seq, time.time()
            self._outbox.append(message)
        return message

    def start(self, wait: float = 0.0) -> ReportClient:
        """Start the sender; wait up to `wait` seconds for the server to register the run
        (training goes on without it: the run registers whenever the server is back)."""
        self._thread.start()
        self.registered.wait(wait)
        return self

    def wait_connected(self, timeout: float) -> bool:
        """Wait until the client is connected (True) or the server refused it or `timeout`
        seconds passed (False)."""
        deadline = time.monotonic() + timeout
        while not self.connected.wait(TICK):
            if self.refused is not None or time.monotonic() > deadline:
                return False
        return True

    def finish(self, timeout: float = 10.0) -> None:
        """The run is over: the sender delivers what is left (within `timeout` seconds once
        connected) and stops, without holding up the caller. The process waits for it at
        exit, so a script that ends right after its fit still delivers everything."""
        self._close_timeout = timeout
        self._closing.set()
        if self._thread.is_alive():
            atexit.register(self._thread.join, timeout + 1.0)

    def close(self, timeout: float = 10.0) -> bool:
        """Send what is left and stop; True if the server holds every message. Otherwise the
        spool keeps them (`fitboard sync` uploads it)."""
        self.finish(timeout)
        self._thread.join(timeout + 1.0)
        return self.delivered()

    def delivered(self) -> bool:
        """Whether the server acknowledged every message published so far."""
        with self._lock:
            return not self._outbox and self._sent.acked >= self._seq

    # --- the sender thread ------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.1
        while not self._done():
            if self.refused is not None:  # nothing more to send: wait to be closed
                self._closing.wait(TICK)
                continue
            try:
                self._ensure_registered()
                with self._connection() as ws:
                    self._ws = ws
                    self._greet(ws)
                    backoff = 0.1
                    while not self._done():
                        self._send_pending()
                        self._receive(TICK)
            except Exception as exc:
                if self._ws is not None:
                    self._lost(exc)
                else:  # unreachable, restarting: try again, training goes on
                    log.debug("fitboard: cannot reach %s: %s", self.url, exc)
                    self._closing.wait(backoff)
                    backoff = min(backoff * 2, 2.0)
            finally:
                self._ws = None
                self.connected.clear()
        self._wrap_up()

    def _wrap_up(self) -> None:
        """The sender's last act: drop the spool if the server holds it all, else say where
        it is."""
        if self.delivered():
            self.spool.remove()
        elif self.refused is None:
            log.warning(
                "fitboard: %d messages did not reach %s; kept in %s: upload them with "
                "`fitboard sync %s`",
                self._seq - self._sent.acked,
                self.url,
                self.spool.path,
                self.spool.path,
            )

    def _done(self) -> bool:
        """Spool what was published; True once closing and everything is delivered, or the
        server refuses more, or the time to deliver it ran out."""
        self._spool_outbox()
        if not self._closing.is_set():
            return False
        if self._deadline is None:  # a client that is not connected tries only briefly
            patience = self._close_timeout if self._ws is not None else 2.0
            self._deadline = time.monotonic() + patience
        return self.delivered() or self.refused is not None or time.monotonic() > self._deadline

    def _spool_outbox(self) -> None:
        with self._lock:
            batch, self._outbox = self._outbox, []
        if not batch:
            return
        self.spool.append(batch)
        self._spooled = batch[-1]["seq"]
        unacked = self._sent.unacked
        unacked.extend(batch)
        while len(unacked) > MAX_IN_MEMORY:
            unacked.popleft()  # still in the spool

    def _register(self) -> _Registration:
        _, registered, _ = self.spool.read()
        if self.reuse_registration and registered is not None and registered["url"] == self.url:
            return _Registration(**{k: v for k, v in registered.items() if k != "url"})
        body = {
            "name": self.header.get("name"),
            "params": self.header.get("params") or {},
            "host": self.header["host"],
            "pid": self.header["pid"],
        }
        if body["name"] is None:
            del body["name"]
        reply = self._post("/api/external/runs", body)
        registration = _Registration(
            reply["run"]["id"], reply["key"], reply["report_path"], reply["heartbeat_s"]
        )
        self.spool.append([{"registered": {"url": self.url, **registration.__dict__}}])
        return registration

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **self._auth()},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _ensure_registered(self) -> None:
        if self.registration is not None:
            return
        try:
            self.registration = self._register()
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 401, 403, 413, 422):  # will not pass by trying again
                self.refused = f"registration refused: {exc.code} {exc.read()[:300]!r}"
                log.warning("fitboard: %s", self.refused)
            raise
        self.registered.set()

    def _connection(self) -> Any:
        from websockets.sync.client import connect  # the sender thread's only dependency

        assert self.registration is not None
        base = "ws" + self.url[len("http") :] if self.url.startswith("http") else self.url
        return connect(
            base + self.registration.report_path,
            additional_headers=self._auth(),
            open_timeout=5,
            close_timeout=2,
            compression=None,
            max_size=2**22,
        )

    def _greet(self, ws: Any) -> None:
        assert self.registration is not None
        ws.send(json.dumps({"type": "hello", "key": self.registration.key}))
        welcome = json.loads(ws.recv(timeout=10))
        if welcome.get("type") != "welcome":
            raise ConnectionError(f"unexpected first frame {welcome!r}")
        # The server holds everything up to last_seq: send on from the one after it.
        self._sent.sent = self._sent.acked = welcome["last_seq"]
        self._trim_acked()
        self.connected.set()

    def _send_pending(self) -> None:
        """Send the messages after the last one sent, in frames of at most MAX_FRAME_MESSAGES
        (from memory, or the spool for those memory no longer holds); a heartbeat frame when
        there is nothing to send."""
        first = self._sent.sent + 1
        unacked = self._sent.unacked
        if first > self._spooled:
            assert self.registration is not None
            if time.monotonic() - self._last_frame > self.registration.heartbeat_s / 4:
                self._send_frame([])  # a heartbeat: the server knows the client is there
            return
        if unacked and unacked[0]["seq"] <= first:
            pending = [m for m in unacked if m["seq"] >= first]
        else:
            pending = list(self.spool.messages_after(first - 1))
        for start in range(0, len(pending), MAX_FRAME_MESSAGES):
            self._send_frame(pending[start : start + MAX_FRAME_MESSAGES])

    def _send_frame(self, messages: list[Message]) -> None:
        self._ws.send(json.dumps({"type": "report", "messages": messages}, allow_nan=False))
        self._last_frame = time.monotonic()
        if messages:
            self._sent.sent = messages[-1]["seq"]

    def _receive(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if self._closing.is_set():  # the fit is over: send the last messages at once
                left = min(left, 0.002)
            try:
                frame = json.loads(self._ws.recv(timeout=left))
            except TimeoutError:
                return
            kind = frame.get("type")
            if kind == "ack":
                self._sent.acked = max(self._sent.acked, int(frame["seq"]))
                self._trim_acked()
            elif kind == "emit":
                self.publish(dict(frame["message"]))
            elif kind == "command":
                try:
                    self.on_command(frame)
                except Exception:
                    log.exception("fitboard: cannot apply %r", frame)

    def _trim_acked(self) -> None:
        unacked = self._sent.unacked
        while unacked and unacked[0]["seq"] <= self._sent.acked:
            unacked.popleft()

    def _lost(self, exc: Exception) -> None:
        from websockets.exceptions import ConnectionClosed

        code = exc.rcvd.code if isinstance(exc, ConnectionClosed) and exc.rcvd else None
        reason = exc.rcvd.reason if isinstance(exc, ConnectionClosed) and exc.rcvd else str(exc)
        if code in FINAL_CLOSE_CODES:
            self.refusal_code = code
            if code != 1000 or not self.delivered():
                self.refused = f"{FINAL_CLOSE_CODES[code]} ({code}): {reason}"
                log.warning("fitboard: the server takes no more reports: %s", self.refused)
            else:
                self.refused = "run finished"
        else:
            log.info("fitboard: connection to %s lost (%s); reconnecting", self.url, reason)


def upload_spool(
    path: str | Path, url: str, *, token: str | None = None, timeout: float = 30.0
) -> str | None:
    """Upload a spool file's run to the server at `url`: onto the run the spool registered
    there if that run still takes reports, else as a new run. Returns the run id; raises
    RuntimeError with the server's reason if it did not take every message."""
    for reuse in (True, False):
        client = ReportClient(url, token=token, spool=Spool(Path(path)), reuse_registration=reuse)
        client.start().wait_connected(timeout)
        if client.close(timeout):
            return client.run_id
        if not (reuse and client.refusal_code == 4409):
            raise RuntimeError(client.refused or f"the server at {url} did not take the spool")
        # The run the spool registered takes no more reports (interrupted): upload a new one.
    return None
