"""FastAPI app for tests/e2e/exceptions.sh. uvicorn answers 500 for a view that raises and
logs the traceback to stderr after the response has gone out. /bad raises ValueError("bad
input"), /chained a LookupError caused by a ValueError, /group an ExceptionGroup of two,
/slow sleeps on the event loop (a request in flight while another fails), /ok answers."""
import asyncio

from fastapi import FastAPI

app = FastAPI()


@app.get("/bad")
def bad_input_view():
    raise ValueError("bad input")


@app.get("/chained")
def chained_view():
    try:
        int("not a number")
    except ValueError as error:
        raise LookupError("no such order") from error


def check_stock():
    raise ValueError("out of stock")


def check_payment():
    raise TypeError("card declined")


@app.get("/group")
def group_view():
    errors = []
    for check in (check_stock, check_payment):
        try:
            check()
        except Exception as error:
            errors.append(error)
    raise ExceptionGroup("checkout failed", errors)


@app.get("/slow")
async def slow_view():
    await asyncio.sleep(1.5)
    return {"slow": True}


@app.get("/ok")
def ok_view():
    return {"ok": True}
