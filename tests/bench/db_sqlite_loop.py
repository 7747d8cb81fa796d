#!/usr/bin/python3
"""Benchmark for scripts/bench_db.sh: a Python sqlite3 loop of small statements (an INSERT
and a point SELECT per iteration) on a file database; prints statements per second, timed
inside the program so interpreter start-up is not measured. Usage: db_sqlite_loop.py DB N"""
import sqlite3
import sys
import time

path, iterations = sys.argv[1], int(sys.argv[2])
connection = sqlite3.connect(path, isolation_level=None)
connection.execute("PRAGMA journal_mode = MEMORY")
connection.execute("PRAGMA synchronous = OFF")
connection.execute("DROP TABLE IF EXISTS kv")
connection.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)")
connection.execute("BEGIN")  # one transaction: measure statements, not fsyncs
start = time.perf_counter()
for i in range(iterations):
    connection.execute("INSERT INTO kv (k, v) VALUES (?, ?)", (i, "value"))
    connection.execute("SELECT v FROM kv WHERE k = ?", (i,)).fetchone()
elapsed = time.perf_counter() - start
connection.execute("COMMIT")
print(f"{2 * iterations / elapsed:.0f}")
