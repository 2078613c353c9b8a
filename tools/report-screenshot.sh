#!/usr/bin/env bash
# Screenshot an HTML report (the conformance report, the transparency report) with headless
# Chromium and check the picture is not blank.
#
#   tools/report-screenshot.sh REPORT.html OUT.png
#
# A sample report: CONFORMANCE_SAMPLE_OUT=/tmp/sample cargo test -p conformance --test report \
#   -- --ignored write_sample_report && tools/report-screenshot.sh /tmp/sample/report.html /tmp/sample/report.png
#
# Needs Debian's `chromium`; without it (and if `apt-get install -y chromium` as root does not
# provide it) prints "SKIPPED: no chromium" and exits 0. Exits non-zero if the screenshot is
# missing, not a PNG, not 1280 wide, or blank (a single colour). python3 (stdlib only) checks it.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 REPORT.html OUT.png" >&2
    exit 2
fi
report=$1
out=$2
if [ ! -f "$report" ]; then
    echo "$0: no such file: $report" >&2
    exit 2
fi

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 || true
    browser=$(command -v chromium || true)
fi
if [ -z "$browser" ]; then
    echo "SKIPPED: no chromium"
    exit 0
fi

abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
mkdir -p "$(dirname "$out")"
rm -f "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# --virtual-time-budget lets the inline script run before the picture is taken
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$profile" --no-first-run --disable-extensions \
    --virtual-time-budget=2000 \
    --screenshot="$out" --window-size=1280,1600 "file://$abs" >/dev/null 2>&1 || true

python3 - "$out" <<'EOF'
import struct, sys, zlib

path = sys.argv[1]
try:
    data = open(path, "rb").read()
except OSError as e:
    sys.exit(f"no screenshot: {e}")
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"{path}: not a PNG")

# walk the chunks: IHDR for the size and format, IDAT for the pixels
pos, ihdr, idat = 8, None, b""
while pos + 8 <= len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        ihdr = body
    elif kind == b"IDAT":
        idat += body
    elif kind == b"IEND":
        break
    pos += 12 + length
if ihdr is None:
    sys.exit(f"{path}: no IHDR")
width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", ihdr)
print(f"{path}: {width}x{height}, {len(data)} bytes")
if width != 1280 or height < 800:
    sys.exit(f"{path}: unexpected size {width}x{height}")

# decode (8-bit RGB/RGBA/grey, not interlaced: what Chromium writes) and count colours
channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
if depth != 8 or channels is None or interlace != 0:
    # a format we do not decode: fall back to size (a blank 1280x1600 page compresses to a few kB)
    if len(data) < 20_000:
        sys.exit(f"{path}: looks blank ({len(data)} bytes)")
    print("not blank (by size)")
    sys.exit(0)
raw = zlib.decompress(idat)
stride = width * channels
prev = bytearray(stride)
colours = set()
i = 0
for _ in range(height):
    f = raw[i]
    line = bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - channels] if x >= channels else 0
        b = prev[x]
        c = prev[x - channels] if x >= channels else 0
        if f == 1:
            line[x] = (line[x] + a) & 255
        elif f == 2:
            line[x] = (line[x] + b) & 255
        elif f == 3:
            line[x] = (line[x] + ((a + b) >> 1)) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[x] = (line[x] + pr) & 255
    prev = line
    if len(colours) < 64:
        for x in range(0, stride, channels * 7):
            colours.add(bytes(line[x:x + channels]))
if len(colours) < 8:
    sys.exit(f"{path}: looks blank ({len(colours)} distinct colours sampled)")
print(f"not blank: {len(colours)}+ distinct colours sampled")
EOF
