"""Views of the e2e test shop. Each one makes a known set of queries: the tests assert the
database spans under each request's server span."""
import json

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET, require_POST

from orders.models import Item, Order


def _order_json(order, items):
    return {"id": order.id, "name": order.name,
            "items": [{"sku": item.sku, "quantity": item.quantity} for item in items]}


@require_GET
def order_list(request):
    # The N+1 pattern on purpose: one query for the orders, then one per order for its items
    # (no prefetch_related), so the server span's ldtap.db.query_count shows it.
    orders = list(Order.objects.order_by("id"))
    return JsonResponse({"orders": [_order_json(order, list(order.items.all())) for order in orders]})


@require_POST
def order_create(request):
    name = request.POST["name"]
    with transaction.atomic():
        order = Order.objects.create(name=name)
        Item.objects.create(order=order, sku="sku-1", quantity=1)
        Item.objects.create(order=order, sku="sku-2", quantity=2)
    return JsonResponse({"id": order.id}, status=201)


@require_GET
def order_detail(request, order_id):
    order = get_object_or_404(Order, pk=order_id)  # a missing id is the 404 view
    return JsonResponse(_order_json(order, list(order.items.all())))


@require_POST
def order_duplicate(request):
    # Creating an order whose name exists violates the unique constraint: the INSERT's span
    # is an error (PostgreSQL SQLSTATE 23505) while the request still answers.
    try:
        Order.objects.create(name=request.POST["name"])
    except IntegrityError:
        return HttpResponse("duplicate order name\n", status=409)
    return HttpResponse("created\n", status=201)


@require_GET
def bad_sql(request):
    # A raw cursor with a syntax error (PostgreSQL SQLSTATE 42601).
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELEC 1")
    except DatabaseError:
        return HttpResponse("bad sql\n", status=400)
    return HttpResponse("unexpectedly fine\n")


@require_GET
def slow_report(request):
    # One statement slower than the tests' LDTAP_SLOW_QUERY_MS, for the slow-query marking.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_sleep(0.08)")
        else:
            cursor.execute("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 400000) "
                           "SELECT count(*) FROM n")
        cursor.fetchall()
    return HttpResponse(json.dumps({"report": "done"}), content_type="application/json")
