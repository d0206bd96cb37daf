"""The sandbox org-edited templates render in: bounded work, not just bounded features.

Jinja's ImmutableSandboxedEnvironment stops attribute tricks, but not work: three nested
`{% for %}` over `range(1000)` is 10^9 iterations, `{% set b = a ~ a %}` repeated doubles a
string per line, and `'%999999999d' % 1` allocates a gigabyte. Every render therefore runs
under a Budget (a context variable, so concurrent renders in threads do not share one):
- loop iterations (every `for` is rewritten to iterate through `_loop`, which counts);
- characters created by `~`, `+`, `*`, `join`, `replace` and the output itself;
- wall time, checked whenever the budget is spent.
Macros, call blocks and recursive loops are refused at compile time: they are the only ways to
repeat work that does not go through a `for`.
"""
from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.filters import FILTERS
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_OUTPUT_CHARS = 200_000
MAX_ITERATIONS = 10_000
MAX_CREATED_CHARS = 2_000_000
MAX_RENDER_S = 1.0
_MAX_RANGE = 1_000
_MAX_WIDTH = 1_000
# printf/format width or precision with 4+ digits, or taken from an argument (`*`).
_WIDE_PRINTF = re.compile(r"%[-+ #0]*(?:\d{4,}|\*)|%[-+ #0]*\d*\.(?:\d{4,}|\*)")
_WIDE_FORMAT = re.compile(r"\{[^{}]*:[^{}]*(?:\d{4,}|\{)")
_FORBIDDEN = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends, nodes.Macro, nodes.CallBlock)


class BudgetExceeded(SecurityError):
    """A render used more iterations, characters or time than a prompt may."""


@dataclass
class Budget:
    iterations: int = MAX_ITERATIONS
    chars: int = MAX_CREATED_CHARS
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_RENDER_S)

    def spend(self, iterations: int = 0, chars: int = 0) -> None:
        self.iterations -= iterations
        self.chars -= chars
        if self.iterations < 0:
            raise BudgetExceeded(f"more than {MAX_ITERATIONS} loop iterations")
        if self.chars < 0:
            raise BudgetExceeded(f"more than {MAX_CREATED_CHARS} characters built")
        if time.monotonic() > self.deadline:
            raise BudgetExceeded(f"rendering took longer than {MAX_RENDER_S} s")


_budget: ContextVar[Budget | None] = ContextVar("prompt_render_budget", default=None)


def _spend(iterations: int = 0, chars: int = 0) -> None:
    budget = _budget.get()
    if budget is None:
        raise BudgetExceeded("org templates render only inside a budget")
    budget.spend(iterations, chars)


def render_within_budget(template: jinja2.Template, values: dict[str, Any]) -> str:
    token = _budget.set(Budget())
    try:
        return template.render(**values)
    finally:
        _budget.reset(token)


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _loop(iterable: Iterable) -> Iterator:
    for item in iterable:
        _spend(iterations=1)
        yield item


def _concat(parts: list) -> str:
    text = "".join(map(str, parts))
    _spend(chars=len(text))
    return text


def _bounded_output(chunks: Iterable[str]) -> str:
    out: list[str] = []
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT_CHARS:
            raise BudgetExceeded("the rendered prompt is too long")
        _spend(chars=len(chunk))
        out.append(chunk)
    return "".join(out)


def _capped_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > _MAX_RANGE:
        raise SecurityError(f"range larger than {_MAX_RANGE}")
    return rng


def _width(value: Any) -> None:
    if isinstance(value, int) and abs(value) > _MAX_WIDTH:
        raise SecurityError(f"widths and counts above {_MAX_WIDTH} are not allowed")


def _check_printf(fmt: Any) -> None:
    if isinstance(fmt, str) and _WIDE_PRINTF.search(fmt):
        raise SecurityError("format widths above 3 digits are not allowed")


def _guarded_filters() -> dict[str, Any]:
    originals = dict(FILTERS)

    def sized(name: str, width_at: int | None = None):
        original = originals[name]
        # Filters marked pass_environment/pass_eval_context get that object first.
        offset = 1 if hasattr(original, "jinja_pass_arg") else 0

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if width_at is not None and width_at + offset < len(args):
                _width(args[width_at + offset])
            for value in kwargs.values():
                _width(value)
            if name == "format" and args:
                _check_printf(args[0])
            result = original(*args, **kwargs)
            _spend(chars=_size(result))
            return result
        return wrapper

    @functools.wraps(originals["replace"])
    def replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
        text, old_s, new_s = str(s), str(old), str(new)
        n = text.count(old_s) if old_s else len(text) + 1
        if count is not None:
            n = min(n, max(count, 0))
        _spend(chars=len(text) + n * max(len(new_s) - len(old_s), 0))  # before building it
        return originals["replace"](eval_ctx, s, old, new, count)

    filters = dict(originals)
    filters.update({
        "center": sized("center", 1), "indent": sized("indent", 1), "batch": sized("batch", 1),
        "slice": sized("slice", 1), "wordwrap": sized("wordwrap"), "truncate": sized("truncate"),
        "join": sized("join"), "format": sized("format"), "replace": replace,
        "_loop": _loop, "_concat": _concat,
    })
    return filters


class OrgSandbox(ImmutableSandboxedEnvironment):
    """Also blocks `'x' * 10**9`-style memory bombs that the stock sandbox lets through."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_bounded_output)  # the template's output, collected under the budget

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS:
                    raise SecurityError("repetition too large")
        if operator == "%":
            _check_printf(left)
        result = super().call_binop(context, operator, left, right)
        _spend(chars=_size(result))
        return result

    def wrap_str_format(self, value: Any) -> Any:
        """`'{:>999999999}'.format(x)` is a gigabyte: refuse wide fields, count the result."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = getattr(value, "__self__", "")

        def guarded(*args: Any, **kwargs: Any) -> str:
            if isinstance(fmt, str) and _WIDE_FORMAT.search(fmt):
                raise SecurityError("format widths above 3 digits are not allowed")
            result = wrapped(*args, **kwargs)
            _spend(chars=_size(result))
            return result
        return guarded


def _rewrite(node: nodes.Node) -> nodes.Node:
    """Route every loop through `_loop` and every `~` through `_concat` (both count)."""
    for name in node.fields:
        value = getattr(node, name, None)
        if isinstance(value, nodes.Node):
            setattr(node, name, _rewrite(value))
        elif isinstance(value, list):
            setattr(node, name, [_rewrite(v) if isinstance(v, nodes.Node) else v for v in value])
    if isinstance(node, nodes.For):
        node.iter = nodes.Filter(node.iter, "_loop", [], [], None, None, lineno=node.lineno)
    elif isinstance(node, nodes.Concat):
        return nodes.Filter(nodes.List(node.nodes, lineno=node.lineno), "_concat", [], [], None, None,
                            lineno=node.lineno)
    return node


def harden(ast: nodes.Template) -> nodes.Template:
    """Refuse what cannot be budgeted (raises SecurityError), then make the rest count."""
    if any(True for _ in ast.find_all(_FORBIDDEN)):
        raise SecurityError("include, import, extends, macro and call blocks are not allowed")
    if any(loop.recursive for loop in ast.find_all(nodes.For)):
        raise SecurityError("recursive loops are not allowed")
    return _rewrite(ast)


def make_sandbox(**options: Any) -> OrgSandbox:
    env = OrgSandbox(loader=None, **options)
    env.globals = {"range": _capped_range}  # drop dict/lipsum/cycler/joiner/namespace helpers
    env.filters = _guarded_filters()
    return env
