"""Copy the browser libraries' built files from the npm registry into web/static/vendor/.

    python scripts/vendor_assets.py

The pages load nothing from another host (the Content-Security-Policy forbids it, and an
installation may have no internet), so the libraries are committed under
``web/static/vendor/``. Their versions are pinned in ``web/static/package.json`` and
``package-lock.json``; this script installs exactly those (``npm ci``, no install scripts)
in a temporary folder, copies the files listed in :data:`FILES`, and writes
``vendor/MANIFEST.json`` with each package's version and each file's SHA-256, which
``tests/web/test_vendor.py`` checks against the lock file and the files on disk. To
upgrade a library: change its pin in package.json, run ``npm install
--package-lock-only --ignore-scripts`` in web/static, then this script, and commit all.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
VENDOR = STATIC / "vendor"

#: For each package, the files the pages use (paths inside the package), copied to
#: ``vendor/<package>/`` under their own names.
FILES = {
    "vis-timeline": [
        "standalone/umd/vis-timeline-graph2d.min.js",
        "styles/vis-timeline-graph2d.min.css",
        "LICENSE.MIT.txt",
    ],
    "leaflet": ["dist/leaflet.js", "dist/leaflet.css", "LICENSE"],
    "chart.js": ["dist/chart.umd.min.js", "LICENSE.md"],
    "dexie": ["dist/dexie.min.js", "LICENSE"],
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(STATIC / name, work / name)
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=work, check=True
        )
        manifest: dict[str, dict[str, object]] = {}
        shutil.rmtree(VENDOR, ignore_errors=True)
        for package, paths in FILES.items():
            installed = work / "node_modules" / package
            version = json.loads((installed / "package.json").read_text())["version"]
            target = VENDOR / package
            target.mkdir(parents=True)
            files = {}
            for path in paths:
                copied = target / Path(path).name
                shutil.copy(installed / path, copied)
                files[copied.name] = sha256(copied)
            manifest[package] = {"version": version, "files": files}
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    names = ", ".join(f"{package} {entry['version']}" for package, entry in manifest.items())
    print(f"vendored {names}")


if __name__ == "__main__":
    sys.exit(main())
