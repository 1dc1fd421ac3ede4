"""The distribution as a user gets it: build the wheel, install it into a fresh venv, run the CLI."""

from __future__ import annotations

import json
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, repo) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(repo)],
                   check=True, capture_output=True, timeout=300)
    (whl,) = out.glob("*.whl")
    return whl


def test_wheel_holds_the_three_packages_policies_and_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "catalyst/__init__.py" in names
    assert "catalyst_agents/nodes.py" in names
    assert "catalyst_checks/basic.py" in names
    assert "catalyst/_policies/default.yaml" in names
    assert "catalyst/data/demo.jsonl" in names
    assert not any(n.startswith(("agents/", "checks/")) for n in names), "no top-level agents/ or checks/"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[catalyst.checks]" in text and "non_empty = catalyst_checks.basic:NonEmpty" in text


def test_wheel_installs_and_validates_in_a_fresh_venv(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300)
    # The heavy dependencies (torch...) come from the environment running the tests, appended after the fresh
    # venv's own site-packages (so the wheel wins). Not the base interpreter's site-packages: in a brand-new
    # virtualenv on a fresh machine that one is empty.
    (inner_site,) = (env_dir / "lib").glob("python3*/site-packages")
    (inner_site / "_outer_env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    where = subprocess.run([str(py), "-c", "import catalyst, catalyst_checks; print(catalyst.__file__);"
                            "print(catalyst_checks.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path)
    assert all(str(env_dir) in line for line in where.stdout.split()), where.stdout
    cli = env_dir / "bin" / "catalyst"
    assert subprocess.run([str(cli), "--help"], capture_output=True, text=True, check=True).stdout.count("validate")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "w-1", "output": "Paris is the capital of France."}) + "\n")
    out = tmp_path / "out.jsonl"
    run = subprocess.run([str(cli), "validate", str(src), "--db", str(tmp_path / "w.duckdb"), "--out", str(out)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    verdict = json.loads(out.read_text())
    assert verdict["id"] == "w-1" and verdict["decision"] in {"accept", "review", "block", "retry"}
    assert verdict["policy"].startswith("default@")
