"""Static checks of the addon's files: what makes an install fail before any code runs.

Odoo reports these problems only at install time, one at a time ("External ID not found",
"File not found", a JS bundle that breaks the whole web client). Checking them here,
without Odoo, catches them in seconds.
"""

import ast
import csv
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from lxml import etree

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDON_NAME = "odoo_ha_addon"
MANIFEST_PATH = REPO_ROOT / "__manifest__.py"
ACCESS_CSV_PATH = REPO_ROOT / "security" / "ir.model.access.csv"
ACCESS_CSV_HEADER = [
    "id",
    "name",
    "model_id:id",
    "group_id:id",
    "perm_read",
    "perm_write",
    "perm_create",
    "perm_unlink",
]
# Folders whose XML files Odoo loads as data; each such file must be in the manifest.
DATA_DIRS = ("views", "security", "data", "report", "wizard", "demo")
# Pure packages: no odoo import, importable as top-level packages by the standalone tier, and
# type-checked by mypy (pyproject.toml).
PURE_PACKAGES = ("hass", "policy", "usage", "placement", "automation", "odoo_ha_client")
# Python that is not part of the Odoo module itself.
NON_ODOO_PYTHON_DIRS = (*PURE_PACKAGES, "tests", "docker", ".ci", "bench")
# Layers below the models: models/ imports them, they never import models/.
BELOW_MODELS = (*PURE_PACKAGES, "connector")
ADDON_MODULE = f"odoo.addons.{ADDON_NAME}"
REQUIRED_DEPENDS = {"base", "web", "mail", "bus"}
REQUIRED_PYTHON_DEPENDENCIES = {"websockets", "requests"}
ODOO_LICENSES = {
    "GPL-2",
    "GPL-2 or any later version",
    "GPL-3",
    "GPL-3 or any later version",
    "AGPL-3",
    "LGPL-3",
    "Other OSI approved licence",
    "OEEL-1",
    "OPL-1",
    "Other proprietary",
}
MANIFEST_VERSION_RE = re.compile(r"^18\.0\.\d+\.\d+\.\d+$")
# ref('xml_id') inside eval attributes and %(xml_id)d inside button names / contexts.
EVAL_REF_RE = re.compile(r"""ref\(\s*['"]([\w.]+)['"]\s*\)""")
PERCENT_REF_RE = re.compile(r"%\(([\w.]+)\)[ds]")
ASSET_DIRECTIVES_WITH_TARGET = {"after", "before", "replace"}
ASSET_DIRECTIVES = {"include", "remove", "prepend", *ASSET_DIRECTIVES_WITH_TARGET}


def _addon_files(pattern):
    return sorted(
        path
        for path in REPO_ROOT.glob(pattern)
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(REPO_ROOT).parts)
    )


@pytest.fixture(scope="module")
def manifest():
    assert MANIFEST_PATH.is_file(), "__manifest__.py is missing at the repository root"
    source = MANIFEST_PATH.read_text(encoding="utf-8")
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError) as exc:
        pytest.fail(
            f"__manifest__.py is not a literal dict (Odoo reads it with literal_eval): {exc}"
        )
    assert isinstance(value, dict), "__manifest__.py must be a dict"
    return value


def _data_files(manifest):
    return [*manifest.get("data", []), *manifest.get("demo", [])]


def test_manifest_metadata(manifest):
    assert MANIFEST_VERSION_RE.match(manifest.get("version", "")), (
        f"version {manifest.get('version')!r} is not 18.0.x.y.z"
    )
    assert manifest.get("license") in ODOO_LICENSES, f"license {manifest.get('license')!r}"
    missing_depends = REQUIRED_DEPENDS - set(manifest.get("depends", []))
    assert not missing_depends, f"depends lacks {sorted(missing_depends)}"
    python_dependencies = set(manifest.get("external_dependencies", {}).get("python", []))
    missing_python = REQUIRED_PYTHON_DEPENDENCIES - python_dependencies
    assert not missing_python, f"external_dependencies['python'] lacks {sorted(missing_python)}"
    assert manifest.get("installable", True), "the addon is marked not installable"


def test_readme_is_not_rendered_as_restructuredtext(manifest):
    """Without a description of its own, Odoo renders README.md as reStructuredText at
    install and logs a warning for every Markdown construct docutils does not understand."""
    has_own_description = (
        (REPO_ROOT / "static" / "description" / "index.html").is_file()
        or manifest.get("description")
        or manifest.get("application")
    )
    assert has_own_description, (
        "add static/description/index.html (or a manifest 'description') so Odoo does not "
        "parse README.md as reStructuredText"
    )


