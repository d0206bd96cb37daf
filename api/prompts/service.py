"""Render prompt templates: packaged files in prompts/ and org-edited copies stored in the DB.

Every packaged template starts with a comment declaring its inputs, e.g.
`{# inputs: question, snippets?, memories? #}` (`?` = optional). Rendering checks the
caller's inputs against it, so a typo fails loudly instead of rendering an empty section.

Org-edited templates are untrusted text: they render in an immutable sandbox with no
loader (no include/import/extends), StrictUndefined, capped ranges/repetition/output, and
may only use the inputs the packaged template of the same name declares.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from api.core.config import PROJECT_ROOT
from api.prompts.budget import FittedContext, Section, approx_tokens, fit_budget
from api.prompts.errors import PromptError

PROMPTS_DIR = PROJECT_ROOT / "prompts"
MAX_ORG_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = 200_000
_MAX_RANGE = 1_000
_INPUTS_RE = re.compile(r"^\s*\{#-?\s*inputs:(?P<names>[^#]*?)-?#\}")


@dataclass(frozen=True)
class TemplateSpec:
    required: frozenset[str]
    optional: frozenset[str]

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional


def parse_inputs(source: str) -> TemplateSpec:
    match = _INPUTS_RE.match(source)
    if not match:
        raise PromptError("A template must start with an inputs comment: {# inputs: a, b? #}", "prompt_no_inputs")
    names = [n.strip() for n in match["names"].split(",") if n.strip()]
    return TemplateSpec(required=frozenset(n for n in names if not n.endswith("?")),
                        optional=frozenset(n[:-1] for n in names if n.endswith("?")))


class _OrgSandbox(ImmutableSandboxedEnvironment):
    """Blocks `'x' * 10**9`-style memory bombs that the stock sandbox lets through."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS:
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


def _capped_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > _MAX_RANGE:
        raise SecurityError(f"range larger than {_MAX_RANGE}")
    return rng


_COMMON = dict(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
               keep_trailing_newline=False)
# Prompts are plain text, not HTML, so no autoescaping for either environment.
_packaged_env = jinja2.Environment(loader=jinja2.FileSystemLoader(PROMPTS_DIR), **_COMMON)  # type: ignore[arg-type]
_sandbox = _OrgSandbox(loader=None, **_COMMON)  # type: ignore[arg-type]
_sandbox.globals = {"range": _capped_range}  # drop dict/lipsum/cycler/joiner/namespace helpers


@functools.cache
def packaged_spec(name: str) -> TemplateSpec:
    path = PROMPTS_DIR / f"{name}.j2"
    if not path.is_file():
        raise PromptError(f"Unknown prompt template '{name}'.", "prompt_unknown")
    return parse_inputs(path.read_text(encoding="utf-8"))


def _inputs(spec: TemplateSpec, name: str, given: dict[str, Any]) -> dict[str, Any]:
    missing = spec.required - given.keys()
    unknown = given.keys() - spec.allowed
    if missing or unknown:
        parts = [f"{label}: {', '.join(sorted(names))}" for label, names in (("missing", missing), ("unknown", unknown))
                 if names]
        detail = "; ".join(parts)
        raise PromptError(f"Template '{name}' inputs do not match its declaration ({detail}).", "prompt_inputs")
    # Optional inputs default to None so `{% if memories %}` works under StrictUndefined.
    return {**{k: None for k in spec.optional}, **given}


def _finish(text: str) -> str:
    if len(text) > MAX_OUTPUT_CHARS:
        raise PromptError("The rendered prompt is too long.", "prompt_too_long")
    return text.strip() + "\n"


def render(name: str, **inputs: Any) -> str:
    """Render a packaged template from prompts/ (trusted source)."""
    values = _inputs(packaged_spec(name), name, inputs)
    try:
        return _finish(_packaged_env.get_template(f"{name}.j2").render(**values))
    except jinja2.UndefinedError as exc:  # a required value was None/missing an attribute
        raise PromptError(f"Template '{name}' used an undefined value: {exc.message}", "prompt_undefined") from exc


def _compile_org(name: str, source: str) -> jinja2.Template:
    if len(source) > MAX_ORG_TEMPLATE_CHARS:
        raise PromptError("The template is too long.", "prompt_too_long")
    try:
        ast = _sandbox.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(f"Template syntax error on line {exc.lineno}: {exc.message}", "prompt_syntax") from exc
    if any(True for _ in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))):
        raise PromptError("Templates cannot include, import or extend other templates.", "prompt_forbidden")
    used = meta.find_undeclared_variables(ast) - set(_sandbox.globals)
    unknown = used - packaged_spec(name).allowed
    if unknown:
        raise PromptError(f"Template '{name}' may not use: {', '.join(sorted(unknown))}.", "prompt_inputs")
    return _sandbox.from_string(ast)


def validate_org_template(name: str, source: str) -> None:
    """Check an org's edited template before saving it (raises PromptError, 422)."""
    _compile_org(name, source)


def render_org(name: str, source: str, **inputs: Any) -> str:
    """Render an org-edited version of packaged template `name` inside the sandbox."""
    template = _compile_org(name, source)
    values = _inputs(packaged_spec(name), name, inputs)
    try:
        return _finish(template.render(**values))
    except SecurityError as exc:
        raise PromptError("The template tried an operation that is not allowed.", "prompt_forbidden") from exc
    except jinja2.UndefinedError as exc:
        raise PromptError(f"Template '{name}' used an undefined value: {exc.message}", "prompt_undefined") from exc
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, jinja2.TemplateError) as exc:
        raise PromptError(f"Template '{name}' failed to render ({type(exc).__name__}).", "prompt_render") from exc


# The budget helper lives in api/prompts/budget.py; re-exported so callers import one module.
__all__ = ["FittedContext", "PromptError", "Section", "TemplateSpec", "approx_tokens", "fit_budget",
           "packaged_spec", "parse_inputs", "render", "render_org", "validate_org_template"]
