"""The README's curl quickstart, run as written (bash + curl + python3) against the real API,
worker and the fake hosted model: a document becomes ready, the agent answers citing it, and
the OpenAI-compatible call answers too. Only the server URL, token and model are filled in."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.chat import HOSTED, base_url, hosted  # noqa: F401

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_block() -> str:
    text = README.read_text()
    block = text.split("<!-- quickstart-curl -->", 1)[1].split("<!-- /quickstart-curl -->", 1)[0]
    return re.search(r"```sh\n(.*?)```", block, re.S).group(1)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_quickstart_runs(base_url, hosted, new_tenant, celery_worker, tmp_path):
    tenant = new_tenant()
    script = quickstart_block()
    assert "export RENUM=" in script
    assert "export TOKEN=" in script
    script = re.sub(r"export RENUM=.*", f"export RENUM={base_url.removesuffix('/v1')}", script)
    script = re.sub(r"export TOKEN=.*", f"export TOKEN='{tenant.token}'", script)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          timeout=180, env={"PATH": "/usr/bin:/bin:/usr/local/bin", "MODEL": HOSTED})
    assert done.returncode == 0, done.stderr + done.stdout
    out = done.stdout
    assert "is ready\n" in out
    assert "\nEntregas\n" in out  # indexed, and the answer cites the document
    # Two answers (an echo may quote the earlier one: the prompt carries the conversation).
    assert out.count("echo:") >= 2
    assert "Vocês entregam em Olinda no sábado?" in out
    assert "E em Recife?" in out
