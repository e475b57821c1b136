"""Starts the real `tokendesk emulator` once per test session and hands the tests its admin API.

The binary is `$TOKENDESK_BIN` (default `target/debug/tokendesk`); scripts/test builds it first.
"""

import os
import queue
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 60
ADMIN_TIMEOUT_S = 15

# Every request of this suite goes to 127.0.0.1: make sure no proxy from the environment
# (httplib2 and requests both honour *_proxy variables) carries one anywhere else.
for _var in ("NO_PROXY", "no_proxy"):
    os.environ[_var] = ",".join(filter(None, [os.environ.get(_var), "127.0.0.1,localhost"]))


@dataclass(frozen=True)
class MintedCode:
    """A serverAuthCode as an iOS app would receive it, and the user it belongs to."""

    code: str
    sub: str
    email: str
    name: str


@dataclass(frozen=True)
class Emulator:
    base: str
    client_secret_path: Path
    web_client_id: str
    ios_client_id: str
    stderr_path: Path

    def admin(self, method: str, path: str, **kwargs) -> dict:
        """Calls the emulator's admin API (`/emulator/v1/...`) and returns its JSON answer."""
        response = requests.request(method, self.base + path, timeout=ADMIN_TIMEOUT_S, **kwargs)
        assert response.ok, (
            f"the emulator's admin API must answer {method} {path} (the tests set up their "
            f"scenarios through it); it answered {response.status_code}: {response.text[:500]}"
        )
        return response.json()

    def mint_code(self, label: str = "user", name: str = "Ada Lovelace") -> MintedCode:
        """Mints a serverAuthCode for a user no other test uses."""
        email = f"{label}-{uuid.uuid4().hex[:12]}@example.com"
        answer = self.admin("POST", "/emulator/v1/codes", json={"email": email, "name": name})
        assert answer.get("code") and answer.get("sub"), (
            f"POST /emulator/v1/codes must answer {{code, sub}} (README); got {answer}"
        )
        return MintedCode(code=answer["code"], sub=answer["sub"], email=email, name=name)


def _stderr_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no stderr captured)"


def _read_first_line(proc: subprocess.Popen, timeout_s: float) -> str | None:
    """The first stdout line, or None if the process printed none in time or exited."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        first = True
        for line in proc.stdout:
            if first:
                lines.put(line)
                first = False
            # Keep draining so the emulator never blocks on a full pipe.
        if first:
            lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        return lines.get(timeout=timeout_s)
    except queue.Empty:
        return None


def _wait_until_serving(base: str, proc: subprocess.Popen, deadline: float, stderr: Path) -> None:
    url = base + "/.well-known/openid-configuration"
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"tokendesk emulator exited with {proc.returncode} before serving {url}:\n"
                + _stderr_tail(stderr)
            )
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last_error = repr(error)
        time.sleep(0.1)
    pytest.fail(
        f"tokendesk emulator did not serve {url} within {STARTUP_TIMEOUT_S}s "
        f"(last: {last_error}):\n" + _stderr_tail(stderr)
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends: the documented way to stop it
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory) -> Emulator:
    binary = Path(os.environ.get("TOKENDESK_BIN", REPO / "target" / "debug" / "tokendesk"))
    if not binary.is_absolute():
        binary = REPO / binary
    if not os.access(binary, os.X_OK):
        pytest.fail(
            f"no tokendesk binary at {binary}: run `cargo build -p tokendesk-cli` "
            "or set TOKENDESK_BIN (scripts/test does both)"
        )

    workdir = tmp_path_factory.mktemp("emulator")
    client_secret_path = workdir / "client_secret.json"
    stderr_path = workdir / "emulator.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [
                str(binary),
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--client-secret-out",
                str(client_secret_path),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=workdir,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        first_line = _read_first_line(proc, STARTUP_TIMEOUT_S)
        if not first_line:
            pytest.fail(
                "tokendesk emulator printed no base URL on its first stdout line "
                f"(exit status {proc.poll()}):\n" + _stderr_tail(stderr_path)
            )
        base = first_line.strip().rstrip("/")
        assert base.startswith("http://127.0.0.1:"), (
            f"the first stdout line must be the loopback base URL alone (README); got {base!r}"
        )
        _wait_until_serving(base, proc, deadline, stderr_path)
        assert client_secret_path.is_file(), (
            "--client-secret-out must have written the client_secret.json by the time the "
            "emulator serves: it is the file the seed's server code loads"
        )
        config = requests.get(base + "/emulator/v1/config", timeout=ADMIN_TIMEOUT_S).json()
        yield Emulator(
            base=base,
            client_secret_path=client_secret_path,
            web_client_id=config["web_client_id"],
            ios_client_id=config["ios_client_id"],
            stderr_path=stderr_path,
        )
    finally:
        _stop(proc)
