import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))


def pytest_addoption(parser):
    parser.addoption("--binary", default=str(ROOT / "build" / "release" / "benches" / "conpat_bench"),
                     help="conpat_bench to drive")


@pytest.fixture
def binary(request):
    path = Path(request.config.getoption("--binary"))
    if not path.is_file():
        pytest.fail(f"{path} is not built")
    return path
