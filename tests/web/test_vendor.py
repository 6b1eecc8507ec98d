"""The browser libraries under web/static/vendor are the pinned npm releases, unedited."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


def test_vendored_libraries_are_the_pinned_releases_unedited() -> None:
    manifest = json.loads((STATIC / "vendor" / "MANIFEST.json").read_text())
    pins = json.loads((STATIC / "package.json").read_text())["dependencies"]
    lock = json.loads((STATIC / "package-lock.json").read_text())["packages"]
    assert set(manifest) == set(pins)
    for package, entry in manifest.items():
        assert entry["version"] == pins[package] == lock[f"node_modules/{package}"]["version"]
        for name, digest in entry["files"].items():
            data = (STATIC / "vendor" / package / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest, f"{package}/{name} was edited"
