"""http.server whose handler calls Redis through redis-py: the command's span, seen on the
wire, must be a child of the request's server span. Usage: http_redis_server.py PORT REDIS_PORT"""
import http.server
import sys

import redis

port, redis_port = int(sys.argv[1]), int(sys.argv[2])
client = redis.Redis(host="127.0.0.1", port=redis_port)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        count = client.incr("visits:" + self.path)
        body = f"{count}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
