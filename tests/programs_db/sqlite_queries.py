"""Python's sqlite3 module (a late dlopen of _sqlite3 with RTLD_LOCAL) for db_hooks.sh.
Usage: sqlite_queries.py DATABASE_FILE"""
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
db.execute("DROP TABLE IF EXISTS notes")
db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
db.executemany("INSERT INTO notes (body) VALUES (?)", [("x",), ("y",), ("z",)])
db.commit()
print(db.execute("SELECT id, body FROM notes ORDER BY id").fetchall())
try:
    db.execute("SELEC 1")
except sqlite3.OperationalError as error:
    print("error", error)
db.close()
