"""pip-audit against the installed environment, or a clear line saying why it could not run.

pip-audit asks PyPI's JSON API for each installed package's known vulnerabilities. Where
that API is unreachable (no network, or a mirror that serves only the package index), it
reports every package as "not found on PyPI" and then "No known vulnerabilities found",
exiting 0: a silent pass. So a probe asks the API about one installed package first (a short
timeout); if it does not answer with vulnerability data, this prints
"pip-audit skipped: vulnerability database unreachable (<reason>)" and exits 0. Otherwise
pip-audit runs, and any vulnerability found, or a run that audited nothing, exits 1.

Run with the environment's interpreter: `.venv/bin/python .ci/pip_audit.py`."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from importlib.metadata import version
from typing import Any

PROBE_PACKAGE = "Django"
PROBE_URL = "https://pypi.org/pypi/{name}/{version}/json"
PROBE_TIMEOUT = 10  # seconds
AUDIT_TIMEOUT = 600  # seconds, the whole run


def unreachable_reason() -> str | None:
    """None when the vulnerability API answers; else why not, in a few words."""
    url = PROBE_URL.format(name=PROBE_PACKAGE, version=version(PROBE_PACKAGE))
    try:
        # A fixed https URL: no file:// or other scheme can reach it.
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:  # noqa: S310  # nosec B310
            body = json.load(response)
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code} from {url}"
    except urllib.error.URLError as error:
        return f"{url}: {error.reason}"
    except (TimeoutError, OSError) as error:
        return f"{url}: {error}"
    except ValueError:
        return f"{url} did not answer JSON"
    if not isinstance(body, dict) or "vulnerabilities" not in body:
        return f"{url} answered without vulnerability data"
    return None


def verdict(report: dict[str, Any]) -> tuple[int, list[str]]:
    """The exit status and the lines to print for pip-audit's JSON report."""
    dependencies = report.get("dependencies", [])
    audited = [d for d in dependencies if "skip_reason" not in d]
    vulnerable = [d for d in audited if d.get("vulns")]
    lines = [
        f"  {d['name']} {d['version']}: {v['id']} (fixed in {fixed})"
        for d in vulnerable
        for v in d["vulns"]
        for fixed in [", ".join(v.get("fix_versions", [])) or "no release yet"]
    ]
    skipped = len(dependencies) - len(audited)
    summary = f"pip-audit: {len(audited)} packages audited, {skipped} skipped"
    if vulnerable:
        count = sum(len(d["vulns"]) for d in vulnerable)
        return 1, [f"{summary}, {count} known vulnerabilities:", *lines]
    if not audited:
        return 1, [f"{summary}: nothing was audited, so this is no pass"]
    return 0, [f"{summary}, no known vulnerabilities"]


def main() -> int:
    reason = unreachable_reason()
    if reason is not None:
        print(f"pip-audit skipped: vulnerability database unreachable ({reason})")
        return 0
    command = [sys.executable, "-m", "pip_audit", "--local", "--skip-editable"]
    command += ["--format", "json", "--progress-spinner", "off", "--timeout", "15"]
    run = subprocess.run(  # noqa: S603  # nosec B603 - a fixed command, no shell
        command, capture_output=True, text=True, timeout=AUDIT_TIMEOUT, check=False
    )
    try:
        report = json.loads(run.stdout)
    except ValueError:
        sys.stderr.write(run.stderr)
        print(f"pip-audit failed (exit {run.returncode}) without a report")
        return run.returncode or 1
    status, lines = verdict(report)
    print("\n".join(lines))
    return status


if __name__ == "__main__":
    sys.exit(main())
