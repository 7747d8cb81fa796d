"""FastAPI app served by uvicorn in tests/e2e/fastapi_redis.sh: routes that call Redis
(redis-py, which speaks RESP itself) and PostgreSQL (psycopg2, through libpq).
REDIS_PORT and PG_PORT name the servers; both clients connect once, lazily."""
import os

import psycopg2
import redis
from fastapi import FastAPI

app = FastAPI()
_clients = {}


def _redis():
    if "redis" not in _clients:
        _clients["redis"] = redis.Redis(host="127.0.0.1", port=int(os.environ["REDIS_PORT"]))
    return _clients["redis"]


def _pg():
    if "pg" not in _clients:
        connection = psycopg2.connect(host="127.0.0.1", port=int(os.environ["PG_PORT"]),
                                      user="postgres", dbname="postgres")
        connection.autocommit = True
        _clients["pg"] = connection
    return _clients["pg"]


@app.get("/health")
async def health():
    return {"ok": True}


@app.post("/counter/{name}")
async def counter(name: str):
    return {"value": _redis().incr(f"counter:{name}")}


@app.get("/cache/{key}")
async def cache(key: str):
    # A miss stores the value (GET, SET); a hit is one GET.
    value = _redis().get(f"cache:{key}")
    if value is None:
        value = os.environ["CACHE_VALUE"].encode()
        _redis().set(f"cache:{key}", value, ex=60)
        return {"value": value.decode(), "hit": False}
    return {"value": value.decode(), "hit": True}


@app.get("/visits")
async def visits():
    with _pg().cursor() as cursor:
        cursor.execute("INSERT INTO visits (path) VALUES (%s)", ("/visits",))
        cursor.execute("SELECT count(*) FROM visits")
        return {"visits": cursor.fetchone()[0]}
