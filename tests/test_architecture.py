"""The seam between HTTP and background jobs (issue 11): api/ never imports workers/, and the
top-level packages import each other without cycles; table ownership: only the conversations
domain writes SQL on conversation_history. Static (ast), so it needs no stack."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from api.core import tasks

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.no_stack  # static (ast): starts nothing
PACKAGES = ("api", "workers", "bench", "infra", "tests")


def _imported_roots(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, function-level imports included."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []


def test_no_module_under_api_imports_workers():
    offenders = [str(p.relative_to(ROOT)) for p in _files("api") if "workers" in _imported_roots(p)]
    assert offenders == []


def test_nothing_imports_the_removed_workers_db():
    # `from workers import db` names the package root only, so look at the imported names too.
    offenders = []
    for pkg in PACKAGES:
        for path in _files(pkg):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module == "workers" \
                        and any(alias.name == "db" for alias in node.names):
                    offenders.append(str(path.relative_to(ROOT)))
                elif isinstance(node, (ast.Import, ast.ImportFrom)) and "workers.db" in (
                        [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_no_import_cycle_between_top_level_packages():
    graph = {pkg: set() for pkg in PACKAGES}
    for pkg in PACKAGES:
        for path in _files(pkg):
            graph[pkg] |= (_imported_roots(path) & set(PACKAGES)) - {pkg}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph[start] - seen:
            if nxt == target or reaches(nxt, target, seen | {nxt}):
                return True
        return False

    cycles = [pkg for pkg in PACKAGES if reaches(pkg, pkg, set())]
    assert cycles == [], f"import graph between top-level packages: {graph}"


def test_every_worker_task_is_named_in_api_core_tasks():
    from workers.celery_app import app

    app.loader.import_default_modules()
    registered = {name for name in app.tasks if not name.startswith("celery.")}
    assert registered == {t.name for t in tasks.ALL}


def test_every_task_routes_to_a_declared_queue():
    undeclared = [t.name for t in tasks.ALL if t.queue not in tasks.QUEUES]
    assert undeclared == []


def test_every_error_family_has_the_one_root():
    from api.catalog.feeds import FeedError
    from api.channels.errors import ProviderError
    from api.core.errors import DomainError
    from api.documents.errors import DocumentError
    from api.embeddings.errors import EmbeddingError
    from api.llm.errors import LLMError
    from api.prompts.errors import PromptError

    families = (FeedError, ProviderError, DocumentError, EmbeddingError, LLMError, PromptError)
    assert [f.__name__ for f in families if not issubclass(f, DomainError)] == []


def test_error_classes_do_not_import_fastapi():
    assert "fastapi" not in _imported_roots(ROOT / "api" / "core" / "errors.py")


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_workers_only_wrap_jobs():
    """workers/ holds the Celery app, the beat schedule and task wrappers: from api/ it may import
    task names (api.core.tasks), a domain's jobs module and the errors a task retries on."""
    allowed = ("api.core.tasks", "api.core.tasks.", "api.llm.errors.")
    offenders = {}
    for path in _files("workers"):
        bad = sorted(m for m in _imported_modules(path) if m.startswith("api.") and not (
            m.startswith(allowed) or m.endswith(".jobs") or m == "api.core.tasks"))
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_worker_tasks_are_one_call():
    """Each task body is one statement (its docstring aside), or a try around one call; the work
    itself lives in api/<domain>/jobs.py where tests call it directly."""
    long = []
    for path in _files("workers"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "task" for d in node.decorator_list):
                body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
                if len(body) != 1:
                    long.append(f"{path.name}:{node.name}")
    assert long == []


HISTORY_TABLE = re.compile(r"\bconversation_history\b")


def _strings_naming_history(path: Path) -> list[int]:
    """Lines of string literals that name the history table: SQL text, f-string parts, a table
    name handed to a query builder or a loop over tables. Docstrings are prose, and a dict key or
    subscript naming it (the contact merge's audit counts) is a label, not a query."""
    tree = ast.parse(path.read_text(), filename=str(path))
    labels = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            labels.add(id(node.body[0].value))
        elif isinstance(node, ast.Subscript):
            labels.add(id(node.slice))
        elif isinstance(node, ast.Dict):
            labels.update(id(k) for k in node.keys if k is not None)
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in labels
            and HISTORY_TABLE.search(node.value)]


def test_only_the_conversations_domain_writes_sql_on_conversation_history():
    owner = ROOT / "api" / "conversations"
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in _files("api") if owner not in p.parents
                 for line in _strings_naming_history(p)]
    assert offenders == [], "reach the history through api/conversations/repository.py (async) " \
                            "or repository_sync.py (sync) instead"
    # The scan must still see the owner's statements, or it would pass by seeing nothing.
    assert all(_strings_naming_history(owner / name) for name in ("repository.py", "repository_sync.py"))
