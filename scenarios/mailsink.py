"""A local SMTP server that keeps what it receives: the demo's customers get their e-bills through
it, and the tests check delivery against it. It is a real SMTP server (aiosmtpd) on a local port."""
from __future__ import annotations

import email
import socket
from email import policy


class MailSink:
    def __init__(self):
        self.messages: list = []
        self.port = 0
        self._controller = None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        from aiosmtpd.controller import Controller

        if not port:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        self._controller = Controller(self, hostname=host, port=port)
        self._controller.start()
        self.port = port
        return port

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
