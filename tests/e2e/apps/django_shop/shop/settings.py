"""Settings of the e2e test shop: the database comes from the environment so one project
serves the SQLite and the PostgreSQL tests.
SHOP_DB=sqlite (SHOP_SQLITE_PATH) or SHOP_DB=postgresql (SHOP_PG_HOST, SHOP_PG_PORT, SHOP_PG_NAME)."""
import os

SECRET_KEY = "e2e-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Only the app itself: no auth, sessions or contenttypes, so every query a request makes is
# one the view asked for and the tests can count them.
INSTALLED_APPS = ["orders"]
MIDDLEWARE = []
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
LOGGING = {"version": 1, "disable_existing_loggers": False}

if os.environ.get("SHOP_DB", "sqlite") == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("SHOP_PG_HOST", "127.0.0.1"),
            "PORT": os.environ["SHOP_PG_PORT"],
            "NAME": os.environ.get("SHOP_PG_NAME", "shop"),
            "USER": os.environ.get("SHOP_PG_USER", "postgres"),
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ["SHOP_SQLITE_PATH"],
        }
    }
