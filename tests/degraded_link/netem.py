"""The real thing where the kernel has it: the client in a network namespace the fixture
creates, joined to the host by a veth pair, with `tc netem` on both ends (rate, delay, loss
each way). A flap sets the loss to 100 % (connections survive, as through a real outage).
Needs root and the sch_netem module; `probe()` says why not when it cannot run."""

from __future__ import annotations

import os
import subprocess
import uuid

from .profile import LinkProfile


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=20)


def _subnet() -> int:
    """The third octet of this line's 10.231.n.0/24: a band of 50 per pytest-xdist worker
    (gw0, gw1, …), so lines made at the same time on two workers never share a subnet; a
    worker makes one line at a time, random within its band."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    band = int(worker) % 5 if worker.isdigit() else 0
    return 1 + band * 50 + uuid.uuid4().int % 50


class NetemLine:
    kind = "netem"

    def __init__(self, profile: LinkProfile) -> None:
        self.profile = profile
        n = _subnet()
        tag = uuid.uuid4().hex[:6]
        self.ns = f"wisdl-{tag}"
        self.host_if, self.ns_if = f"wdl{tag}h", f"wdl{tag}c"
        self.server_host, self.client_host = f"10.231.{n}.1", f"10.231.{n}.2"
        self.reason = ""
        self._down = False
        self._made: list[str] = []

    def _netem(self, op: str, loss: float) -> list[list[str]]:
        p = self.profile
        spec = ["netem", "delay", f"{int(p.delay_s * 1000)}ms", "rate", f"{p.rate_bps}bit",
                "loss", f"{loss * 100:g}%", "limit", "10000"]
        return [["tc", "qdisc", op, "dev", self.host_if, "root", *spec],
                ["ip", "netns", "exec", self.ns, "tc", "qdisc", op, "dev", self.ns_if, "root",
                 *spec]]

    def open(self) -> NetemLine:
        try:
            _run("ip", "netns", "add", self.ns)
            self._made.append("ns")
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            self._made.append("link")
            _run("ip", "link", "set", self.ns_if, "netns", self.ns)
            _run("ip", "addr", "add", f"{self.server_host}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            _run("ip", "-n", self.ns, "addr", "add", f"{self.client_host}/30", "dev", self.ns_if)
            _run("ip", "-n", self.ns, "link", "set", self.ns_if, "up")
            _run("ip", "-n", self.ns, "link", "set", "lo", "up")
            for argv in self._netem("add", self.profile.loss):
                _run(*argv)
        except (OSError, subprocess.SubprocessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            self.close()
            raise RuntimeError(f"netem unavailable: {detail.strip()}") from error
        return self

    def connect(self, server_port: int) -> str:
        return f"http://{self.server_host}:{server_port}"

    def wrap(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def down(self) -> None:
        for argv in self._netem("change", 1.0):
            _run(*argv)
        self._down = True

    def up(self) -> None:
        for argv in self._netem("change", self.profile.loss):
            _run(*argv)
        self._down = False

    @property
    def is_down(self) -> bool:
        return self._down

    def stats(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        if "link" in self._made:
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=20)
        if "ns" in self._made:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True, timeout=20)
        self._made.clear()


def available() -> str:
    """'' when namespaces can be made here, else why not (netem itself is tried in open)."""
    if os.geteuid() != 0:
        return "not root"
    for tool in ("ip", "tc"):
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            return f"no {tool} command"
    return ""
