"""PyMySQL (pure Python, speaks the MySQL protocol itself) for db_wire.sh: a query,
executemany, a duplicate key error. Usage: pymysql_queries.py PORT DATABASE"""
import sys

import pymysql

connection = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root",
                             database=sys.argv[2], autocommit=True)
cursor = connection.cursor()
cursor.execute("DROP TABLE IF EXISTS wire_items")
cursor.execute("CREATE TABLE wire_items (id INT PRIMARY KEY, name VARCHAR(20))")
cursor.executemany("INSERT INTO wire_items VALUES (%s, %s)", [(1, "one"), (2, "two")])
cursor.execute("SELECT id, name FROM wire_items ORDER BY id")
print(cursor.fetchall())
try:
    cursor.execute("INSERT INTO wire_items VALUES (1, 'again')")
except pymysql.err.IntegrityError as error:
    print("error", error.args[0])
connection.close()
