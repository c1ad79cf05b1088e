"""The interactive program: the command loop in the main thread, and two workers — the feed
(new items of followed spaces, printed as they arrive) and the sender (drains the outbox in
order). Each has its own keep-alive connection; they share the link model, the session and
the console."""

from __future__ import annotations

import getpass
import inspect
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import h11

from . import render, store
from .auth import Auth, SignedOut, authorised
from .commands import USAGE, Command, PostDraft, UsageError, parse, parse_post
from .feed import Cursor, Journal
from .linkstate import backoff_delay
from .outbox import CONFIRMED, PENDING, Item, Outbox, request_for
from .pipeline import Call, pipelined
from .sync import LongPollSource, NoSyncEndpoint, Source, SyncSource, pick_source
from .texts import Texts
from .transport import RETRY_STATUS, Link, LinkDown, Reply, Shared, Stopped

BATCH = 10  # queued items pipelined per connection


class Console:
    """Line output shared by the threads; a progress line left open is closed before
    anything else prints."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.RLock()
        self.partial = False

    def say(self, *lines: str) -> None:
        with self.lock:
            if self.partial:
                self.out.write("\n")
                self.partial = False
            for line in lines:
                self.out.write(line + "\n")
            self.out.flush()

    def begin(self, text: str) -> None:
        with self.lock:
            if self.partial:
                self.out.write("\n")
            self.out.write(text)
            self.out.flush()
            self.partial = True

    def more(self, text: str) -> None:
        with self.lock:
            if self.partial:
                self.out.write(text)
                self.out.flush()

    def end(self, text: str) -> None:
        with self.lock:
            self.out.write(text + "\n" if self.partial else text.lstrip() + "\n")
            self.out.flush()
            self.partial = False


class Progress:
    """`Hämtar ytor … . . klart (4,2 s)`: a dot every two seconds while the line is slow, the
    attempt number on a retry, the time taken at the end."""

    def __init__(self, app: App, what: str) -> None:
        self.app, self.what = app, what
        self.done = threading.Event()
        self.started = 0.0

    def __enter__(self) -> Progress:
        self.started = time.monotonic()
        self.app.console.begin(self.app.t("progress.start", what=self.app.t(self.what)))
        threading.Thread(target=self._tick, daemon=True).start()
        return self

    def _tick(self) -> None:
        while not self.done.wait(2.0):
            self.app.console.more(" .")

    def retry(self, attempt: int) -> None:
        self.app.console.more(f" ({attempt + 1})")

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        self.done.set()
        t = self.app.t
        if error is None:
            self.app.console.end(t("progress.done",
                                   secs=t.seconds(time.monotonic() - self.started)))
        else:
            why = "offline" if isinstance(error, LinkDown) else type(error).__name__
            self.app.console.end(t("progress.failed", why=why))


class App:
    def __init__(self, server: str, state_dir: Path, lang: str, stdin: TextIO,
                 stdout: TextIO, source: str = "auto") -> None:
        self.t = Texts(lang)
        self.console = Console(stdout)
        self.stdin = stdin
        self.dir = store.ensure_private_dir(state_dir)
        self.shared = Shared(server)
        self.auth = Auth(store.TokenFile(self.dir), self.shared.base_url)
        self.outbox = Outbox(self.dir / "outbox")
        self.journal = Journal(self.dir)
        self.cursor = Cursor(self.dir)
        self.source_choice = source
        self.source: Source | None = None
        self.cmd_link = Link(self.shared)
        self.wake_sender = threading.Event()
        self.wake_feed = threading.Event()
        self.signed_in = threading.Event()
        self.callouts: list[dict[str, Any]] = []
        cached = store.read_json(self.dir / "spaces.json")
        self.spaces: list[dict[str, Any]] = cached if isinstance(cached, list) else []
        following = store.read_json(self.dir / "follow.json")
        self.following: list[str] = following if isinstance(following, list) else []
        actors = store.read_json(self.dir / "actors.json")
        self.actors: dict[str, str] = actors if isinstance(actors, dict) else {}
        self.shared.listeners.append(self._link_changed)
        if self.auth.signed_in:
            self.signed_in.set()

    # --- output helpers ------------------------------------------------------------------

    def _link_changed(self) -> None:
        self.console.say(self.state_line())

    def state_line(self) -> str:
        pending = self.outbox.pending()
        posts = sum(1 for i in pending if i.op == "entry")
        with self.shared.lock:
            return render.state_line(self.t, self.shared.state, posts, len(pending) - posts)

    def label(self, space_id: str) -> str:
        """`2:Snöstorm Stock` — the space's number and the start of its title (without a
        leading ÖVNING: the item's marking says it)."""
        for nr, s in enumerate(self.spaces, 1):
            if s["id"] == space_id:
                return f"{nr}:{render.short_title(str(s.get('title', '')))}"
        if isinstance(self.source, SyncSource) and self.source.meta.get(space_id, {}).get("title"):
            return render.short_title(str(self.source.meta[space_id]["title"]))
        return space_id[:8]

    def space_ref(self, ref: str) -> dict[str, Any] | None:
        """A space by its number in the last list, or by id (known or not: the server
        decides whether it is readable)."""
        if ref.isdigit() and 1 <= int(ref) <= len(self.spaces):
            return self.spaces[int(ref) - 1]
        known = next((s for s in self.spaces if s["id"] == ref), None)
        if known is None and len(ref) == 36 and ref.count("-") == 4:
            return {"id": ref}
        return known

    # --- workers -------------------------------------------------------------------------

    def start(self) -> None:
        threading.Thread(target=self._guard(self._feed_loop), name="feed", daemon=True).start()
        threading.Thread(target=self._guard(self._send_loop), name="send",
                         daemon=True).start()

    def _guard(self, loop: Callable[[Link], None]) -> Callable[[], None]:
        def run() -> None:
            link = Link(self.shared)
            try:
                loop(link)
            except Stopped:
                pass
            finally:
                link.close()
        return run

    def _session_ended(self, error: SignedOut) -> None:
        if self.signed_in.is_set():
            self.signed_in.clear()
            self.console.say(self.t("session_ended", code=error.code or "–"))

    def _wait(self, event: threading.Event, timeout: float) -> None:
        if self.shared.stop.wait(0) or (event.wait(timeout) and self.shared.stop.is_set()):
            raise Stopped

    def _feed_loop(self, link: Link) -> None:
        while True:
            if not self.signed_in.is_set() or not self.following:
                self._wait(self.wake_feed, 30)
                self.wake_feed.clear()
                continue
            try:
                if self.source is None:
                    self.source = pick_source(self.source_choice, self.dir)
                frames, revoked = self.source.poll(self.auth, link, list(self.following),
                                                   self.cursor, wait_s=25)
            except NoSyncEndpoint:
                self.source = LongPollSource()
                continue
            except SignedOut as error:
                self._session_ended(error)
                continue
            except LinkDown:
                continue
            for frame in self.journal.take(frames):
                self._show(frame)
            self.cursor.save()  # after the journal: a crash in between only repeats
            for space_id in revoked:
                self.console.say(self.t("follow.revoked", title=self.label(space_id)))
                self._unfollow(space_id)

    def _show(self, frame: dict[str, Any]) -> None:
        kind, data = frame.get("event"), frame.get("data") or {}
        label = self.label(str(frame.get("space_id")))
        if kind in ("entry.created", "notice.created", "entry.audience_changed"):
            self.console.say(*render.entry_lines(self.t, data, label))
        elif kind == "entry.withdrawn":
            self.console.say(self.t("withdrawn", id=str(data.get("id", ""))[:8]))
        elif kind == "situation_report.published":
            self.console.say(render.report_lines(self.t, data)[0] + f" ({label})")
        elif kind in ("callout.created", "callout.updated") and data.get("mine") not in (
                None, "acknowledged", "declined") and data.get("status") != "closed":
            # Addressed to this user's actor and not yet answered (docs/sync.md).
            if any(c.get("id") == data.get("id") for c in self.callouts):
                return
            self.callouts.append(data)
            self.console.say(*render.wrap(self.t("callout.new", message=data.get("message", ""),
                                                 nr=len(self.callouts)), indent=""))

    def _send_loop(self, link: Link) -> None:
        """Drain the outbox in order: up to BATCH items pipelined on one connection (one round
        trip for all of them), answers handled in order; what was not answered is sent again
        with the same keys after a backoff."""
        attempt = 0
        while True:
            pending = self.outbox.pending()
            if not pending or not self.signed_in.is_set():
                self._wait(self.wake_sender, 30)
                self.wake_sender.clear()
                continue
            batch = pending[:BATCH]
            try:
                header = self.auth.header(link)
            except SignedOut as error:
                self._session_ended(error)
                continue
            except LinkDown:
                continue
            calls = []
            for item in batch:
                method, path, body = request_for(item)
                calls.append(Call(method, path, body, {**header, "idempotency-key": item.key}))
            answered = 0
            replies = pipelined(self.shared, calls)
            try:
                for item, reply in zip(batch, replies, strict=False):
                    if not self._settle(item, reply, header):
                        break
                    answered += 1
            except (OSError, h11.ProtocolError):
                with self.shared.lock:
                    changed = self.shared.state.failed(self.shared.clock())
                if changed:
                    self.shared.changed()
            finally:
                replies.close()
            if answered < len(batch):
                self.shared.sleep(backoff_delay(attempt, self.shared.rng))
                attempt += 1
            else:
                attempt = 0

    def _settle(self, item: Item, reply: Reply, header: dict[str, str]) -> bool:
        """Act on one answer; False: stop here and send the rest again later."""
        if 200 <= reply.status < 300:
            data = reply.data if isinstance(reply.data, dict) else {}
            result = {k: data[k] for k in ("id", "seq", "state", "changed") if k in data}
            self.outbox.confirm(item, result)
            self.console.say(self.t("posted.confirmed", n=item.n, label=item.label))
            return True
        if reply.status == 401:
            if reply.code == "token_expired":
                self.auth.invalidate(header)
            else:
                self._session_ended(SignedOut(reply.code))
            return False
        if reply.status in RETRY_STATUS:
            return False
        self.outbox.reject(item, reply.code or str(reply.status), reply.status)
        self.console.say(self.t("posted.rejected", n=item.n, label=item.label,
                                code=reply.code or reply.status))
        return True

    # --- commands ------------------------------------------------------------------------

    def run(self) -> int:
        self.start()
        interactive = self.stdin.isatty()
        self.console.say(self.state_line())
        try:
            while True:
                if interactive:
                    self.console.begin("> ")
                line = self.stdin.readline()
                if interactive:
                    self.console.partial = False
                if not line:
                    break
                command = parse(line)
                if command is None:
                    continue
                if command.name == "quit":
                    break
                self.execute(command)
        except KeyboardInterrupt:
            pass
        finally:
            self.shared.stop.set()
            self.wake_feed.set()
            self.wake_sender.set()
            self.cmd_link.close()
        self.console.say(self.t("bye"))
        return 0

    def execute(self, command: Command) -> None:
        handler = getattr(self, f"do_{command.name}", None)
        try:
            if command.name == "unknown" or handler is None:
                self.console.say(self.t("error.unknown_command", cmd=command.args[0]))
                return
            try:
                inspect.signature(handler).bind(*command.args)
            except TypeError:
                raise UsageError(command.name) from None
            handler(*command.args)
        except UsageError as error:
            self.console.say(self.t("error.usage", usage=USAGE.get(error.command, "")))
        except SignedOut as error:
            if error.code:
                self._session_ended(error)
            else:
                self.console.say(self.t("need_signin"))
        except LinkDown:
            self.console.say(self.state_line())
        except Stopped:
            raise

    def _get(self, path: str, what: str, **params: Any) -> Any:
        with Progress(self, what) as progress:
            reply = authorised(self.auth, self.cmd_link, "GET", path,
                               params=params or None, deadline_s=60, on_retry=progress.retry)
        if reply.status != 200:
            self.console.say(self.t("error.server", status=reply.status, code=reply.code))
            return None
        return reply.data

    def do_help(self) -> None:
        self.console.say(*self.t("help").splitlines())

    def do_login(self, username: str) -> None:
        prompt = self.t("prompt.password")
        if self.stdin.isatty():
            password = getpass.getpass(prompt)
        else:
            password = self.stdin.readline().rstrip("\n")
        with Progress(self, "what.signin"):
            self.auth.sign_in(self.cmd_link, username, password)
        self.signed_in.set()
        self.console.say(self.t("signed_in", user=username))
        self.wake_feed.set()
        self.wake_sender.set()

    def _refresh_directory(self) -> None:
        data = self._get("/api/v1/spaces", "what.spaces")
        if data is not None:
            self.spaces = [{k: s.get(k) for k in ("id", "title", "type", "classification",
                                                  "exercise", "status", "writable_levels")}
                           for s in data.get("items", [])]
            store.write_json(self.dir / "spaces.json", self.spaces)

    def _actor_ids(self, names: tuple[str, ...]) -> list[str | None]:
        """Short names → actor ids; the list (large: it carries contact points) is fetched
        only when a name is not known yet, and kept (ids and short names only)."""
        if any(n.lower() not in self.actors for n in names):
            data = self._get("/api/v1/actors", "what.actors")
            if data is not None:
                self.actors = {a["short_name"].lower(): a["id"] for a in data["items"]}
                store.write_json(self.dir / "actors.json", self.actors)
        return [self.actors.get(n.lower()) for n in names]

    def do_logout(self) -> None:
        self.auth.sign_out(self.cmd_link)
        self.signed_in.clear()
        self.console.say(self.t("signed_out"))

    def do_spaces(self) -> None:
        self._refresh_directory()
        self.console.say(*render.space_rows(self.t, self.spaces))

    def do_follow(self, *refs: str) -> None:
        if not refs:
            raise UsageError("follow")
        for ref in refs:
            space = self.space_ref(ref)
            if space is None:
                self.console.say(self.t("follow.unknown", ref=ref))
                continue
            if space["id"] not in self.following:
                self.following.append(space["id"])
            self.console.say(self.t("follow.now", title=self.label(space["id"])))
        store.write_json(self.dir / "follow.json", self.following)
        self.wake_feed.set()

    def _unfollow(self, space_id: str) -> None:
        if space_id in self.following:
            self.following.remove(space_id)
            store.write_json(self.dir / "follow.json", self.following)

    def do_unfollow(self, ref: str) -> None:
        space = self.space_ref(ref)
        if space is None:
            self.console.say(self.t("follow.unknown", ref=ref))
            return
        self._unfollow(space["id"])
        self.console.say(self.t("follow.stop", title=self.label(space["id"])))

    def do_report(self, ref: str) -> None:
        space = self.space_ref(ref)
        if space is None:
            self.console.say(self.t("follow.unknown", ref=ref))
            return
        with Progress(self, "what.report") as progress:
            reply = authorised(self.auth, self.cmd_link, "GET",
                               f"/api/v1/spaces/{space['id']}/situation-reports/latest",
                               deadline_s=60, on_retry=progress.retry)
        if reply.status == 404:
            self.console.say(self.t("report.none"))
        elif reply.status == 200:
            self.console.say(*render.report_lines(self.t, reply.data))
        else:
            self.console.say(self.t("error.server", status=reply.status, code=reply.code))

    def do_post(self, rest: str) -> None:
        draft: PostDraft = parse_post(rest)
        space = self.space_ref(draft.space)
        if space is None:
            self.console.say(self.t("follow.unknown", ref=draft.space))
            return
        payload: dict[str, Any] = {"kind": draft.kind, "classification": draft.level,
                                   "body": draft.body}
        if draft.audience is not None:
            ids = self._actor_ids(draft.audience)
            if None in ids:
                unknown = [n for n, i in zip(draft.audience, ids, strict=True) if i is None]
                self.console.say(self.t("error", message="@" + ",".join(unknown)))
                return
            payload["audience"] = ids
        kind = self.t(f"kind.{draft.kind}")
        label = f"{kind} {render.marking(draft.level, bool(space.get('exercise')))} → " \
                f"{self.label(space['id'])}"
        item = self.outbox.add("entry", space["id"], payload, label)
        self.console.say(self.t("posted.queued", n=item.n, label=label))
        self.wake_sender.set()

    def do_callouts(self, ref: str) -> None:
        space = self.space_ref(ref)
        if space is None:
            self.console.say(self.t("follow.unknown", ref=ref))
            return
        data = self._get(f"/api/v1/spaces/{space['id']}/callouts", "what.callouts")
        if data is None:
            return
        self.callouts = list(data.get("items", []))
        if not self.callouts:
            self.console.say(self.t("callouts.none"))
        for nr, c in enumerate(self.callouts, 1):
            mark = render.marking(str(c.get("classification")), bool(c.get("exercise")))
            self.console.say(render._fit(self.t(
                "callout.line", nr=nr, status=mark, message=c.get("message", ""),
                deadline=render.clock_time(c.get("deadline_at")))))

    def do_ack(self, nr: str, answer: str = "") -> None:
        if not nr.isdigit() or not 1 <= int(nr) <= len(self.callouts):
            raise UsageError("ack")
        callout = self.callouts[int(nr) - 1]
        decline = answer.lower() in ("nej", "no", "decline")
        payload = {"answer": "decline" if decline else "acknowledge"}
        label = ("avböjer" if self.t.lang == "sv" else "declining") if decline else \
            ("kvittens" if self.t.lang == "sv" else "acknowledgement")
        item = self.outbox.add("ack", str(callout["id"]), payload,
                               f"{label} {str(callout.get('message', ''))[:20]}")
        self.console.say(self.t("posted.queued", n=item.n, label=item.label))
        self.wake_sender.set()

    def do_queue(self) -> None:
        self.console.say(self.t("queue.head"))
        for item in self.outbox.items():
            state = self.t(f"queue.state.{item.state}")
            when = time.strftime("%H:%M", time.localtime(item.done_at or item.queued_at))
            extra = f" seq {item.result['seq']}" if item.state == CONFIRMED and \
                "seq" in item.result else ""
            self.console.say(render._fit(f"#{item.n:<4} {state:<10} {when} {item.label}{extra}"))

    def do_status(self) -> None:
        t = self.t
        with self.shared.lock:
            link = self.shared.state
            rtt = t.seconds(link.rtt.srtt) if link.rtt.srtt is not None else "–"
            lines = [t("status.link", quality=t(f"quality.{link.quality}"), rtt=rtt,
                       rto=t.seconds(link.rtt.rto), loss=round(link.loss_ratio * 100)),
                     t("status.contact", when=time.strftime(
                         "%H:%M:%S", time.localtime(link.last_contact))
                       if link.last_contact else t("status.never")),
                     t("status.bytes", sent=t.size(link.bytes_sent),
                       received=t.size(link.bytes_received))]
        user = self.auth.username
        lines.insert(0, t("status.user", user=user, server=self.shared.base_url)
                     if self.signed_in.is_set() else t("status.signed_out"))
        lines.append(t("status.following", spaces=", ".join(
            self.label(s) for s in self.following) or t("status.none")))
        lines.append(self.state_line())
        self.console.say(*lines)


def pending_items(outbox: Outbox) -> list[Item]:
    return [i for i in outbox.items() if i.state == PENDING]


def main_app(server: str, state_dir: Path, lang: str, source: str = "auto") -> int:
    return App(server, state_dir, lang, sys.stdin, sys.stdout, source).run()
