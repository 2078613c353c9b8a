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
# the sheet (and shared strings) XML of the example workbooks, for translate_xlsx_sheet
import zipfile
for f in sorted(ex.glob("*/*.xlsx")) + sorted((root / "crates/translate/tests/data").glob("*.xlsx")):
    with zipfile.ZipFile(f) as z:
        names = z.namelist()
        sheet = z.read("xl/worksheets/sheet1.xml")
        shared = z.read("xl/sharedStrings.xml") if "xl/sharedStrings.xml" in names else None
    seed("translate_xlsx_sheet", sheet if shared is None else sheet + b"\0" + shared)
seed("translate_xlsx_sheet", b'<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>'
     b'<c r="C1" t="inlineStr"><is><t>vanaf</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>v1</t></is></c>'
     b'<c r="B2" t="s"><v>2</v></c><c r="C2" s="1"><v>45658</v></c></row></sheetData></worksheet>\0'
     b'<sst><si><t>nr</t></si><si><r><t>post</t></r><r><t>code</t></r></si><si><t>3011AB</t></si></sst>')
for f in sorted(ex.glob("*/*.xml")):
    seed("translate_xml", f.read_bytes())
rec = {"id": "1", "postcode": "3011AB", "uren": 32, "rijbewijzen": ["B", "C"],
       "talen": [{"codeTaal": "nld"}, {"codeTaal": "eng"}]}
seed("translate_json", b"\x00" + json.dumps({"records": [rec, dict(rec, id="2", uren="36,0")]}).encode())
seed("translate_json", b"\x01" + (json.dumps(rec) + "\n" + json.dumps(dict(rec, id="2")) + "\n{bad\n").encode())
# committed seeds (protobuf the script cannot write; see fuzz/seeds/README.md)
for d in sorted((root / "fuzz" / "seeds").iterdir()):
    if d.is_dir():
        for f in sorted(d.iterdir()):
            seed(d.name, f.read_bytes())
# a few of the standard's own profiles, when the shared data is beside the project
shared = pathlib.Path(os.environ.get("MATCHGATE_SHARED", root.parent / "shared"))
tz = shared / "vum" / "testdata" / "werkzoekenden-1000.json"
if tz.exists():
    docs = json.loads(tz.read_text(encoding="utf-8"))
    for d in docs[:20]:
        seed("validate", b"\x00" + json.dumps(d, ensure_ascii=False).encode())
print("seeded", ", ".join(f"{p.name}: {len(list(p.iterdir()))}" for p in sorted(corpus.iterdir())))
