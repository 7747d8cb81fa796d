"""FastAPI app for tests/e2e/exceptions.sh: /bad raises ValueError("bad input") (uvicorn
answers 500 and logs the traceback to stderr), /ok answers normally."""
from fastapi import FastAPI

app = FastAPI()


@app.get("/bad")
def bad_input_view():
    raise ValueError("bad input")


@app.get("/ok")
def ok_view():
    return {"ok": True}