def test_manifest_data_files_exist(manifest):
    missing = [name for name in _data_files(manifest) if not (REPO_ROOT / name).is_file()]
    assert not missing, f"files listed in the manifest do not exist: {missing}"


def test_every_data_xml_is_listed_in_manifest(manifest):
    listed = {str(Path(name)) for name in _data_files(manifest)}
    unlisted = [
        str(path.relative_to(REPO_ROOT))
        for directory in DATA_DIRS
        for path in _addon_files(f"{directory}/**/*.xml")
        if str(path.relative_to(REPO_ROOT)) not in listed
    ]
    assert not unlisted, f"XML files Odoo will never load (not in the manifest): {unlisted}"


def _asset_paths(entry):
    """The file globs an assets entry adds or names, and whether they must exist."""
    if isinstance(entry, str):
        return [entry]
    directive, *args = entry
    assert directive in ASSET_DIRECTIVES, f"unknown asset directive {directive!r}"
    if directive == "include":
        return []  # a bundle name, not a path
    if directive in ASSET_DIRECTIVES_WITH_TARGET:
        return args[1:]
    return args


def test_manifest_assets_resolve(manifest):
    assets = manifest.get("assets", {})
    problems = []
    for bundle, entries in assets.items():
        for entry in entries:
            for pattern in _asset_paths(entry):
                module, _, relative = pattern.lstrip("/").partition("/")
                if module != ADDON_NAME:
                    continue  # another module's file: Odoo's own business
                if not _addon_files(relative):
                    problems.append(f"{bundle}: {pattern!r} matches no file")
    assert not problems, "\n".join(problems)


def _parse_xml(path):
    try:
        return etree.parse(str(path))
    except etree.XMLSyntaxError as exc:
        pytest.fail(f"{path.relative_to(REPO_ROOT)} is not well-formed XML: {exc}")


def test_all_xml_files_parse():
    paths = _addon_files("**/*.xml")
    for path in paths:
        _parse_xml(path)


# ---------------------------------------------------------------- models and XML ids


