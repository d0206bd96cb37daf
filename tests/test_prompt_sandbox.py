"""Org-edited templates do bounded work: loops, built strings, widths and output all have a
budget, refused when the template is saved (422) and again if it is ever rendered."""
from __future__ import annotations

import pytest

from api.prompts import service as prompts
from api.prompts.errors import PromptError

INPUTS = {"agent_name": "Bia", "business_name": "Loja"}
LOOP = "{% for a in range(1000) %}"


@pytest.mark.parametrize(("source", "code"), [
    (LOOP * 3 + "x" + "{% endfor %}" * 3, "prompt_too_expensive"),  # 10^9 iterations
    (LOOP * 4 + "x" + "{% endfor %}" * 4, "prompt_too_expensive"),
    ("{% for a in agent_name %}{% for b in agent_name %}{% for c in agent_name %}{% endfor %}"
     "{% endfor %}{% endfor %}", "prompt_too_expensive"),  # loops over an input's characters
    ("{% set a = agent_name * 1000 %}" + "".join(f"{{% set a = a ~ a %}}" for _ in range(12)) + "{{ a }}",
     "prompt_too_expensive"),  # doubling by concatenation
    ("{% set a = agent_name * 1000 %}{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}"
     "{% set a = a + a %}{% set a = a + a %}{% set a = a + a %}{{ a }}", "prompt_too_expensive"),
    ("{{ '%999999999d' % 1 }}", "prompt_forbidden"),
    ("{{ '{:>999999999}'.format(agent_name) }}", "prompt_forbidden"),
    ("{{ agent_name|center(999999999) }}", "prompt_forbidden"),
    ("{{ [1]|batch(999999999, 'x')|list }}", "prompt_forbidden"),
    ("{{ (agent_name * 60)|replace('', agent_name * 60) }}", "prompt_too_expensive"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "prompt_forbidden"),
    ("{% call range(3) %}x{% endcall %}", "prompt_forbidden"),
    ("{% for x in [[1]] recursive %}{{ loop(x) }}{% endfor %}", "prompt_forbidden"),
    ("{% for x in range(1000) %}{{ agent_name * 250 }}{% endfor %}", "prompt_too_expensive"),
])
def test_expensive_templates_are_refused_when_saved_and_when_rendered(source, code):
    with pytest.raises(PromptError) as saved:
        prompts.validate_org_template("system", source)
    # Saving tries 2,000-character samples, which may trip a size check before the budget.
    assert saved.value.status_code == 422
    assert saved.value.code in ("prompt_too_expensive", "prompt_forbidden")
    with pytest.raises(PromptError) as rendered:
        prompts.render_org("system", source, **{k: v * 20 for k, v in INPUTS.items()})
    assert (rendered.value.status_code, rendered.value.code) == (422, code)


def test_ordinary_templates_still_render():
    source = ("Você é {{ agent_name }}{% if business_name %} da {{ business_name }}{% endif %}. "
              "{% for i in range(3) %}{{ i }}{% endfor %} {{ 'a' ~ 'b' }} {{ '%5s|' % 'x' }}"
              "{{ '{:>4}'.format('y') }} {{ agent_name|upper|center(9) }} {{ ['a', 'b']|join(',') }}"
              "{{ 'oi'|replace('o', 'O') }}")
    prompts.validate_org_template("system", source)
    out = prompts.render_org("system", source, **INPUTS)
    assert out == "Você é Bia da Loja. 012 ab     x|   y    BIA    a,bOi\n"


def test_budget_is_per_render():
    source = "{% for a in range(1000) %}{% for b in range(9) %}.{% endfor %}{% endfor %}"  # 9,000 < 10,000
    for _ in range(3):
        assert len(prompts.render_org("system", source, **INPUTS)) == 9_001
