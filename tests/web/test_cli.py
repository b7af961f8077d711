"""`journeymap serve` really serves: started as a process, answered over HTTP, stopped."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

import journeymap.cli.serve_commands  # noqa: F401  (registers the commands)
from journeymap.cli.app import app as cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


RUN_CLI = "import journeymap.cli.serve_commands; from journeymap.cli.app import app; app()"


def test_serve_command_serves_the_workspace(demo_template, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(demo_template, ws)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "serve", str(ws), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/me", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        assert r.json() == {"name": "local", "role": "admin", "via": "local"}
        assert (ws / ".journeymap" / "app.db").is_file()
    finally:
        proc.terminate()
        proc.wait(10)


def test_user_add_refuses_a_folder_that_is_not_a_workspace(tmp_path):
    result = CliRunner().invoke(cli, ["user", "add", "x", "--token", "-w", str(tmp_path)])
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert result.exit_code != 0 and "not a journeymap workspace" in text