def _string_values(node):
    """The strings of a str constant or a list/tuple of them (for _name, _inherit)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [item.value for item in node.elts if isinstance(item, ast.Constant)]
    return []


def _new_model_classes():
    """One dict per class of the Odoo module that creates a model (`_name` not inherited)."""
    classes = []
    for path in _addon_files("**/*.py"):
        if path.relative_to(REPO_ROOT).parts[0] in NON_ODOO_PYTHON_DIRS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            kind = next(
                (
                    base.attr
                    for base in node.bases
                    if isinstance(base, ast.Attribute)
                    and base.attr in ("Model", "TransientModel", "AbstractModel")
                ),
                None,
            )
            attributes = {
                target.id: statement.value
                for statement in node.body
                if isinstance(statement, ast.Assign)
                for target in statement.targets
                if isinstance(target, ast.Name)
            }
            names = _string_values(attributes.get("_name"))
            if kind is None or not names or names[0] in _string_values(attributes.get("_inherit")):
                continue
            classes.append(
                {
                    "name": names[0],
                    "kind": kind,
                    "has_description": "_description" in attributes,
                    "where": f"{path.relative_to(REPO_ROOT)}:{node.lineno}",
                }
            )
    return classes


def _python_models():
    """{model name: class kind} for every model the Odoo module creates."""
    return {model["name"]: model["kind"] for model in _new_model_classes()}


def _model_xml_id(model_name):
    return "model_" + model_name.replace(".", "_")


def _strip_own_prefix(xml_id):
    return xml_id.removeprefix(f"{ADDON_NAME}.")


def _is_own(xml_id):
    return "." not in _strip_own_prefix(xml_id)


def _refs_in_element(element):
    """The XML ids one element of a data file refers to."""
    refs = []
    for attribute in {
        "field": ("ref",),
        "menuitem": ("parent", "action"),
        "template": ("inherit_id",),
    }.get(element.tag, ()):
        if element.get(attribute):
            refs.append(element.get(attribute))
    for attribute, value in element.attrib.items():
        if attribute == "eval":
            refs += EVAL_REF_RE.findall(value)
        elif attribute == "groups":
            refs += [group.strip().lstrip("!") for group in value.split(",") if group.strip()]
        refs += PERCENT_REF_RE.findall(value)  # button name="%(action_id)d", contexts
    return refs


def _ids_defined_by_element(element):
    if element.tag in ("record", "template", "menuitem", "report") and element.get("id"):
        return [element.get("id")]
    return []


def _access_csv_rows():
    assert ACCESS_CSV_PATH.is_file(), "security/ir.model.access.csv is missing"
    with ACCESS_CSV_PATH.open(encoding="utf-8", newline="") as csv_file:
        reader = csv.DictReader(csv_file)
        rows = [row for row in reader if any((value or "").strip() for value in row.values())]
        return reader.fieldnames or [], rows


def _check_csv_refs(name, path, defined, problems):
    with path.open(encoding="utf-8", newline="") as csv_file:
        for row in csv.DictReader(csv_file):
            for column, value in row.items():
                own_ref = column and column.endswith(":id") and value and _is_own(value)
                if own_ref and _strip_own_prefix(value) not in defined:
                    problems.append(f"{name}: {column} {value!r} is not defined before")
            if row.get("id"):
                defined.add(_strip_own_prefix(row["id"]))


def _inside_view_or_template(element):
    return any(
        ancestor.tag == "template" or (ancestor.tag == "field" and ancestor.get("name") == "arch")
        for ancestor in element.iterancestors()
    )


def _check_xml_refs(name, path, defined, problems):
    for element in _parse_xml(path).iter():
        if not isinstance(element.tag, str):
            continue  # comments, processing instructions
        if element.get("groups") and _inside_view_or_template(element):
            # Odoo resolves these at view validation / rendering, outside the module's
            # namespace: "group_x" would not be found, only "module.group_x".
            unqualified = [
                group.strip()
                for group in element.get("groups").split(",")
                if group.strip() and "." not in group
            ]
            if unqualified:
                problems.append(
                    f"{name}:{element.sourceline}: groups {unqualified} inside a view or "
                    f"template must be written with their module, e.g. {ADDON_NAME}.group_x"
                )
        for ref in _refs_in_element(element):
            if _is_own(ref) and _strip_own_prefix(ref) not in defined:
                problems.append(
                    f"{name}:{element.sourceline}: <{element.tag}> refers to {ref!r}, "
                    "which no earlier data file or record defines"
                )
        defined.update(_strip_own_prefix(xml_id) for xml_id in _ids_defined_by_element(element))


def test_xml_references_are_defined_before_use(manifest):
    """Odoo loads data files in manifest order; a ref to a later or missing id fails."""
    defined = {_model_xml_id(name) for name in _python_models()}
    problems = []
    for name in _data_files(manifest):
        path = REPO_ROOT / name
        if path.suffix == ".csv" and path.is_file():
            _check_csv_refs(name, path, defined, problems)
        elif path.suffix == ".xml" and path.is_file():
            _check_xml_refs(name, path, defined, problems)
    assert not problems, "\n".join(problems)


def test_access_csv_header_models_and_groups(manifest):
    header, rows = _access_csv_rows()
    assert header == ACCESS_CSV_HEADER, f"unexpected header {header}"
    own_models = {_model_xml_id(name) for name in _python_models()}
    problems = []
    for row in rows:
        model = row["model_id:id"]
        if _is_own(model) and _strip_own_prefix(model) not in own_models:
            problems.append(f"{row['id']}: model {model!r} is not declared by any _name")
        for permission in ("perm_read", "perm_write", "perm_create", "perm_unlink"):
            if row[permission] not in ("0", "1"):
                problems.append(f"{row['id']}: {permission} is {row[permission]!r}, not 0/1")
    assert not problems, "\n".join(problems)


def test_every_new_model_has_a_description():
    """Odoo logs a warning for each model without _description."""
    missing = [
        f"{model['name']} ({model['where']})"
        for model in _new_model_classes()
        if not model["has_description"]
    ]
    assert not missing, f"models without _description: {missing}"


def test_every_stored_model_has_access_rules():
    """Odoo warns at install about a model without access rules; we want a clean install."""
    _header, rows = _access_csv_rows()
    covered = {_strip_own_prefix(row["model_id:id"]) for row in rows}
    missing = [
        name
        for name, kind in sorted(_python_models().items())
        if kind != "AbstractModel" and _model_xml_id(name) not in covered
    ]
    assert not missing, f"models without a line in ir.model.access.csv: {missing}"


# ---------------------------------------------------------------- JavaScript

# One node process parses every file as an ES module (Odoo's JS files are modules) and
# prints {"file": "error message"} for the ones that do not parse.
NODE_PARSE_SCRIPT = r"""
const fs = require("fs");
const vm = require("vm");
const errors = {};
for (const file of process.argv.slice(1)) {
    try {
        new vm.SourceTextModule(fs.readFileSync(file, "utf8"), { identifier: file });
    } catch (error) {
        errors[file] = String(error && error.message);
    }
}
process.stdout.write(JSON.stringify(errors));
"""


def _parse_js(paths):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: it is needed to check that the addon's JS parses")
    result = subprocess.run(
        [
            node,
            "--experimental-vm-modules",
            "--no-warnings",
            "-e",
            NODE_PARSE_SCRIPT,
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"node failed: {result.stderr}"
    return json.loads(result.stdout)


def test_node_reports_syntax_errors(tmp_path):
    """The JS check itself: a broken module is reported, a valid one is not."""
    good = tmp_path / "good.js"
    good.write_text(
        'import { Component } from "@odoo/owl";\nexport class A extends Component {\n'
        "    static template = 'x';\n}\n"
    )
    bad = tmp_path / "bad.js"
    bad.write_text("export const a = ;\n")
    errors = _parse_js([good, bad])
    assert set(errors) == {str(bad)}


def test_javascript_parses():
    paths = _addon_files("static/src/**/*.js") + _addon_files("static/tests/**/*.js")
    assert paths, "no JavaScript under static/src"
    errors = _parse_js(paths)
    assert not errors, "\n".join(f"{file}: {message}" for file, message in errors.items())


# ---------------------------------------------------------------- pure packages


def test_pure_packages_are_type_checked():
    """Every pure package, and only those, is in mypy's files (.ci/run runs mypy)."""
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert sorted(config["tool"]["mypy"]["files"]) == sorted(PURE_PACKAGES)


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_package_is_independent_of_odoo(package):
    """The pure packages run as top-level packages (pytest) and inside Odoo: no odoo, no
    absolute self-import."""
    paths = _addon_files(f"{package}/**/*.py")
    assert paths, f"{package}/ has no Python files"
    problems = []
    for path in paths:
        relative = path.relative_to(REPO_ROOT)
        depth = len(relative.parts) - 1  # packages between the repo root and the file
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            elif isinstance(node, ast.ImportFrom):
                if node.level > depth:
                    problems.append(f"{relative}:{node.lineno}: relative import leaves {package}/")
                continue
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top == "odoo":
                    problems.append(f"{relative}:{node.lineno}: imports {module}")
                elif top == package:
                    problems.append(
                        f"{relative}:{node.lineno}: absolute import of {module}; use a relative "
                        f"import (inside Odoo the package is odoo.addons.odoo_ha_addon.{package})"
                    )
    assert not problems, "\n".join(problems)


