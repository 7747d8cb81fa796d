"""The demo's second service: a tiny payments API the shop calls on /checkout.
Usage: payments.py PORT (not instrumented; it only gives the shop an outbound call)."""
import http.server
import json
import sys
import uuid


class Payments(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"charged": True, "id": str(uuid.uuid4())}).encode()
        self.send_response(200 if self.path == "/charge" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Payments).serve_forever()
