"""Build the CLIP BPE tokenizer files (vocab.json, merges.txt) shipped in models/configs/sd15/tokenizer.

The source is OpenAI's MIT-licensed `bpe_simple_vocab_16e6.txt.gz`, which ships inside the
`open-clip-torch` wheel (`pip download --no-deps open-clip-torch`). The vocabulary is built the way
OpenAI's `SimpleTokenizer` builds it, so ids match the SD1.5 text encoder exactly.

    python tools/build_clip_tokenizer.py path/to/open_clip_torch-*.whl
"""

from __future__ import annotations

import gzip
import json
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "models" / "configs" / "sd15" / "tokenizer"


def bytes_to_unicode() -> dict[int, str]:
    """OpenAI's reversible byte -> printable unicode table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


def build(bpe_text: str, out: Path) -> None:
    merges = [tuple(line.split()) for line in bpe_text.split("\n")[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read("open_clip/bpe_simple_vocab_16e6.txt.gz")
    build(gzip.decompress(data).decode("utf-8"), OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