def _imported_modules(source, relative):
    """(line, absolute module name) of every import in ``source``, the file at ``relative``
    in the addon, anywhere in it (run-time imports inside functions too); relative imports
    are resolved to ``odoo.addons.odoo_ha_addon....``."""
    package = list(relative.parts[:-1])
    for node in ast.walk(ast.parse(source, filename=str(relative))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.lineno, node.module or ""
        elif isinstance(node, ast.ImportFrom):
            anchor = [ADDON_MODULE, *package[: len(package) - (node.level - 1)]]
            if node.module:
                yield node.lineno, ".".join([*anchor, node.module])
            else:  # from .. import models: the names are modules
                for alias in node.names:
                    yield node.lineno, ".".join([*anchor, alias.name])


def _models_imports(source, relative):
    models = f"{ADDON_MODULE}.models"
    return [
        f"{relative}:{line}: imports {module}"
        for line, module in _imported_modules(source, relative)
        if module == models or module.startswith(f"{models}.")
    ]


def test_models_import_finder():
    relative = Path("connector/state_writer.py")
    found = _models_imports(
        "from ..models.ha_entity import split_domains\n"
        "from .. import models\n"
        "def f():\n"
        "    from odoo.addons.odoo_ha_addon.models import ha_instance\n"
        "from odoo.addons.bus.models.bus import ODOO_NOTIFY_FUNCTION\n"
        "from .orm import InstanceOrm\n"
        "from .. import hass\n",
        relative,
    )
    assert [problem.split(": ", 1)[0] for problem in found] == [
        "connector/state_writer.py:1",
        "connector/state_writer.py:2",
        "connector/state_writer.py:4",
    ]


@pytest.mark.parametrize("package", BELOW_MODELS)
def test_package_does_not_import_models(package):
    """The runtime and the pure packages are layers below the models: what both need (settings
    keys, pure functions) lives down here, and the connector reaches the ORM at run time by
    model name only (connector/orm.py)."""
    paths = _addon_files(f"{package}/**/*.py")
    assert paths, f"{package}/ has no Python files"
    problems = []
    for path in paths:
        relative = path.relative_to(REPO_ROOT)
        problems += _models_imports(path.read_text(encoding="utf-8"), relative)
    assert not problems, "\n".join(problems)
