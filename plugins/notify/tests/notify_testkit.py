"""Real local receivers for the notify plugin's tests: an HTTP receiver and an SMTP server,
both on loopback ports the system picks, and a self-signed certificate for STARTTLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    """One HTTP request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Answer:
    """What the receiver answers on a path."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


_REASONS = {
    200: "OK",
    204: "No Content",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    408: "Request Timeout",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class HttpReceiver:
    """A tiny HTTP/1.1 server recording every request; answers are set per path prefix."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.requests: list[Received] = []
        self.answers: dict[str, Answer] = {}
        self.arrived = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def answer(self, path: str, answer: Answer) -> None:
        self.answers[path] = answer

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[Received]:
        async with asyncio.timeout(seconds):
            while len(self.requests) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.requests

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await reader.readexactly(length) if length else b""
            self.requests.append(Received(method, target, headers, body))
            self.arrived.set()
            answer = self._answer_for(target)
            if answer.delay:
                await asyncio.sleep(answer.delay)
            reason = _REASONS.get(answer.status, "Whatever")
            out = [f"HTTP/1.1 {answer.status} {reason}"]
            out += [f"{k}: {v}" for k, v in answer.headers.items()]
            out += [f"Content-Length: {len(answer.body)}", "Connection: close", "", ""]
            writer.write("\r\n".join(out).encode("latin-1") + answer.body)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _answer_for(self, target: str) -> Answer:
        best = ""
        for prefix in self.answers:
            if target.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return self.answers.get(best, Answer())


@asynccontextmanager
async def http_receiver(tls: ssl.SSLContext | None = None) -> AsyncIterator[HttpReceiver]:
    receiver = HttpReceiver(tls)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


class MailHandler:
    """aiosmtpd handler: keeps messages; refuses recipients at ``refuse`` with 550 and
    defers those at ``defer`` with 450."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.refuse: set[str] = set()
        self.defer: set[str] = set()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        if address in self.defer:
            return "450 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login = auth.decode() if isinstance(auth, bytes) else (str(auth) if auth else None)
        self.mails.append(
            Mail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                tls=session.ssl is not None,
                login=login,
            )
        )
        return "250 Message accepted"


@dataclass
class SmtpServer:
    handler: MailHandler
    port: int
    host: str = "127.0.0.1"


class Authenticator:
    """Accepts one username and password."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            self.username,
            self.password,
        ):
            return AuthResult(success=True, auth_data=data.login)
        return AuthResult(success=False, handled=False)


@asynccontextmanager
async def smtp_server(
    *,
    tls_context: ssl.SSLContext | None = None,
    require_starttls: bool = False,
    credentials: tuple[str, str] | None = None,
) -> AsyncIterator[SmtpServer]:
    """An aiosmtpd server in this event loop, on a loopback port the system picks."""
    handler = MailHandler()
    authenticator = Authenticator(*credentials) if credentials else None

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname="mail.test",
            tls_context=tls_context,
            require_starttls=require_starttls,
            authenticator=authenticator,
            auth_required=credentials is not None,
            auth_require_tls=tls_context is not None,
        )

    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    try:
        yield SmtpServer(handler=handler, port=server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a new self-signed certificate for 127.0.0.1/localhost, and
    the certificate's PEM file (for the client to trust)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = directory / "cert.pem"
    key_file = directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
