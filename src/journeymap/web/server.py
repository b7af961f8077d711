"""Running the app with uvicorn (the CLI and the tests both use this)."""

from __future__ import annotations

from pathlib import Path

from journeymap.web.app import WebConfig, create_app


def serve(
    workspace: str | Path = ".",
    host: str = "127.0.0.1",
    port: int = 8765,
    require_auth: bool | None = None,
    db_url: str | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``workspace`` until interrupted (sign-in required off loopback)."""
    import uvicorn

    app = create_app(
        WebConfig(Path(workspace), host=host, require_auth=require_auth, db_url=db_url)
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False)


def uvicorn_server(app, host: str, port: int):
    """A uvicorn Server (not started) for running in a thread: ``server.run()``."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", server_header=False, lifespan="on"
    )
    return uvicorn.Server(config)
