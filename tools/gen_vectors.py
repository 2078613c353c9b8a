#!/usr/bin/env python3
"""Generate conformance/vectors/ from schemas/: one invalid vector per schema rule (keyword
location), plus the hand-written vectors for the prose rules and plausibility warnings below.

Each vector is a JSON file {kind, description, expect: {errors: [...], warnings: [...]}, document}.
`expect` lists exactly the rule ids a conforming validator reports. A value of the wrong type is
never one of an enum's values, so a type vector on an enumerated property expects both rules.
Usage: python3 tools/gen_vectors.py   (rewrites conformance/vectors/{valid,invalid,warning}/generated-*)
"""
import copy, json, pathlib, re, shutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "conformance/vectors"
KINDS = {
    "werkzoekenden": [("werkzoekende", "Werkzoekende"), ("werkzoekende-match", "MPWerkzoekendeMatch"),
                      ("werkzoekende-matches", "WerkzoekendeProfielMatchesBronResponse"),
                      ("werkzoekende-matches-vum", "WerkzoekendeProfielMatchesResponse"),
                      ("werkzoekende-detail-vum", "WerkzoekendeDetailResponse")],
    "vacatures": [("vacature", "Vacature"), ("vacature-match", "MPVacatureMatch"),
                  ("vacature-matches", "VacaturesMatchesBronResponse"),
                  ("vacature-matches-vum", "VacaturesMatchesResponse"),
                  ("vacature-detail-vum", "VacatureDetailResponse")],
}

def load(fam):
    return json.load(open(ROOT / f"schemas/vum-{fam}.schema.json"))["$defs"]

class Node:
    """A resolved schema node: its keywords and the location each keyword's rule has."""
    def __init__(self, defs, s, loc):
        self.kw, self.rules = {}, {}
        if "$ref" in s:
            name = s["$ref"].rsplit("/", 1)[1]
            base = Node(defs, defs[name], name)
            self.kw, self.rules = dict(base.kw), dict(base.rules)
            for k in s:
                if k in ("format",):
                    self.kw[k] = s[k]; self.rules[k] = loc
            return
        for k, v in s.items():
            if k in ("description", "example"):
                continue
            self.kw[k] = v
            self.rules[k] = loc
        self.defs, self.loc = defs, loc

    def rule(self, fam, k):
        return f"{fam}#{self.rules[k]}/{k}"

def child(defs, node, key):
    if key == "[]":
        return Node(defs, node.kw["items"], node.rules["items"] + "/items")
    return Node(defs, node.kw["properties"][key], node.rules["properties"] + "/properties/" + key)

def sample(defs, node):
    k = node.kw
    t = k.get("type")
    if t == "object":
        return {p: sample(defs, child(defs, node, p)) for p in k.get("required", [])}
    if t == "array":
        return [sample(defs, child(defs, node, "[]"))]
    if t == "boolean":
        return True
    if t == "integer":
        if "enum" in k: return k["enum"][-1]
        return max(k.get("minimum", 1), 1)
    if "enum" in k: return k["enum"][0]
    fmt = k.get("format")
    if fmt == "date": return "2026-01-15"
    if fmt == "email": return "iemand@example.nl"
    if fmt == "uri": return "https://example.nl/pad"
    if fmt == "uri-reference": return "https://linkeddata.competentnl.nl/uwv/id/occupation/57D17BDAA8"
    pat = k.get("pattern", "")
    if "[0-9]{4}[a-zA-Z]{2}" in pat: return "3011AB"
    if pat == "^[a-z]{3}$": return "nld"
    if pat == "^[0-9]+$": return "12345"
    return "id-1"

def put(defs, root_node, doc, path, value):
    """Set value at path (list of keys / '[]'), creating minimal valid parents."""
    node, cur = root_node, doc
    for i, key in enumerate(path):
        last = i == len(path) - 1
        nxt = child(defs, node, key)
        if key == "[]":
            if last:
                cur[0] = value
                return doc
            cur = cur[0]
        else:
            if last:
                if value is DELETE:
                    cur.pop(key, None)
                else:
                    cur[key] = value
                return doc
            if key not in cur:
                cur[key] = sample(defs, nxt)
            cur = cur[key]
        node = nxt
    return value

DELETE = object()

