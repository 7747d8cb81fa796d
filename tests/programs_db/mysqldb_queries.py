"""MySQLdb (Debian's python3-mysqldb, linked to libmariadb, loaded late) for db_hooks.sh.
Usage: mysqldb_queries.py PORT DATABASE"""
import sys

import MySQLdb

connection = MySQLdb.connect(host="127.0.0.1", port=int(sys.argv[1]), user="root", db=sys.argv[2])
cursor = connection.cursor()
cursor.execute("SELECT id, name FROM items WHERE id > %s ORDER BY id", (0,))
print(cursor.fetchall())
try:
    cursor.execute("SELEC 1")
except MySQLdb.ProgrammingError as error:
    print("error", error.args[0])
connection.close()
