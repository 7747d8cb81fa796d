"""Tiny uninstrumented downstream HTTP server for the e2e tests: GET /ping answers "pong",
anything else 404. Usage: backend.py PORT"""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    # Keep-alive, so clients can send several requests over one connection.
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.split("?")[0] == "/ping":
            status, body = 200, b"pong\n"
        else:
            status, body = 404, b"not here\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test logs quiet
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
