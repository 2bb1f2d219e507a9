"""Dependency audit for CI: fail on a known vulnerability that has a fix (Python: pip-audit; web UI: npm audit).

PyPI's advisory data carries no severity, so every fixable Python finding fails; npm findings fail from `high` up.
When the npm registry in use offers no audit endpoint, that half is reported as skipped, not as a pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent  # run with the venv's python (make audit)


def python_findings() -> list[str]:
    out = subprocess.run(
        [str(VENV_BIN / "pip-audit"), "-l", "--format", "json", "--progress-spinner", "off"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if not out.stdout.strip():
        raise SystemExit(f"pip-audit produced no report:\n{out.stderr[-2000:]}")
    report = json.loads(out.stdout)
    return [
        f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in {', '.join(vuln['fix_versions'])})"
        for dep in report["dependencies"]
        for vuln in dep.get("vulns", [])
        if vuln.get("fix_versions")
    ]


def npm_findings() -> list[str] | None:
    out = subprocess.run(
        ["npm", "audit", "--omit=dev", "--json"], cwd=ROOT / "frontend", capture_output=True, text=True, check=False
    )
    try:
        report = json.loads(out.stdout or "{}")
    except ValueError:
        report = {}
    if "vulnerabilities" not in report:
        return None  # the registry answered no audit (e.g. a mirror without the endpoint)
    return [
        f"{name}: {info['severity']}"
        for name, info in report["vulnerabilities"].items()
        if info.get("severity") in ("high", "critical") and info.get("fixAvailable")
    ]


def main() -> int:
    failures = python_findings()
    print(f"pip-audit: {len(failures)} fixable finding(s)")
    npm = npm_findings()
    if npm is None:
        print("npm audit: the registry offers no audit endpoint here; skipped")
    else:
        print(f"npm audit: {len(npm)} fixable high/critical finding(s)")
        failures += npm
    for line in failures:
        print("  " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
