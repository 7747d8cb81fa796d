"""pg8000 (pure Python PostgreSQL driver, DB-API) for db_wire.sh. Usage: pg8000_queries.py PORT"""
import sys

import pg8000

connection = pg8000.connect(user="postgres", host="127.0.0.1", port=int(sys.argv[1]), database="postgres")
cursor = connection.cursor()
cursor.execute("SELECT count(*) FROM wire_items WHERE id > %s", (1,))
print(cursor.fetchall())
connection.rollback()
connection.close()
