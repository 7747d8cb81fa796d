"""asyncpg (speaks the PostgreSQL protocol itself, extended query) for db_wire.sh: a simple
query, a prepared statement executed twice, a unique violation. Usage: asyncpg_queries.py PORT"""
import asyncio
import sys

import asyncpg


async def main():
    connection = await asyncpg.connect(host="127.0.0.1", port=int(sys.argv[1]), user="postgres",
                                       database="postgres")
    await connection.execute("DROP TABLE IF EXISTS wire_items")
    await connection.execute("CREATE TABLE wire_items (id integer PRIMARY KEY, name text)")
    await connection.execute("INSERT INTO wire_items VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    statement = await connection.prepare("SELECT name FROM wire_items WHERE id >= $1 ORDER BY id")
    print(await statement.fetch(2))
    print(await statement.fetch(1))
    try:
        await connection.execute("INSERT INTO wire_items VALUES (1, 'again')")
    except asyncpg.UniqueViolationError as error:
        print("error", error.sqlstate)
    await connection.close()


asyncio.run(main())