def violations(fam, defs, node):
    """(keyword, value-or-None, extra-expected, description) for each rule at this node."""
    k, out = node.kw, []
    t = k.get("type")
    wrong = {"object": 5, "array": 5, "string": 5, "integer": "1", "boolean": "ja"}[t]
    extra = [node.rule(fam, "enum")] if "enum" in k else []
    out.append(("type", wrong, extra, f"{t} expected, {type(wrong).__name__} given"))
    if "enum" in k:
        out.append(("enum", 98 if t == "integer" else "ZZ", [], "value outside the code list"))
    if "maxLength" in k:
        n = k["maxLength"]
        v = "a" * (n + 1)
        ex = []
        if k.get("format") == "email":
            ex = [node.rule(fam, "format")]
        elif k.get("pattern") == "^[0-9]+$":
            v = "1" * (n + 1)
        elif k.get("format") == "uri":
            v = "https://example.nl/" + "a" * (n + 1 - len("https://example.nl/"))
        out.append(("maxLength", v, ex, f"{n + 1} characters, at most {n}"))
    if "pattern" in k:
        out.append(("pattern", "!!", [], f"does not match {k['pattern']}"))
    if "minimum" in k:
        out.append(("minimum", k["minimum"] - 1, [], "below the minimum"))
    if "maximum" in k:
        out.append(("maximum", k["maximum"] + 1, [], "above the maximum"))
    if "format" in k:
        bad = {"date": "2026-02-30", "email": "geen-adres", "uri": "geen uri", "uri-reference": "met spatie en \\"}[k["format"]]
        out.append(("format", bad, [], f"not a valid {k['format']}"))
    if "additionalProperties" in k:
        out.append(("additionalProperties", "ADD", [], "a property the standard does not define"))
    if k.get("required"):
        out.append(("required", "REQ", [], f"required property '{k['required'][0]}' missing"))
    return out

def generate():
    vectors = []
    for fam, kinds in KINDS.items():
        defs = load(fam)
        seen = set()
        for kind, root in kinds:
            root_node = Node(defs, {"$ref": f"#/$defs/{root}"}, root)
            base = sample(defs, root_node)
            vectors.append(("valid", f"{kind}-minimal", kind, f"the smallest valid {kind}", [], [], base))
            stack = [([], root_node)]
            while stack:
                path, node = stack.pop()
                for kw, val, extra, desc in violations(fam, defs, node):
                    rule = node.rule(fam, kw)
                    if rule in seen:
                        continue
                    seen.add(rule)
                    doc = copy.deepcopy(base)
                    if kw == "required":
                        holder = copy.deepcopy(sample(defs, node))
                        holder.pop(node.kw["required"][0])
                        if not holder:  # an empty object is absent: keep the object present
                            other = [p for p in node.kw["properties"] if p not in node.kw["required"]]
                            holder[other[0]] = sample(defs, child(defs, node, other[0]))
                        doc = put(defs, root_node, doc, path, holder) if path else holder
                    elif kw == "additionalProperties":
                        holder = copy.deepcopy(sample(defs, node))
                        holder["onbekendVeld"] = 1
                        doc = put(defs, root_node, doc, path, holder) if path else holder
                    else:
                        doc = put(defs, root_node, doc, path, val) if path else val
                    name = re.sub(r"[^A-Za-z0-9]+", "-", rule.split("#", 1)[1]).strip("-")
                    where = "/" + "/".join("0" if p == "[]" else p for p in path)
                    vectors.append(("invalid", f"{fam}-{name}", kind, f"{where}: {desc}", sorted(set([rule] + extra)), [], doc))
                for key in node.kw.get("properties", {}):
                    stack.append((path + [key], child(defs, node, key)))
                if "items" in node.kw:
                    stack.append((path + ["[]"], child(defs, node, "[]")))
    return vectors

def main():
    for sub in ("valid", "invalid", "warning"):
        d = OUT / sub
        d.mkdir(parents=True, exist_ok=True)
        for f in d.glob("generated-*.json"):
            f.unlink()
    vectors = generate()
    for cat, name, kind, desc, errors, warnings, doc in vectors:
        body = {"kind": kind, "description": desc, "expect": {"errors": errors, "warnings": warnings}, "document": doc}
        (OUT / cat / f"generated-{name}.json").write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    print(len(vectors), "vectors")

main()
