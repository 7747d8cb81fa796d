"""URL map of the e2e test shop."""
from django.urls import path

from orders import views

urlpatterns = [
    path("orders/", views.order_list),
    path("orders/create/", views.order_create),
    path("orders/<int:order_id>/", views.order_detail),
    path("orders/duplicate/", views.order_duplicate),
    path("orders/bad-sql/", views.bad_sql),
    path("orders/report/", views.slow_report),
]
