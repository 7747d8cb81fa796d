"""A login endpoint that handles secrets the way real applications do, for
tests/e2e/secrets.sh: it receives an Authorization header, a cookie, a query-string token
and a password in a form body; writes passwords into SQL literals (SQLite, and PostgreSQL
through libpq when a port is given, where it also logs in with a cleartext password through
libpq and through pg8000's own wire protocol); calls a backend with its own bearer token, cookie and
API key in the query string; answers with a Set-Cookie. Every secret comes from the
environment (SECRET_*), never from argv, which is exported as process.command_line.
Usage: secrets_app.py PORT BACKEND_PORT SQLITE_FILE [POSTGRES_PORT]"""
import http.server
import os
import sqlite3
import sys
import urllib.request

port, backend_port, sqlite_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
postgres_port = int(sys.argv[4]) if len(sys.argv) > 4 else None
secret = {name[len("SECRET_"):].lower(): value for name, value in os.environ.items() if name.startswith("SECRET_")}

postgres = None
if postgres_port:
    import psycopg2

    import pg8000

    postgres = psycopg2.connect(host="127.0.0.1", port=postgres_port, user="postgres", dbname="postgres")
    postgres.autocommit = True


def log_in_to_postgres():
    """The role ldtap_login authenticates with pg_hba's "password" method: the password
    crosses the socket in clear, in a PasswordMessage."""
    login = psycopg2.connect(
        host="127.0.0.1", port=postgres_port, user="ldtap_login", password=secret["pg_login"], dbname="postgres"
    )
    cursor = login.cursor()
    cursor.execute("SELECT current_user")
    cursor.fetchall()
    login.close()
    wire = pg8000.connect(
        user="ldtap_login", password=secret["pg_login"], host="127.0.0.1", port=postgres_port, database="postgres"
    )
    cursor = wire.cursor()
    cursor.execute("SELECT current_user")
    cursor.fetchall()
    wire.close()


def write_passwords():
    database = sqlite3.connect(sqlite_path)
    database.execute(f"INSERT INTO users (name, password) VALUES ('alice', '{secret['sqlite']}')")
    database.execute(f"UPDATE users SET password = '{secret['sqlite']}' WHERE name = 'alice' AND 1 = 1")
    database.execute(f"SELECT name FROM users WHERE password = '{secret['sqlite']}'").fetchall()
    database.commit()
    database.close()
    if postgres:
        cursor = postgres.cursor()
        cursor.execute("DROP ROLE IF EXISTS ldtap_app")
        cursor.execute(f"CREATE ROLE ldtap_app LOGIN PASSWORD '{secret['postgres']}'")
        cursor.execute(f"INSERT INTO accounts (name, password) VALUES ('alice', E'{secret['postgres']}\\n')")
        cursor.execute(f"SELECT name FROM accounts WHERE password = $${secret['postgres']}$$")
        cursor.fetchall()
        cursor.close()
        log_in_to_postgres()


def call_backend():
    request = urllib.request.Request(
        f"http://127.0.0.1:{backend_port}/api/token?api_key={secret['out_query']}&page=1",
        headers={"Authorization": f"Bearer {secret['out_authorization']}", "Cookie": f"sid={secret['out_cookie']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def login(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        write_passwords()
        call_backend()
        print(f"login handled for {self.command}", flush=True)  # a log line without secrets
        body = b"welcome\n"
        self.send_response(200)
        self.send_header("Set-Cookie", f"session={secret['set_cookie']}; HttpOnly")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = login
    do_POST = login

    def log_message(self, *arguments):
        pass  # the access log line carries the query string: the application's own output


setup = sqlite3.connect(sqlite_path)
setup.execute("CREATE TABLE IF NOT EXISTS users (name TEXT, password TEXT)")
setup.commit()
setup.close()
if postgres:
    postgres.cursor().execute("CREATE TABLE IF NOT EXISTS accounts (name text, password text)")
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
