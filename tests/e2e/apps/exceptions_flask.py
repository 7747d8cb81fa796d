"""Flask app for tests/e2e/exceptions.sh: /boom raises ZeroDivisionError (Flask logs the
traceback to stderr before answering 500), /ok answers normally."""
from flask import Flask

app = Flask(__name__)


@app.route("/boom")
def boom_view():
    return str(1 / 0)


@app.route("/ok")
def ok_view():
    return "ok\n"
