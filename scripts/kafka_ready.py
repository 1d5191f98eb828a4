#!/usr/bin/env python3
"""Exit 0 when a Kafka broker answers an ApiVersions request (stdlib only: runs before any venv)."""
import socket
import struct
import sys


def broker_answers(address: str, timeout: float = 2.0) -> bool:
    host, _, port = address.rpartition(":")
    client_id = b"m2c-ready"
    # request header v1: api_key=18 (ApiVersions), api_version=0, correlation_id, client_id
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = sock.recv(4)
            if len(header) < 4:
                return False
            (size,) = struct.unpack(">i", header)
            payload = b""
            while len(payload) < size:
                chunk = sock.recv(size - len(payload))
                if not chunk:
                    return False
                payload += chunk
    except OSError:
        return False
    correlation_id, error_code = struct.unpack(">ih", payload[:6])
    return correlation_id == 7 and error_code == 0


if __name__ == "__main__":
    sys.exit(0 if broker_answers(sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092") else 1)
