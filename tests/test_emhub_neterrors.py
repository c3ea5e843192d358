"""Connection errors in words a person reads, from real sockets on 127.0.0.1.

A closed port, a listener that never answers, one that hangs up, a TLS server with a
self-signed certificate made here with the ``openssl`` command, and a name that does not
resolve. Each message must say the fact and never urllib3's "Max retries exceeded".
"""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from emhub_worker_core.contract.errors import TransportError
from emhub_worker_core.sources.emhub.client import EMhubClient, PollTimeout
from emhub_worker_core.sources.emhub.neterrors import address, describe
from emhub_worker_core.sources.emhub.settings import EMhubSettings


def client(url: str, verify: bool | str = True, timeout: float = 1.0) -> EMhubClient:
    return EMhubClient(EMhubSettings(url=url, user="worker", password="s3cret",
                                     verify=verify, timeout=timeout), "w.test")


def login_error(c: EMhubClient) -> str:
    with pytest.raises(TransportError) as caught:
        c.login()
    text = str(caught.value)
    assert "Max retries" not in text and "Pool(" not in text and "s3cret" not in text, text
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_closed_port_is_connection_refused() -> None:
    port = free_port()
    assert login_error(client(f"http://127.0.0.1:{port}")) == \
        f"login: connection refused by 127.0.0.1:{port}"


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Accepts connections (the kernel does) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


def test_listener_that_never_answers_is_no_answer_within(silent_listener: int) -> None:
    c = client(f"http://127.0.0.1:{silent_listener}", timeout=0.5)
    assert login_error(c) == f"login: no answer within 0.5 s from 127.0.0.1:{silent_listener}"


def test_long_poll_without_answer_is_a_poll_timeout(silent_listener: int) -> None:
    c = EMhubClient(EMhubSettings(url=f"http://127.0.0.1:{silent_listener}", user="u",
                                  password="p", timeout=0.5, poll_timeout=0.7), "w.test")
    c.token = "t"
    with pytest.raises(PollTimeout, match=r"get_new_tasks: no answer within 0\.7 s"):
        c.get_new_tasks()


@pytest.fixture
def hang_up_listener() -> Iterator[int]:
    """Reads the request, then closes the connection without a reply."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(5)

    def serve() -> None:
        try:
            while True:
                conn, _ = server.accept()
                conn.recv(65536)
                conn.close()
        except OSError:  # closed at the end of the test
            return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    server.close()
    thread.join(5)


def test_hang_up_is_connection_closed(hang_up_listener: int) -> None:
    assert login_error(client(f"http://127.0.0.1:{hang_up_listener}")) == \
        f"login: connection closed by 127.0.0.1:{hang_up_listener} before it answered"


def test_unknown_name_is_name_not_known() -> None:
    text = login_error(client("http://no-such-host.invalid:5077"))
    assert text == "login: name not known: no-such-host.invalid"


class _OK(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'"OK"'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a refused handshake is what these tests provoke


def self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("NO OPENSSL COMMAND: the TLS test cannot make a certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = self_signed(tmp_path)
    server = _QuietServer(("127.0.0.1", 0), _OK)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield int(server.server_address[1]), cert
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_self_signed_certificate_is_not_trusted(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    text = login_error(client(f"https://127.0.0.1:{port}"))
    assert text.startswith(f"login: TLS certificate of 127.0.0.1:{port} not trusted "
                           f"(self-signed certificate): set [emhub] verify to the CA bundle")


def test_the_same_server_is_trusted_with_its_certificate_as_bundle(
        tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these variables beat a session's CA bundle; [emhub] verify must win
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    port, cert = tls_server
    client(f"https://127.0.0.1:{port}", verify=str(cert)).login()  # no exception


def test_verify_false_is_not_overridden_by_the_environment(
        tls_server: tuple[int, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    port, _ = tls_server
    with pytest.warns(Warning):  # urllib3 warns about unverified HTTPS, as it should
        client(f"https://127.0.0.1:{port}", verify=False).login()


def test_plain_http_to_a_tls_port_says_so(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server
    text = login_error(client(f"http://127.0.0.1:{port}"))
    # the TLS server drops a request it cannot read as a handshake
    assert text == f"login: connection closed by 127.0.0.1:{port} before it answered"


def test_tls_to_a_plain_port_says_it_does_not_speak_tls(hang_up_listener: int) -> None:
    text = login_error(client(f"https://127.0.0.1:{hang_up_listener}"))
    assert text == f"login: TLS handshake with 127.0.0.1:{hang_up_listener} failed: the " \
        f"server hung up (does it speak TLS on that port?)"


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:5077", "127.0.0.1:5077"), ("https://emhub.example.org",
                                                  "emhub.example.org:443"),
    ("http://emhub", "emhub:80"), ("http://[::1]:8080", "[::1]:8080")])
def test_address(url: str, expected: str) -> None:
    assert address(url) == expected


def test_connect_timeout_words() -> None:
    exc = requests.exceptions.ConnectTimeout("HTTPConnectionPool(host='x', port=1): Max "
                                             "retries exceeded")
    assert describe(exc, "http://10.0.0.1:5077", 10, 30) == \
        "no answer from 10.0.0.1:5077 within 10 s (connecting)"


def test_emworker_check_says_connection_refused(worker_env: dict[str, str],
                                                tmp_path: Path) -> None:
    import sys
    port = free_port()
    config = tmp_path / "c.toml"
    config.write_text(f'[worker]\nname = "w.test"\nstate_dir = "{tmp_path / "state"}"\n'
                      f'[emhub]\nurl = "http://127.0.0.1:{port}"\nuser = "u"\n'
                      f'password = "s3cret"\ntimeout = 2\n'
                      '[plugins]\ndisable = ["broken"]\n')
    result = subprocess.run([sys.executable, "-m", "emhub_worker_core", "--config",
                             str(config), "check"], env=worker_env, capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert f"connection refused by 127.0.0.1:{port}" in output, output
    assert "Max retries" not in output and "s3cret" not in output
