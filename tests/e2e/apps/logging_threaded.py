"""A threaded HTTP server for tests/e2e/exceptions.sh (log correlation): each request logs
"handling PATH" through Python logging to stderr while other requests are in flight on
other threads, then answers 200. Usage: logging_threaded.py PORT"""
import logging
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
log = logging.getLogger("shop")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        time.sleep(0.02)  # keep several requests in flight at once
        log.info("handling %s", self.path)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
