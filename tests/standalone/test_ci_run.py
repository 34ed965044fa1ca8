""".ci/run builds the Odoo tier's virtualenv on top of the interpreter that imports Odoo; many
users install Odoo in a virtualenv: the packages of that virtualenv must stay importable."""

import re
import subprocess
import sys
import venv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _functions(*names):
    """The bash source of the named functions of .ci/run."""
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    return "\n".join(
        re.search(rf"^{name}\(\) {{\n.*?^}}\n", text, re.S | re.M).group(0) for name in names
    )


def test_the_odoo_tier_virtualenv_sees_a_user_virtualenvs_packages(tmp_path):
    user_venv = tmp_path / "user-venv"
    venv.create(user_venv, with_pip=False)
    site_packages = Path(
        subprocess.check_output(
            [
                user_venv / "bin" / "python",
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            text=True,
        ).strip()
    )
    # A package installed in the user's virtualenv, and one it finds through a .pth file (as
    # an Odoo source checkout often is).
    (site_packages / "only_in_user_venv").mkdir()
    (site_packages / "only_in_user_venv" / "__init__.py").write_text("")
    checkout = tmp_path / "checkout"
    (checkout / "via_user_pth").mkdir(parents=True)
    (checkout / "via_user_pth" / "__init__.py").write_text("")
    (site_packages / "checkout.pth").write_text(f"{checkout}\n")

    tier_venv = tmp_path / "tier-venv"
    script = "\n".join(
        [
            'log() { :; }; pip_run() { :; }; WORK_DIR="$3"',
            _functions("base_site_dirs", "build_odoo_venv"),
            'build_odoo_venv "$1" "$2"',
        ]
    )
    subprocess.run(
        [
            "bash",
            "-c",
            script,
            "bash",
            str(tier_venv),
            str(user_venv / "bin" / "python"),
            str(tmp_path),
        ],
        check=True,
    )
    result = subprocess.run(
        [tier_venv / "bin" / "python", "-c", "import only_in_user_venv, via_user_pth"],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tier_venv / ".complete").exists()


def test_a_system_interpreter_adds_nothing(tmp_path):
    script = "\n".join(['WORK_DIR="$2"', _functions("base_site_dirs"), 'base_site_dirs "$1"'])
    output = subprocess.run(
        ["bash", "-c", script, "bash", sys._base_executable, str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert output == ""


def test_the_lint_versions_of_ci_and_pre_commit_agree():
    """`.ci/run` and the pre-commit hooks check with the same ruff, prettier, eslint, mypy and
    pylint-odoo."""
    pre_commit = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    revs = {
        repo["repo"].rsplit("/", 1)[-1]: repo["rev"]
        for repo in pre_commit["repos"]
        if "rev" in repo
    }
    pins = dict(
        line.split("==")
        for line in (ROOT / ".ci" / "lint-requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    prettier = re.search(r'^PRETTIER_VERSION="([^"]+)"$', run, re.M).group(1)
    eslint = re.search(r'^ESLINT_VERSION="([^"]+)"$', run, re.M).group(1)
    assert revs["ruff-pre-commit"] == f"v{pins['ruff']}"
    assert revs["mirrors-prettier"] == f"v{prettier}"
    (local,) = [repo for repo in pre_commit["repos"] if repo["repo"] == "local"]
    (eslint_hook,) = [hook for hook in local["hooks"] if hook["id"] == "eslint"]
    assert eslint_hook["additional_dependencies"] == [f"eslint@{eslint}"]
    (mypy,) = [hook for hook in local["hooks"] if hook["id"] == "mypy"]
    for name in ("mypy", "types-requests"):
        assert f"{name}=={pins[name]}" in mypy["additional_dependencies"]
    (pylint,) = [hook for hook in local["hooks"] if hook["id"] == "pylint-odoo"]
    for name in ("pylint-odoo", "pylint"):
        assert f"{name}=={pins[name]}" in pylint["additional_dependencies"]


def test_each_failing_lint_check_fails_the_standalone_tier(tmp_path):
    """run_lint names every check that reported something and fails the tier."""
    # Stands for the virtualenv's python: `python -m <tool> ...` fails for the tool in $FAIL.
    python = tmp_path / "python"
    python.write_text('#!/bin/sh\n[ "$2" = "$FAIL" ] && exit 1\nexit 0\n')
    python.chmod(0o755)
    script = "\n".join(
        [
            'log() { :; }; WORK_DIR="$2"; STANDALONE_STATUS=0',
            _functions("run_lint"),
            'run_lint "$1"; echo "status=$STANDALONE_STATUS"',
        ]
    )
    passed = "lint: passed (ruff check, ruff format, prettier, eslint, mypy, pylint-odoo)"
    # (the tool python fails for, prettier, eslint, verdict, status)
    cases = [
        ("none", "true", "true", passed, 0),
        ("mypy", "true", "true", "lint: FAILED (mypy)", 1),
        ("pylint", "true", "true", "lint: FAILED (pylint-odoo)", 1),
        ("none", "true", "false", "lint: FAILED (eslint)", 1),
        ("ruff", "false", "true", "lint: FAILED (ruff check, ruff format, prettier)", 1),
    ]
    for fail, prettier, eslint, verdict, status in cases:
        output = subprocess.run(
            ["bash", "-c", script, "bash", str(python), str(tmp_path)],
            env={"PATH": "/usr/bin:/bin", "FAIL": fail, "PRETTIER": prettier, "ESLINT": eslint},
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        assert output[-2:] == [verdict, f"status={status}"], (fail, prettier, eslint)
