"""The shape of the packages, read from the source: no import cycle, and ``shop`` (the core)
never imports what is built on it.

Only imports run when a module is imported count: those at module level, including inside a
module-level ``if`` or ``try``, but not those inside functions or classes (imported on use) nor
under ``if TYPE_CHECKING:`` (never run).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("shop", "distribution", "admin", "live")
BUILT_ON_SHOP = ("distribution", "live", "admin")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(body: list[ast.stmt]):
    """The import statements that run when the module runs: not inside a function or a class,
    not in the body of ``if TYPE_CHECKING:``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_nodes(node.body)
            yield from _import_time_nodes(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _import_time_nodes(block)
            for handler in node.handlers:
                yield from _import_time_nodes(handler.body)
        elif isinstance(node, ast.With):
            yield from _import_time_nodes(node.body)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known) -> set:
    """The first-party modules an import statement names (``from a import b`` names ``a.b``
    when ``b`` is a module, else ``a``)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:
        anchor = module.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    found = set()
    for alias in node.names:
        if f"{base}.{alias.name}" in known:
            found.add(f"{base}.{alias.name}")
        elif base in known:
            found.add(base)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the first-party modules it imports at import time."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        graph[name] = set()
        for node in _import_time_nodes(tree.body):
            graph[name] |= _imported(node, name, is_package, modules) - {name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module, as one cycle through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Tarjan's algorithm, iteratively (the graph is deep enough to worry about recursion).
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [_cycle_through(graph, set(group)) for group in groups]


def _cycle_through(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One concrete cycle inside a strongly connected group: a -> b -> ... -> a."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & group):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle through {sorted(group)}")


def test_the_graph_sees_the_imports_that_matter():
    graph = import_graph()
    assert "shop.orders.services" in graph["shop.payments.webhooks"]
    assert "shop.payments.stripe_gateway" in graph["shop.orders.services"]
    # Imported inside create_app's steps, not at module level.
    assert "distribution" not in graph["shop.app"]


def test_no_import_cycle_between_modules():
    cycles = find_cycles(import_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(graph) == [["a", "b", "c", "a"]]


def test_the_stripe_gateway_imports_nothing_from_the_shop():
    graph = import_graph()
    assert graph["shop.payments.stripe_gateway"] == set()


def test_only_the_gateway_imports_stripe():
    importers = set()
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                named = [node.module or ""]
            else:
                continue
            if any(n == "stripe" or n.startswith("stripe.") for n in named):
                importers.add(name)
    assert importers == {"shop.payments.stripe_gateway"}


def test_shop_never_imports_what_is_built_on_it_at_module_level():
    graph = import_graph()
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.split(".")[0] == "shop"
        for target in targets
        if target.split(".")[0] in BUILT_ON_SHOP
    )
    assert not wrong, "\n".join(wrong)


ONE_HOME = {
    "the order number": (
        re.compile(r"""SY\{|SY%|["']SY["']"""),
        "shop/orders/numbers.py",
    ),
    "money as text": (
        re.compile(r"scaleb\(-|_SYMBOLS|:,\.\{|\.2f\}"),
        "shop/money.py",
    ),
    "the attribution in the visitor's session": (
        re.compile(r"""session\w*(\[|\.get\(|\.pop\()\s*["']attribution["']"""),
        "distribution/attribution_session.py",
    ),
}


def test_each_format_has_one_home():
    sources = [
        path
        for top in (*PACKAGES, "templates")
        for path in sorted((ROOT / top).rglob("*"))
        if path.suffix in (".py", ".html", ".js")
    ]
    strays = [
        f"{what}: {path.relative_to(ROOT)}:{number}: {line.strip()}"
        for what, (pattern, home) in ONE_HOME.items()
        for path in sources
        if path.relative_to(ROOT).as_posix() != home
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not strays, "\n".join(strays)


ONE_SHOT_READS = re.compile(
    r"\.(is_visible|is_hidden|is_checked|is_enabled|is_disabled|is_editable|inner_text"
    r"|inner_html|text_content|input_value|all_inner_texts|all_text_contents|get_attribute)\("
    r"|\.count\(\)"
)


def test_browser_tests_check_the_page_with_auto_waiting_expect_only():
    """A one-shot read right after a click races the page (it failed every run on Chromium
    156); ``expect(...)`` waits for the page to agree."""
    browser_tests = [
        path
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path != Path(__file__).resolve()
        and re.search(r"^from tests.support import browser|playwright", path.read_text(), re.M)
    ]
    assert len(browser_tests) >= 3
    one_shot = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in browser_tests
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ONE_SHOT_READS.search(line)
    ]
    assert not one_shot, "\n".join(one_shot)
