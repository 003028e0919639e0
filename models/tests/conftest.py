import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "train"))


def _target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


@pytest.fixture(scope="session")
def features_cli() -> Path:
    """The detect crate's `dashledger-features` binary (built with cargo if not there yet)."""
    exe = _target_dir() / "debug" / "dashledger-features"
    if not exe.exists():
        cargo = shutil.which("cargo")
        assert cargo, "cargo not found: needed to build dashledger-features for the parity tests"
        subprocess.run([cargo, "build", "-p", "dashledger-detect", "--bins"], cwd=ROOT, check=True)
    assert exe.exists(), f"{exe} not built"
    return exe
