"""An order and its items: listing orders and then each order's items is the N+1 pattern."""
from django.db import models


class Order(models.Model):
    # Unique, so that creating an order twice violates a constraint (SQLSTATE 23505).
    name = models.CharField(max_length=100, unique=True)
    created = models.DateTimeField(auto_now_add=True)


class Item(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    sku = models.CharField(max_length=40)
    quantity = models.IntegerField()
