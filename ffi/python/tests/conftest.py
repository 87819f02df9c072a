"""Fixtures of the binding tests: the generated `tipline_ffi` module loading the built library, a
live intake server on loopback (`tipline-server --dev`), the desk helper, a fixed key store.

The binaries come from the cargo target folder (`TIPLINE_TARGET_DIR`, default `target/debug` of
the workspace; `TIPLINE_FFI_LIBRARY` picks another library, such as the `release-phone` one);
build them first, as `scripts/test-bindings` does:

    cargo build -p tipline-ffi --features bindgen --lib --example test_desk
    cargo build -p tipline-server
"""

import hashlib
import hmac
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PYTHON_DIR = ROOT / "ffi" / "python"
TARGET = pathlib.Path(os.environ.get("TIPLINE_TARGET_DIR", ROOT / "target" / "debug"))
LIBRARY = pathlib.Path(os.environ.get(
    "TIPLINE_FFI_LIBRARY", TARGET / ("libtipline_ffi.dylib" if sys.platform == "darwin" else "libtipline_ffi.so")))
SERVER = TARGET / "tipline-server"
DESK = TARGET / "examples" / "test_desk"
PHOTO = ROOT / "ffi" / "testdata" / "photo-with-exif.jpg"

for binary in (LIBRARY, SERVER, DESK):
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: build it first (see {__file__})")

# The generated module loads the library from its own folder: link the built one in beside it.
_link = PYTHON_DIR / LIBRARY.name
if _link.is_symlink() or _link.exists():
    _link.unlink()
_link.symlink_to(LIBRARY)
sys.path.insert(0, str(PYTHON_DIR))

import tipline_ffi  # noqa: E402  (after the library is in place)


class FixedKeyStore(tipline_ffi.KeyStore):
    """The key store a test device uses: every key derived from one fixed secret (HMAC-SHA256),
    as a platform store would keep a random one in the Keystore or Keychain."""

    def __init__(self, secret: bytes = b"binding tests"):
        self._secret = secret
        self.asked = []

    def key(self, name: str) -> bytes:
        self.asked.append(name)
        return hmac.new(self._secret, name.encode(), hashlib.sha256).digest()


class Server:
    """A running `tipline-server --dev` with its data folder."""

    def __init__(self, data_dir: pathlib.Path):
        self.data_dir = data_dir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(data_dir / "server.log", "wb")
        self.process = subprocess.Popen(
            [str(SERVER), "--listen", f"127.0.0.1:{port}", "--data-dir", str(data_dir / "server"),
             "--dev", "--stamp-difficulty", "4"],
            stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start:\n" + (data_dir / "server.log").read_text())
            time.sleep(0.1)
        self.authority_key = (data_dir / "server" / "authority.pub").read_text().strip()

    def unit_key(self, unit_id: str) -> pathlib.Path:
        return self.data_dir / "server" / "units" / f"{unit_id}.key"

    def desk(self, unit_id: str, *command: str) -> dict:
        """Runs the desk helper as unit `unit_id` and returns what it prints."""
        done = subprocess.run(
            [str(DESK), "--server", self.url, "--unit-key", str(self.unit_key(unit_id)), *command],
            capture_output=True, text=True, timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"test_desk {command[0]} failed:\n{done.stderr}")
        return json.loads(done.stdout)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def server():
    """A fresh server per test: no test sees another's reports."""
    with tempfile.TemporaryDirectory(prefix="tipline-bindings-") as folder:
        running = Server(pathlib.Path(folder))
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def config(server, tmp_path):
    """A fresh device's configuration, pinned to the server's authority."""
    return tipline_ffi.ClientConfig(
        storage_dir=str(tmp_path / "device"), base_url=server.url, authority_key=server.authority_key,
    )


@pytest.fixture
def photo(tmp_path) -> pathlib.Path:
    """A copy of the test photo, as an app keeps a picked file in its cache."""
    copy = tmp_path / "picked-photo.jpg"
    copy.write_bytes(PHOTO.read_bytes())
    return copy
