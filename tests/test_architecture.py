"""The package keeps the floors of docs/architecture.md.

Read from the source files (so it holds for the compiled modules too): every
module is placed on a floor; no module imports one of a higher floor; there
is no import loop; no function imports a project module (the way loops get
hidden); no Python module of arrayconv/ or backends/ runs over 500 lines.
"""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
SOURCE_FOLDERS = {"arrayconv": ROOT / "arrayconv", "arrayconv.backends": ROOT / "backends"}
MAX_LINES = 500

pytestmark = pytest.mark.skipif(
    not ARCHITECTURE.exists() or not (ROOT / "backends").is_dir(),
    reason="needs the source checkout (docs/architecture.md and the package sources beside the tests)",
)


def source_modules():
    """{module name: source file} of every .py and .pyx of the package."""
    modules = {}
    for package, folder in SOURCE_FOLDERS.items():
        for path in sorted(folder.rglob("*")):
            if path.suffix not in (".py", ".pyx") or "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def floors():
    """[(floor, [module patterns])] from the table in docs/architecture.md, top floor first."""
    rows = []
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].startswith("`"):
            rows.append((cells[0], re.findall(r"`([^`]+)`", cells[1])))
    return rows


def floor_of(module, table):
    """The index of the module's floor (0 = top); the most specific pattern wins."""
    best = None
    for index, (_, patterns) in enumerate(table):
        for pattern in patterns:
            if pattern == module:
                return index
            if pattern.endswith(".*") and module.startswith(pattern[:-1]):
                best = index
    return best


def package_of(module, path):
    return module if path.name.startswith("__init__") else module.rpartition(".")[0]


def imports(module, path, modules):
    """[(imported project module, line, inside a function)] of one source file."""
    if path.suffix == ".pyx":
        return []  # the kernels import only cimports and the standard library (checked below)
    tree = ast.parse(path.read_text())
    inside = set()
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside.update(id(node) for node in ast.walk(function) if node is not function)
    found = []
    package = package_of(module, path)
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            # `from package import name` imports the submodule when name is one
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        for target in targets:
            if target in modules and target != module:
                found.append((target, node.lineno, id(node) in inside))
    return found


MODULES = source_modules()
TABLE = floors()


def test_the_table_names_the_floors_in_order():
    assert [name for name, _ in TABLE] == ["entry", "paths", "planning", "execution", "support"]


def test_every_module_is_on_a_floor():
    unplaced = [module for module in MODULES if floor_of(module, TABLE) is None]
    assert not unplaced, f"place these in docs/architecture.md: {unplaced}"
    stale = [pattern for _, patterns in TABLE for pattern in patterns
             if not pattern.endswith(".*") and pattern not in MODULES]
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"


def upward_imports(modules):
    found = []
    for module, path in modules.items():
        for target, line, _ in imports(module, path, MODULES):
            if path.name.startswith("__init__") and target.startswith(module + "."):
                continue  # a package's own submodules
            if floor_of(target, TABLE) < floor_of(module, TABLE):
                found.append(f"{path.name}:{line} imports {target} "
                             f"({TABLE[floor_of(target, TABLE)][0]} is above {TABLE[floor_of(module, TABLE)][0]})")
    return found


def local_imports(modules):
    return [f"{path.name}:{line} imports {target}"
            for module, path in modules.items()
            for target, line, inside in imports(module, path, MODULES) if inside]


def test_no_module_imports_a_higher_floor():
    upward = upward_imports(MODULES)
    assert not upward, "\n".join(upward)


def test_no_function_imports_a_project_module():
    local = local_imports(MODULES)
    assert not local, "\n".join(local)


def test_no_import_loops():
    graph = {module: set() for module in MODULES}
    for module, path in MODULES.items():
        for target, _, _ in imports(module, path, MODULES):
            if not (path.name.startswith("__init__") and target.startswith(module + ".")):
                graph[module].add(target)
    state = {}  # 1: on the current path, 2: done

    def visit(module, trail):
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                loop = trail[trail.index(target):] + [target]
                pytest.fail("import loop: " + " -> ".join(loop))
            if target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_kernels_import_no_project_module():
    for path in MODULES.values():
        if path.suffix == ".pyx":
            text = path.read_text()
            assert not re.search(r"^\s*(from|import)\s+arrayconv", text, re.MULTILINE), path


def test_no_module_is_over_500_lines():
    """The Python modules; the Cython kernels (backends/*.pyx) are left out."""
    long = {str(path.relative_to(ROOT)): count for path in MODULES.values()
            if path.suffix == ".py" and (count := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these by job: {long}"


def test_the_checks_see_a_violation(tmp_path):
    """A support module importing the entry floor, at the top and inside a function, is caught."""
    fake = tmp_path / "padding.py"
    fake.write_text("from . import functional\n\ndef f():\n    from arrayconv.shape import conv_spec\n")
    modules = {"arrayconv.padding": fake}
    assert upward_imports(modules) == [
        "padding.py:1 imports arrayconv.functional (entry is above support)",
        "padding.py:4 imports arrayconv.shape.conv_spec (planning is above support)",
    ]
    assert local_imports(modules) == ["padding.py:4 imports arrayconv.shape.conv_spec"]
