#!/usr/bin/env python3
"""Seed the fuzz corpora (fuzz/corpus/<target>/) from conformance/vectors and examples/translate.
Stdlib only; idempotent (a seed's file name is the hash of its bytes). Usage: tools/fuzz_seed.py"""
import hashlib, json, os, pathlib

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "fuzz" / "corpus"
KINDS = ["werkzoekende", "werkzoekende-match", "werkzoekende-vraag", "werkzoekende-matches",
         "werkzoekende-matches-vum", "werkzoekende-detail-vum", "vacature", "vacature-match",
         "vacature-vraag", "vacature-matches", "vacature-matches-vum", "vacature-detail-vum"]


def seed(target, data):
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


for path in sorted((root / "conformance" / "vectors").glob("*/*.json")):
    v = json.loads(path.read_text(encoding="utf-8"))
    body = v["raw"].encode() if "raw" in v else json.dumps(v["document"], ensure_ascii=False).encode()
    kind = v["kind"]
    if kind in KINDS:
        seed("validate", bytes([KINDS.index(kind)]) + body)
    if kind.endswith("-vraag"):
        seed("query", body)

ex = root / "examples" / "translate"
for m in sorted(ex.glob("*/mapping.toml")):
    seed("mapping", m.read_bytes())
for f in sorted(ex.glob("*/*.csv")):
    seed("translate_csv", f.read_bytes())
for f in sorted(ex.glob("*/*.xlsx")) + sorted((root / "crates/translate/tests/data").glob("*.xlsx")):
    seed("translate_xlsx", f.read_bytes())
for f in sorted(ex.glob("*/*.xml")):
    seed("translate_xml", f.read_bytes())
rec = {"id": "1", "postcode": "3011AB", "uren": 32, "rijbewijzen": ["B", "C"],
       "talen": [{"codeTaal": "nld"}, {"codeTaal": "eng"}]}
seed("translate_json", b"\x00" + json.dumps({"records": [rec, dict(rec, id="2", uren="36,0")]}).encode())
seed("translate_json", b"\x01" + (json.dumps(rec) + "\n" + json.dumps(dict(rec, id="2")) + "\n{bad\n").encode())
# a few of the standard's own profiles, when the shared data is beside the project
shared = pathlib.Path(os.environ.get("MATCHGATE_SHARED", root.parent / "shared"))
tz = shared / "vum" / "testdata" / "werkzoekenden-1000.json"
if tz.exists():
    docs = json.loads(tz.read_text(encoding="utf-8"))
    for d in docs[:20]:
        seed("validate", b"\x00" + json.dumps(d, ensure_ascii=False).encode())
print("seeded", ", ".join(f"{p.name}: {len(list(p.iterdir()))}" for p in sorted(corpus.iterdir())))
