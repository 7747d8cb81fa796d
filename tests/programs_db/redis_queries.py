"""redis-py (pure Python, speaks RESP itself) for db_wire.sh: plain commands, a pipeline,
MULTI/EXEC, an error reply and a pub/sub connection. Usage: redis_queries.py PORT"""
import sys

import redis

client = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
client.set("greeting", "hello")
print(client.get("greeting"))
pipeline = client.pipeline(transaction=False)
pipeline.set("counter", 1)
pipeline.incr("counter")
pipeline.get("counter")
print(pipeline.execute())
transaction = client.pipeline(transaction=True)
transaction.set("total", 10)
transaction.incr("total")
print(transaction.execute())
client.lpush("queue", "job")
try:
    client.get("queue")
except redis.ResponseError as error:
    print("error", str(error).split()[0])
subscriber = client.pubsub()
subscriber.subscribe("news")
print(subscriber.get_message(timeout=2)["type"])
client.publish("news", "extra")
print(subscriber.get_message(timeout=2)["data"])
subscriber.close()
client.close()
