#!/bin/sh
# Machine set-up for the render tests and for PNG/PDF reports (run as root, once).
# Chromium comes from Debian, never from a Playwright download (no `playwright install`).
set -eu
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y \
    chromium fonts-dejavu-core
# Python packages (versions tested): playwright drives the system Chromium for PNG/PDF;
# pypdf and pillow are used by the tests only.
"${PIP:-.venv/bin/pip}" install "playwright>=1.49,<2" "pypdf>=5,<8" "pillow>=10"
