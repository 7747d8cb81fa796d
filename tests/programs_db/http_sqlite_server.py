"""http.server whose handler queries SQLite: the query's span must be a child of the
request's server span. Usage: http_sqlite_server.py PORT DATABASE_FILE"""
import http.server
import sqlite3
import sys

port, path = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        db = sqlite3.connect(path)
        count = db.execute("SELECT count(*) FROM visits WHERE path = ?", (self.path,)).fetchone()[0]
        db.close()
        body = f"{count}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


setup = sqlite3.connect(path)
setup.execute("CREATE TABLE IF NOT EXISTS visits (path TEXT)")
setup.commit()
setup.close()
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
