"""psycopg2 (Debian's, linked to libpq, loaded late) for db_hooks.sh.
Usage: pg_queries.py PORT"""
import sys

import psycopg2
import psycopg2.errors

connection = psycopg2.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres", dbname="postgres")
cursor = connection.cursor()
cursor.execute("SELECT id, name FROM items WHERE id > %s ORDER BY id", (0,))
print(cursor.fetchall())
connection.commit()
try:
    cursor.execute("INSERT INTO items VALUES (2, 'dup')")
except psycopg2.errors.UniqueViolation as error:
    print("error", error.pgcode)
connection.rollback()
connection.close()
