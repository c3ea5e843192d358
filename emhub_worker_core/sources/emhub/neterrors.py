"""Connection failures in words a person reads.

requests reports every failure to reach a server as ``ConnectionError("HTTPConnectionPool
(host=..., port=...): Max retries exceeded with url: ... (Caused by NewConnectionError(...
[Errno 111] Connection refused))")``: the one fact that matters is at the bottom of a chain
of wrapped exceptions. :func:`describe` walks that chain and says the fact::

    connection refused by 127.0.0.1:5077
    no answer within 10 s
    TLS certificate not trusted (self-signed certificate): ...
    name not known: emhub.example.org

Nothing here retries or raises; :mod:`.client` turns the text into a ``TransportError``.
"""

from __future__ import annotations

import re
import socket
import ssl
from typing import Iterator
from urllib.parse import urlsplit

import requests

_VERIFY_HINT = ("set [emhub] verify to the CA bundle that signed it (or install that CA on "
                "this machine)")


def address(url: str) -> str:
    """``host:port`` of ``url``, with the scheme's default port when none is given."""
    parts = urlsplit(url)
    host = parts.hostname or url
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: show what was written
        return parts.netloc or url
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (args, urllib3's ``reason``, causes)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [a for a in current.args if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            linked.append(reason)
        linked += [e for e in (current.__cause__, current.__context__) if e is not None]
        todo.extend(linked)


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    return next((e for e in causes(exc) if isinstance(e, kind)), None)


def _tls_reason(exc: BaseException) -> str:
    """The verification failure's own words, e.g. ``self-signed certificate``."""
    cert = _find(exc, ssl.SSLCertVerificationError)
    if isinstance(cert, ssl.SSLCertVerificationError) and cert.verify_message:
        return str(cert.verify_message)
    text = " ".join(str(e) for e in causes(exc))
    match = re.search(r"certificate verify failed: ([^(')\]]+)", text)
    return match.group(1).strip() if match else "verification failed"


def _tls(exc: BaseException, url: str) -> str:
    text = " ".join(str(e) for e in causes(exc))
    if _find(exc, ssl.SSLCertVerificationError) is not None \
            or "CERTIFICATE_VERIFY_FAILED" in text:
        return f"TLS certificate of {address(url)} not trusted ({_tls_reason(exc)}): " \
               f"{_VERIFY_HINT}"
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return f"TLS handshake with {address(url)} failed: it does not speak TLS there " \
               f"(is [emhub] url http:// rather than https://?)"
    if _find(exc, ssl.SSLEOFError) is not None or "UNEXPECTED_EOF" in text:
        return f"TLS handshake with {address(url)} failed: the server hung up (does it " \
               f"speak TLS on that port?)"
    reason = _find(exc, ssl.SSLError)
    detail = getattr(reason, "reason", None) or "handshake failed"
    return f"TLS failure talking to {address(url)} ({detail})"


def describe(exc: requests.exceptions.RequestException, url: str, connect_timeout: float,
             read_timeout: float) -> str:
    """One line for a request to ``url`` that never got an HTTP reply."""
    where = address(url)
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls(exc, url)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no answer from {where} within {connect_timeout:g} s (connecting)"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within {read_timeout:g} s from {where}"
    if _find(exc, socket.gaierror) is not None \
            or any(type(e).__name__ == "NameResolutionError" for e in causes(exc)):
        return f"name not known: {_host(url)}"
    if _find(exc, ConnectionRefusedError) is not None:
        return f"connection refused by {where}"
    if _find(exc, ConnectionResetError) is not None or _find(exc, BrokenPipeError) \
            is not None or any(type(e).__name__ == "RemoteDisconnected" for e in causes(exc)):
        return f"connection closed by {where} before it answered"
    if _find(exc, TimeoutError) is not None:
        return f"no answer from {where} within {connect_timeout:g} s"
    os_error = next((e for e in causes(exc) if isinstance(e, OSError) and e.strerror), None)
    if isinstance(os_error, OSError):
        return f"cannot reach {where}: {str(os_error.strerror).lower()}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"cannot reach {where}"
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    if not detail or "Max retries" in detail or "Pool(" in detail:
        return f"request to {where} failed: {type(exc).__name__}"
    return f"request to {where} failed: {type(exc).__name__}: {detail}"
