"""The install steps say what they do, and the docs name what the code defines (issue 20.8, 20.9)."""

import re
import subprocess
from pathlib import Path

from orchestration.quality.gates import RESULT_COLUMNS

ROOT = Path(__file__).resolve().parents[2]


def dry_run(*targets: str) -> str:
    """What make would run on a fresh machine (-B: as if nothing were built; -n: print only)."""
    out = subprocess.run(
        ["make", "-n", "-B", *targets, "VENV=/nonexistent/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_install_says_what_it_installs_and_shows_pip_progress():
    steps = dry_run("install")
    pip_lines = [line for line in steps.splitlines() if "pip install" in line]
    assert len(pip_lines) == 2 and not any("--quiet" in line or " -q" in line for line in pip_lines)
    announced = [line for line in steps.splitlines() if line.startswith('echo "==>')]
    assert len(announced) >= 3  # venv, pip, the project's dependencies
    assert any("virtual environment" in line for line in steps.splitlines())


def test_browser_step_names_the_system_packages_it_installs():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    packages = re.search(r"^BROWSER_PKGS \?= (.+)$", makefile, re.M).group(1).split()
    recipe = makefile[makefile.index("\nbrowser:") : makefile.index("\ntest:")]
    assert "-qq" not in recipe and ">/dev/null;" not in recipe.replace(">/dev/null 2>&1;", "")
    assert "installing system packages with apt" in recipe
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    two_commands = readme[
        readme.index("## Two commands") : readme.index("## Running it on your data")
    ]
    assert " ".join(packages) in two_commands and "system packages" in two_commands
    assert re.search(r"\d+(\.\d+)? minutes and \d+(\.\d+)? GB", two_commands)


def test_architecture_names_the_dq_results_columns_that_exist():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = re.search(r"`raw\.dq_results\(([^)]*)\)`", doc, re.S).group(1)
    assert [c.strip() for c in listed.split(",")] == [name for name, _ in RESULT_COLUMNS]
