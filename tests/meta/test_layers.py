"""No import circle among the suite's modules (import-linter's layer contracts check the direction between
packages, in .ci/run; this checks every module, functions' imports included)."""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the dev extra)")


def test_no_module_of_the_suite_imports_itself_back():
    graph = grimp.build_graph("conformance")
    edges = {m: {i for i in graph.find_modules_directly_imported_by(m) if i.startswith("conformance")}
             for m in graph.modules}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        path.append(module)
        for other in sorted(edges.get(module, ())):
            if state.get(other) == 1:
                circles.append(path[path.index(other):] + [other])
            elif other not in state:
                visit(other, path)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert not circles, "\n".join(" -> ".join(c) for c in circles)
