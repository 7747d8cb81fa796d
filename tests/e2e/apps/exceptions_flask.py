"""Flask app for tests/e2e/exceptions.sh: Flask logs a view's traceback to stderr before
answering 500. /boom raises ZeroDivisionError, /chained a LookupError caused by a
ValueError, /ok answers normally."""
from flask import Flask

app = Flask(__name__)


@app.route("/boom")
def boom_view():
    return str(1 / 0)


@app.route("/chained")
def chained_view():
    try:
        int("not a number")
    except ValueError as error:
        raise LookupError("no such order") from error


@app.route("/ok")
def ok_view():
    return "ok\n"
