"""The web app: explore, edit and share the journey map (FastAPI, served by uvicorn).

``create_app(WebConfig(workspace))`` builds the app; ``serve(workspace, host, port)`` runs
it; ``journeymap serve`` is the command. Pages and the REST API (``/api``, described at
``/openapi.json`` and ``/api-docs``) call the plain functions of :mod:`.data` and
:mod:`.editing`; app state lives in :mod:`.state`; sign-in, roles and CSRF in :mod:`.auth`.
"""

from journeymap.web.app import WebConfig, create_app
from journeymap.web.server import serve

__all__ = ["WebConfig", "create_app", "serve"]
