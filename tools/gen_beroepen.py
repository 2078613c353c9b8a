#!/usr/bin/env python3
"""Build the occupation lookup to start from (examples/lookups/).

Two files:
- examples/lookups/isco08-beroepen.csv: the worksheet. Every ISCO-08 group (code, level, English label as
  ESCO publishes it) from ../shared/data/isco08.csv, with a `competentnl_uri` column to fill in. URIs already
  filled in are kept when this script runs again.
- examples/lookups/beroepen.csv: the table a mapping's [lookups] section reads (key `naam`, value
  `competentnl_uri`). It holds (a) every worksheet row that has a URI, keyed by its ISCO label, with
  bron "isco08 <code>", and (b) every row of the previous beroepen.csv whose bron is not "isco08 ...":
  names added by hand (an organisation's own occupation names), kept as they are.

No row without a URI is written to beroepen.csv: the mapping loader treats an empty mapped value as
"deliberately left out", so a name with an empty URI would silently lose the occupation.

Why the URI column starts empty: no open source at hand pairs ISCO-08 names (or any names) with CompetentNL
URIs. The standard's test data (../shared/vum/testdata) uses 58 CompetentNL occupation URIs
(https://linkeddata.competentnl.nl/uwv/id/occupation/ + 10 hex digits) but never with a name: the vacancy
titles next to a URI differ from vacancy to vacancy. So no URI is derived here; each one must come from
CompetentNL itself (every CompetentNL occupation names its ISCO-08 group).

Checks: a URI must have the CompetentNL occupation form; one name (case-insensitive) maps to one URI.
Stdlib only. Usage: python3 tools/gen_beroepen.py
"""
import csv, io, pathlib, re, sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
ISCO = ROOT.parent / "shared/data/isco08.csv"
OUT = ROOT / "examples/lookups"
SHEET = OUT / "isco08-beroepen.csv"
LOOKUP = OUT / "beroepen.csv"
URI = re.compile(r"^https://linkeddata\.competentnl\.nl/uwv/id/occupation/[0-9A-F]{10}$")


def read(path):
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write(path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    filled = {r["isco08"]: r["competentnl_uri"].strip() for r in read(SHEET) if r.get("competentnl_uri", "").strip()}
    isco = read(ISCO)
    if len(isco) != 619:
        sys.exit(f"{ISCO}: expected 619 ISCO-08 groups, found {len(isco)}")
    sheet, rows = [], []
    for r in isco:
        uri = filled.get(r["code"], "")
        if uri and not URI.match(uri):
            sys.exit(f"{SHEET}: ISCO {r['code']}: {uri!r} is not a CompetentNL occupation URI")
        sheet.append([r["code"], r["level"], r["label"], uri])
        if uri:
            rows.append([r["label"], uri, r["code"], f"isco08 {r['code']}"])
    for r in read(LOOKUP):
        if r.get("bron", "").startswith("isco08 "):
            continue
        if not URI.match(r.get("competentnl_uri", "").strip()):
            sys.exit(f"{LOOKUP}: {r.get('naam')!r}: {r.get('competentnl_uri')!r} is not a CompetentNL occupation URI")
        if not r.get("bron", "").strip():
            sys.exit(f"{LOOKUP}: {r.get('naam')!r}: say where the pairing comes from in 'bron'")
        rows.append([r["naam"].strip(), r["competentnl_uri"].strip(), r.get("isco08", "").strip(), r["bron"].strip()])
    seen = {}
    for naam, uri, _, _ in rows:
        k = naam.lower()
        if k in seen and seen[k] != uri:
            sys.exit(f"{LOOKUP}: {naam!r} has two URIs: {seen[k]} and {uri}")
        seen[k] = uri
    write(SHEET, ["isco08", "niveau", "naam", "competentnl_uri"], sheet)
    write(LOOKUP, ["naam", "competentnl_uri", "isco08", "bron"], sorted(rows, key=lambda r: r[0].lower()))
    print(f"{SHEET.relative_to(ROOT)}: {len(sheet)} ISCO-08 groups, {len(filled)} with a URI; "
          f"{LOOKUP.relative_to(ROOT)}: {len(rows)} names")


main()
