#!/usr/bin/python3
"""Request driver for scripts/bench.sh's callgrind server figures: sends exactly N GET
requests to 127.0.0.1:PORT and reads each whole response (Content-Length bodies), either
on one keep-alive connection or one connection per request, so that the server under
valgrind does a known amount of work. Exits non-zero on any unexpected answer.
Usage: http_requests.py PORT PATH N keepalive|close"""
import socket
import sys


def read_response(stream):
    """Reads one response head and its Content-Length body; returns the status code."""
    status_line = stream.readline()
    if not status_line.startswith(b"HTTP/1."):
        raise SystemExit(f"bad status line: {status_line!r}")
    length = 0
    while True:
        line = stream.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length and len(stream.read(length)) != length:
        raise SystemExit("response body cut short")
    return int(status_line.split()[1])


def main():
    port, path, count, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    keep_alive = mode == "keepalive"
    # What curl sends: a request line and three headers.
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: curl/7.88.1\r\n"
               f"Accept: */*\r\n" + ("" if keep_alive else "Connection: close\r\n") + "\r\n").encode()
    connection = stream = None
    for _ in range(count):
        if connection is None:
            connection = socket.create_connection(("127.0.0.1", port))
            stream = connection.makefile("rb")
        connection.sendall(request)
        status = read_response(stream)
        if status != 200:
            raise SystemExit(f"status {status} for {path}")
        if not keep_alive:
            stream.close()
            connection.close()
            connection = None
    if connection is not None:
        stream.close()
        connection.close()


if __name__ == "__main__":
    main()
