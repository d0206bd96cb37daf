"""Render prompt templates: packaged files in prompts/ and org-edited copies stored in the DB.

Every packaged template starts with a comment declaring its inputs, e.g.
`{# inputs: question, snippets?, memories? #}` (`?` = optional). Rendering checks the
caller's inputs against it, so a typo fails loudly instead of rendering an empty section.

Org-edited templates are untrusted text: they render in an immutable sandbox with no
loader (no include/import/extends/macros), StrictUndefined, a budget of loop iterations,
built characters and time (api/prompts/sandbox.py), and may only use the inputs the
packaged template of the same name declares. Saving one renders it once with sample inputs,
so a template that blows its budget is refused when it is saved, not on every message.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SecurityError

from api.core.config import PROJECT_ROOT
from api.prompts import sandbox
from api.prompts.budget import FittedContext, Section, approx_tokens, fit_budget
from api.prompts.errors import PromptError

PROMPTS_DIR = PROJECT_ROOT / "prompts"
MAX_ORG_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = sandbox.MAX_OUTPUT_CHARS
# What a saved template is tried with: inputs as long as real ones get.
_SAMPLE_CHARS = 2_000
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


_COMMON = dict(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
               keep_trailing_newline=False)
# Prompts are plain text, not HTML, so no autoescaping for either environment.
_packaged_env = jinja2.Environment(loader=jinja2.FileSystemLoader(PROMPTS_DIR), **_COMMON)  # type: ignore[arg-type]
_sandbox = sandbox.make_sandbox(**_COMMON)


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
    used = meta.find_undeclared_variables(ast) - set(_sandbox.globals)
    unknown = used - packaged_spec(name).allowed
    if unknown:
        raise PromptError(f"Template '{name}' may not use: {', '.join(sorted(unknown))}.", "prompt_inputs")
    try:
        ast = sandbox.harden(ast)
    except SecurityError as exc:
        raise PromptError(f"Templates cannot use this: {exc}.", "prompt_forbidden") from exc
    return _sandbox.from_string(ast)


def validate_org_template(name: str, source: str) -> None:
    """Check an org's edited template before saving it (raises PromptError, 422): it compiles,
    and renders within budget with every declared input set to a long sample value."""
    template = _compile_org(name, source)
    sample = {k: "x" * _SAMPLE_CHARS for k in packaged_spec(name).allowed}
    try:
        sandbox.render_within_budget(template, sample)
    except sandbox.BudgetExceeded as exc:
        raise PromptError(f"The template does too much work ({exc}).", "prompt_too_expensive") from exc
    except SecurityError as exc:
        raise PromptError("The template tried an operation that is not allowed.", "prompt_forbidden") from exc
    except Exception:  # noqa: BLE001 - samples are strings where real inputs may be lists: only safety is judged
        pass


def render_org(name: str, source: str, **inputs: Any) -> str:
    """Render an org-edited version of packaged template `name` inside the sandbox (bounded:
    see api/prompts/sandbox.py). CPU-bound for up to a second: async callers run it in a thread."""
    template = _compile_org(name, source)
    values = _inputs(packaged_spec(name), name, inputs)
    try:
        return _finish(sandbox.render_within_budget(template, values))
    except sandbox.BudgetExceeded as exc:
        raise PromptError(f"The template does too much work ({exc}).", "prompt_too_expensive") from exc
    except SecurityError as exc:
        raise PromptError("The template tried an operation that is not allowed.", "prompt_forbidden") from exc
    except jinja2.UndefinedError as exc:
        raise PromptError(f"Template '{name}' used an undefined value: {exc.message}", "prompt_undefined") from exc
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, RecursionError, MemoryError,
            LookupError, AttributeError, jinja2.TemplateError) as exc:
        raise PromptError(f"Template '{name}' failed to render ({type(exc).__name__}).", "prompt_render") from exc


# The budget helper lives in api/prompts/budget.py; re-exported so callers import one module.
__all__ = ["FittedContext", "PromptError", "Section", "TemplateSpec", "approx_tokens", "fit_budget",
           "packaged_spec", "parse_inputs", "render", "render_org", "validate_org_template"]
