"""The command line: one line `error: ...` and exit status 2 for every user error, never a traceback."""


import pytest

from efnn_core import cli

USER_ERRORS = [
    (["data", "verify", "no_such_set"], "no dataset"),
    (["train", "--init", "no/such/checkpoint", "--quiet"], "neither a checkpoint"),
    (["evaluate", "--model", "no_such_model"], "neither a checkpoint"),
    (["evaluate", "--model", "de_efnn_c3_n1", "--L", "17"], "no shipped double_exchange test set at L=17"),
    (["evaluate", "--model", "de_efnn_c3_n1", "--latency-samples", "-3"], "--latency-samples must be >= 0"),
    (["evaluate", "--model", "de_efnn_c3_n1", "--dataset", "three_spin_binary_test"], "is three_spin_binary"),
    (["fit-effective", "--validation", "999999", "--out", "x"], "--validation 999999"),
    (["train", "--system", "heisenberg", "--train-dataset", "de_L10_test", "--quiet"], "is for double_exchange"),
]


@pytest.mark.parametrize("argv,message", USER_ERRORS, ids=[" ".join(a[:2]) + f" {i}" for i, (a, _) in
                                                           enumerate(USER_ERRORS)])
def test_user_errors_are_one_line_and_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err and "Traceback" not in err


def test_reproduce_refuses_a_file_as_out_before_working(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert cli.main(["reproduce", "--out", str(f)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_every_command_module_is_listed_and_has_help():
    parser = cli.build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert {c.replace("_", "-") for c in cli.COMMANDS} == names


def _module_graph():
    """efnn_core module -> efnn_core modules it imports (at any depth of the file), from the source."""
    import ast
    from pathlib import Path

    import efnn_core

    root = Path(efnn_core.__file__).resolve().parent
    graph = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        pkg = parts if path.name == "__init__.py" else parts[:-1]
        if path.name == "__init__.py":
            parts = parts[:-1]
        name = ".".join(parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = pkg[: len(pkg) - node.level + 1] if node.level else []
                mod = ".".join(base + (node.module.split(".") if node.module else []))
                deps.add(mod)
                deps.update(f"{mod}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d.startswith("efnn_core")}
    return {k: {d for d in v if d in graph and d != k} for k, v in graph.items()}


def test_no_import_cycle_in_efnn_core():
    """No module imports (directly or through others) a module that imports it back, counting
    imports inside functions too, except a package importing its own submodules."""
    graph = _module_graph()
    for k in graph:  # a package's __init__ importing its submodules is structure, not a cycle
        graph[k] = {d for d in graph[k] if not d.startswith(k + ".")}
    state = {}

    def visit(n, stack):
        state[n] = 1
        for d in graph[n]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [d])
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n, [n])
