"""Plain WSGI app served by gunicorn in tests/e2e/gunicorn.sh (and the gunicorn benchmark):
fixed routes whose spans the test knows exactly. BACKEND_PORT names the downstream server."""
import json
import os
import time
import urllib.request


def _respond(start_response, status, body, content_type="text/plain"):
    data = body.encode() if isinstance(body, str) else body
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        return _respond(start_response, "200 OK", "hello\n")
    if path.startswith("/orders/") and path[len("/orders/"):].isdigit():
        if environ.get("QUERY_STRING") == "slow":
            # Keeps this worker busy so concurrent requests reach the other one.
            time.sleep(0.05)
        order = {"id": int(path[len("/orders/"):]), "worker": os.getpid()}
        return _respond(start_response, "200 OK", json.dumps(order), "application/json")
    if path == "/proxy":
        # The outbound call whose client span must be a child of this request's span.
        url = "http://127.0.0.1:%s/ping" % os.environ["BACKEND_PORT"]
        with urllib.request.urlopen(url, timeout=5) as response:
            downstream = response.read().decode()
        return _respond(start_response, "200 OK", "proxied: " + downstream)
    if path == "/fail":
        return _respond(start_response, "500 Internal Server Error", "failed on purpose\n")
    if path == "/login":
        # Receives credentials in headers and the query string; none may be exported.
        return _respond(start_response, "200 OK", "welcome\n")
    return _respond(start_response, "404 Not Found", "no such page\n")
