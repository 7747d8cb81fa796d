#!/usr/bin/python3
"""PyMySQL (pure Python: the MySQL protocol on its own socket) against MariaDB, for
tests/e2e/pymysql.sh: plain and parameterised statements, a duplicate key and a syntax
error. Prints what it saw so a run under ldtap can be compared with one without.
Usage: ORDER_NAME=... pymysql_orders.py PORT DATABASE (the name is not an argument: the
command line is exported as process.command_line)"""
import os
import sys

import pymysql

port, database, secret = int(sys.argv[1]), sys.argv[2], os.environ["ORDER_NAME"]
connection = pymysql.connect(host="127.0.0.1", port=port, user="root", database=database, autocommit=True)
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE orders (id INT PRIMARY KEY, name VARCHAR(100))")
    # PyMySQL interpolates parameters client-side: the secret travels as a literal.
    cursor.execute("INSERT INTO orders VALUES (%s, %s), (%s, %s)", (1, secret, 2, "plain"))
    print("inserted", cursor.rowcount)
    cursor.execute("SELECT id, name FROM orders WHERE id > %s ORDER BY id", (0,))
    print("rows", [row[0] for row in cursor.fetchall()])
    for statement in ("INSERT INTO orders VALUES (1, 'again')", "SELEC 1"):
        try:
            cursor.execute(statement)
        except pymysql.MySQLError as error:
            print("error", error.args[0])
connection.close()
