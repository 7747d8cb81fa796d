"""The demo shop (scripts/demo.sh): a small Flask app served by gunicorn under `ldtap run`.
/checkout calls the payments service over HTTP, so its trace has a client span too."""
import json
import os
import random
import time
import urllib.request

from flask import Flask, abort, jsonify

app = Flask(__name__)
PAYMENTS_URL = "http://127.0.0.1:%s" % os.environ.get("PAYMENTS_PORT", "8081")
PRODUCTS = {1: "teapot", 2: "kettle", 3: "mug", 4: "spoon"}


@app.route("/")
def index():
    return "Welcome to the ldtap demo shop\n"


@app.route("/products")
def products():
    return jsonify(PRODUCTS)


@app.route("/orders/<int:order_id>")
def order(order_id):
    if order_id > 1000:
        abort(404)
    time.sleep(random.uniform(0.001, 0.01))  # a pretend database lookup
    return jsonify(id=order_id, item=PRODUCTS[order_id % 4 + 1], status="shipped")


@app.route("/checkout", methods=["GET", "POST"])
def checkout():
    # Outbound HTTP call: ldtap records it as a client span, child of this request's span.
    request = urllib.request.Request(PAYMENTS_URL + "/charge", data=json.dumps({"amount": 42}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        receipt = json.loads(response.read())
    return jsonify(ok=True, receipt=receipt)


@app.route("/inventory")
def inventory():
    # A server error: ldtap marks this span's status as error.
    return jsonify(error="the inventory service is on fire"), 500
