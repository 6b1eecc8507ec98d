"""The app for production WSGI servers: ``gunicorn -k gevent 'web.wsgi:app'`` (see the
README's "Serving in production"). Each worker process imports it and builds its own app."""

from web.app import create_app, freeze_startup_objects

app = create_app()
freeze_startup_objects()
