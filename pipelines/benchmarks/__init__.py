"""Benchmark scripts (run by hand, never timed in tests)."""

import json
import os
import subprocess
import sys
from typing import Any

from pipelines.config import PROJECT_ROOT


def run_child(module: str, *args: str) -> dict[str, Any]:
    """Run ``module`` in a fresh interpreter (its own peak memory); return its last JSON line."""
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False, env=os.environ
    )
    if done.returncode:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"{' '.join(command)} failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])
