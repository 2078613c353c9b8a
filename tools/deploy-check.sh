#!/usr/bin/env bash
# Checks deploy/ (deploy/README.md) without a container runtime or a cluster: what can be checked
# statically is, and each check that cannot run here says so and why ("skip"). Exits non-zero
# when any check fails; skips do not fail it.
#
#   tools/deploy-check.sh            # from anywhere; it works from the repository root
#
# What it checks:
#   - every YAML file under deploy/ (helm templates excepted: they are Go templates) parses;
#     every TOML file under deploy/ parses
#   - each compose node's node.toml: only keys the node knows; every file it names (certificates,
#     keys, CAs, secret_file) is one the compose file mounts there and a one-shot service writes;
#     its OIN is the one `matchgate certs` puts in that certificate; peers, grants, database
#     and Prometheus targets name services and databases that exist; [telemetry] sends to the
#     collector service's OTLP/gRPC receiver as matchgate-<node>, and the node depends on that
#     service (started)
#   - the Dockerfile: its builder copies every directory the crates include files from at
#     compile time (include_str!/include_bytes!, build scripts), the dockerignore excludes none of
#     them, and the runtime stage has the user, ports and command the compose file and chart use
#   - the compose file with `docker compose config -q` (no daemon needed), when a docker CLI with
#     the compose plugin is on PATH (or docker-compose v1)
#   - the Helm chart: values.schema.json is a valid schema and values.yaml and every
#     ci/*-values.yaml pass it; then the chart is linted and rendered with each of those values
#     files, by a helm binary when there is one, else by the helm-python-sdk package (Helm's
#     own Go SDK in a wheel), and the rendered node.toml and Deployment are checked (its
#     [telemetry] as the telemetry values say, none when they are empty)
#   - `matchgate check-config` (exit 0 wanted) on each compose node.toml, on the node.toml the
#     chart renders with each ci/*-values.yaml, and on deploy/node.example.toml: the certificates
#     of `matchgate certs --host gemeente --host uwv --host sw-bedrijf` and node secrets written
#     into a temporary directory laid out as the compose file and the Deployment mount them, and
#     the configurations' absolute paths moved under it. Needs a matchgate binary with that
#     command: $MATCHGATE_BIN (then it must be one), else target/release/matchgate,
#     target/debug/matchgate or matchgate on PATH; none: skipped. The script never builds one.
#
# Python 3 with PyYAML and jsonschema is needed; when they are missing they are installed into a
# virtual environment at ${DEPLOY_CHECK_VENV:-~/.cache/matchgate-deploy-check} (PyPI). The Helm
# SDK wheel (about 75 MB) is installed there too when no helm binary is found, unless
# DEPLOY_CHECK_NO_INSTALL=1 (install nothing) or DEPLOY_CHECK_NO_HELM_SDK=1.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "FAIL  python3 not found: it runs every check"
  exit 1
fi

have() { "$1" -c "import $2" >/dev/null 2>&1; }
need=()
have "$PY" yaml || need+=("PyYAML>=6")
have "$PY" jsonschema || need+=("jsonschema>=4")
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || have "$PY" tomli || need+=("tomli>=2")
if ! command -v helm >/dev/null 2>&1 && [ -z "${DEPLOY_CHECK_NO_HELM_SDK:-}" ] && ! have "$PY" helm_python; then
  need+=("helm-python-sdk==0.2.2")
fi

if [ "${#need[@]}" -gt 0 ] && [ -z "${DEPLOY_CHECK_NO_INSTALL:-}" ]; then
  venv=${DEPLOY_CHECK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/matchgate-deploy-check}
  if [ ! -x "$venv/bin/python" ]; then
    "$PY" -m venv --system-site-packages "$venv" >/dev/null 2>&1 || echo "note  could not create a virtual environment at $venv"
  fi
  if [ -x "$venv/bin/python" ]; then
    PY="$venv/bin/python"
    still=()
    for p in "${need[@]}"; do
      case "$p" in
        PyYAML*) have "$PY" yaml || still+=("$p") ;;
        jsonschema*) have "$PY" jsonschema || still+=("$p") ;;
        tomli*) have "$PY" tomli || still+=("$p") ;;
        helm-python-sdk*) have "$PY" helm_python || still+=("$p") ;;
      esac
    done
    if [ "${#still[@]}" -gt 0 ]; then
      echo "note  installing into $venv: ${still[*]}"
      log=$(mktemp)
      # the Helm SDK is optional: install the rest even when it cannot be had
      for p in "${still[@]}"; do
        "$PY" -m pip install --quiet --disable-pip-version-check "$p" >>"$log" 2>&1 \
          || echo "note  could not install $p (pip: $(tail -n 1 "$log"))"
      done
      rm -f "$log"
    fi
  fi
fi

exec "$PY" - "$@" <<'PYTHON'
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = []
skips = []


def ok(msg):
    print(f"ok    {msg}")


def fail(msg):
    failures.append(msg)
    print(f"FAIL  {msg}")


def skip(msg):
    skips.append(msg)
    print(f"skip  {msg}")


try:
    import yaml
except ImportError:
    fail("PyYAML is not installed and could not be (pip install PyYAML): nothing can be checked")
    sys.exit(1)
try:
    import tomllib
except ImportError:
    try:
        import tomli as tomllib
    except ImportError:
        fail("no TOML parser (Python 3.11's tomllib, or pip install tomli)")
        sys.exit(1)
try:
    import jsonschema
except ImportError:
    jsonschema = None

ROOT = os.getcwd()
DEPLOY = "deploy"
COMPOSE = "deploy/compose/docker-compose.yml"
CHART = "deploy/helm/matchgate"
DOCKERFILE = "deploy/Dockerfile"

# node.toml's keys as crates/node/src/config.rs (and telemetry.rs) read them
# (deny_unknown_fields): a key not here keeps the node from starting. The node's own word is
# `matchgate check-config` (below, when a binary is at hand): keep this in step.
NODE_KEYS = {
    "": {"oin", "name", "suwi", "database", "secret_file", "tls", "listen", "local", "peers",
         "grants", "peer_deadline_ms", "limits", "rest", "admin", "telemetry"},
    "tls": {"cert", "key", "ca"},
    "local": {"listen", "ca", "clients"},
    "local.clients": {"oin", "cn"},
    "limits": {"requests_per_second", "burst", "max_message_bytes",
               "concurrent_calls_per_connection", "details_per_selection", "detail_window_s",
               "result_ids_in_memory", "max_connections", "max_connections_per_peer", "max_handshakes",
               "max_handshakes_per_address", "handshake_timeout_s", "idle_timeout_s",
               "keepalive_interval_s", "keepalive_timeout_s", "max_header_bytes"},
    "rest": {"base_path", "bron", "bemiddelaar"},
    "admin": {"listen"},
    "telemetry": {"otlp_endpoint", "service_name"},
    "peers": {"oin", "name", "endpoint", "server_name", "protocol", "follow_feed",
              "feed_interval_s"},
    "grants": {"via", "on_behalf_of", "services", "suwi"},
}
SERVICES = {"node-info", "select-werkzoekenden", "select-vacatures", "get-werkzoekende",
            "get-vacature", "vacancy-feed", "transparency", "*"}
NODE_REQUIRED = {"oin", "name", "database", "secret_file", "tls", "listen", "local"}


def node_toml_problems(doc):
    """Keys the node would refuse, and the checks of config.rs that TOML cannot express."""
    out = []

    def keys(table, where):
        allowed = NODE_KEYS[where]
        for k in table:
            if k not in allowed:
                out.append(f"unknown key {(where + '.' if where else '')}{k}")

    keys(doc, "")
    for k in NODE_REQUIRED - doc.keys():
        out.append(f"missing key {k}")
    for section in ("tls", "local", "limits", "rest", "admin", "telemetry"):
        if isinstance(doc.get(section), dict):
            keys(doc[section], section)
    for c in doc.get("local", {}).get("clients", []):
        keys(c, "local.clients")
        if not (c.get("oin") or c.get("cn")):
            out.append("a local.clients entry names neither an oin nor a cn")
    oin = re.compile(r"^[0-9]{20}$")
    if not oin.match(str(doc.get("oin", ""))):
        out.append(f"oin {doc.get('oin')!r} is not 20 digits")
    tel = doc.get("telemetry", {})
    if isinstance(tel, dict) and "otlp_endpoint" in tel:
        h, port, _ = host_of(str(tel["otlp_endpoint"]))
        if not str(tel["otlp_endpoint"]).startswith(("http://", "https://")) or h is None:
            out.append(f"telemetry.otlp_endpoint {tel['otlp_endpoint']!r} is not an http:// URL")
        elif port == "4318":
            out.append(f"telemetry.otlp_endpoint {tel['otlp_endpoint']!r}: 4318 is OTLP/HTTP; the node speaks OTLP/gRPC (4317)")
    for i, p in enumerate(doc.get("peers", [])):
        keys(p, "peers")
        if not str(p.get("endpoint", "")).startswith("https://"):
            out.append(f"peers[{i}].endpoint is not an https:// URL")
        if p.get("protocol", "matchgate") not in ("matchgate", "vum-bron", "vum-bemiddelaar"):
            out.append(f"peers[{i}].protocol {p.get('protocol')!r} is unknown")
        if p.get("protocol", "matchgate") != "matchgate" and p.get("follow_feed"):
            out.append(f"peers[{i}].follow_feed: a {p['protocol']} peer has no vacancy feed")
        if p.get("protocol", "matchgate") != "matchgate" and "server_name" in p:
            out.append(f"peers[{i}].server_name: a {p['protocol']} peer is checked against its URL's host")
    for i, g in enumerate(doc.get("grants", [])):
        keys(g, "grants")
        for s in g.get("services", []):
            if s not in SERVICES:
                out.append(f"grants[{i}].services: unknown service {s!r}")
    return out


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return list(yaml.safe_load_all(f))


def load_toml(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


def host_of(url):
    m = re.match(r"^[a-z]+://(?:[^@/]*@)?(\[[^\]]+\]|[^:/?#]+)(?::(\d+))?(/[^?#]*)?", url)
    return (m.group(1), m.group(2), m.group(3)) if m else (None, None, None)


# --- YAML and TOML parse ------------------------------------------------------------------------
yaml_files = sorted(
    p for p in glob.glob(f"{DEPLOY}/**/*.y*ml", recursive=True)
    if "/templates/" not in p and p.endswith((".yml", ".yaml"))
)
bad = 0
for p in yaml_files:
    try:
        load_yaml_all(p)
    except yaml.YAMLError as e:
        bad += 1
        fail(f"{p} is not YAML: {e}")
if not bad:
    ok(f"{len(yaml_files)} YAML files under deploy/ parse (helm templates are checked rendered, below)")
toml_files = sorted(glob.glob(f"{DEPLOY}/**/*.toml", recursive=True))
bad = 0
for p in toml_files:
    try:
        load_toml(p)
    except tomllib.TOMLDecodeError as e:
        bad += 1
        fail(f"{p} is not TOML: {e}")
if not bad:
    ok(f"{len(toml_files)} TOML files under deploy/ parse")

# --- what the code says the development PKI writes ----------------------------------------------
def dev_orgs():
    src = open("crates/matchgate/src/node_cmd.rs", encoding="utf-8").read()
    m = re.search(r"DEFAULT_ORGS[^=]*=\s*\[(.*?)\];", src, re.S)
    return dict(re.findall(r'\("([^"]+)",\s*"(\d{20})"\)', m.group(1))) if m else {}


def own_systems_cn(name):
    src = open("crates/node/src/pki.rs", encoding="utf-8").read()
    m = re.search(r'fn own_systems_cn\(name: &str\) -> String \{\s*format!\("\{name\}([^"]*)"\)', src)
    return None if m is None else name + m.group(1)


ORGS = dev_orgs()
if not ORGS:
    fail("crates/matchgate/src/node_cmd.rs: DEFAULT_ORGS not found (the compose file relies on them)")


def pki_files(orgs):
    files = {"ca.pem", "local-ca.pem", "foreign-ca.pem", "expired.pem", "expired.key",
             "foreign.pem", "foreign.key"}
    for n in orgs:
        files |= {f"{n}.pem", f"{n}.key", f"{n}-local.pem", f"{n}-local.key"}
    return files


# --- the compose file: mounts, one-shot services, cross references ------------------------------
compose = None
try:
    compose = load_yaml_all(COMPOSE)[0]
except (OSError, yaml.YAMLError) as e:
    fail(f"{COMPOSE}: {e}")


def dockerfile_cmd_config():
    text = open(DOCKERFILE, encoding="utf-8").read()
    m = re.search(r'^CMD\s+(\[.*\])\s*$', text, re.M)
    cmd = json.loads(m.group(1)) if m else []
    return cmd[cmd.index("--config") + 1] if "--config" in cmd else None


if compose:
    services = compose.get("services", {})
    node_services = {n: s for n, s in services.items()
                     if any(str(v).endswith(":/etc/matchgate/node.toml:ro") or
                            str(v).split(":")[1:2] == ["/etc/matchgate/node.toml"]
                            for v in s.get("volumes", []))}
    cfg_path = dockerfile_cmd_config()
    problems = []
    if set(node_services) != set(ORGS):
        problems.append(f"node services {sorted(node_services)} are not the dev PKI's organisations {sorted(ORGS)}")
    # what each one-shot writes into its volume
    certs_cmd = " ".join(map(str, services.get("certs", {}).get("command", [])))
    hosts = set(re.findall(r"--host\s+(\S+)", certs_cmd))
    certs_out = re.search(r"matchgate certs --out (\S+)", certs_cmd)
    secrets_cmd = " ".join(map(str, services.get("secrets", {}).get("command", [])))
    m = re.search(r"for n in ([^;]+);", secrets_cmd)
    secret_names = m.group(1).split() if m else []
    volume_files = {}

    def mount_of(service, target):
        for v in service.get("volumes", []):
            parts = str(v).split(":")
            if len(parts) >= 2 and parts[1] == target:
                return parts[0]
        return None

    if certs_out:
        vol = mount_of(services["certs"], certs_out.group(1))
        volume_files[vol] = pki_files(ORGS)
    else:
        problems.append("the certs service does not run `matchgate certs --out DIR`")
    vol = mount_of(services.get("secrets", {}), "/secrets")
    if vol:
        volume_files[vol] = {f"{n}.secret" for n in secret_names}
    else:
        problems.append("the secrets service mounts no volume at /secrets")
    pg_init = "deploy/compose/postgres/init-databases.sh"
    databases = set(re.findall(r'CREATE DATABASE "?([\w-]+)"?', open(pg_init).read())) if os.path.exists(pg_init) else set()
    prom = {}
    try:
        prom = load_yaml_all("deploy/compose/prometheus.yml")[0]
    except (OSError, yaml.YAMLError):
        pass
    prom_targets = {t for job in prom.get("scrape_configs", []) for sc in job.get("static_configs", []) for t in sc.get("targets", [])}
    local_cn = own_systems_cn("X")

    def collector_grpc_port(svc_name):
        """The OTLP/gRPC receiver port of the collector service's configuration (None: none),
        and the problems found on the way there."""
        svc = services.get(svc_name, {})
        cmd = " ".join(map(str, svc.get("command", [])))
        m = re.search(r"--config[= ](\S+)", cmd)
        cfg = None
        for v in svc.get("volumes", []):
            parts = str(v).split(":")
            if m and len(parts) >= 2 and parts[1] == m.group(1):
                cfg = os.path.normpath(os.path.join(os.path.dirname(COMPOSE), parts[0]))
        if cfg is None or not os.path.isfile(cfg):
            return None, [f"services.{svc_name}: no collector configuration mounted at its --config path"]
        try:
            conf = load_yaml_all(cfg)[0]
        except (OSError, yaml.YAMLError) as e:
            return None, [f"{cfg}: {e}"]
        out = []
        traces = conf.get("service", {}).get("pipelines", {}).get("traces", {})
        if "otlp" not in traces.get("receivers", []) or not traces.get("exporters"):
            out.append(f"{cfg}: no traces pipeline from the otlp receiver to an exporter")
        protocols = (conf.get("receivers", {}).get("otlp") or {}).get("protocols") or {}
        if "grpc" not in protocols:
            return None, out + [f"{cfg}: the otlp receiver has no grpc protocol"]
        return str((protocols["grpc"] or {}).get("endpoint", "0.0.0.0:4317")).rsplit(":", 1)[-1], out
    for name, svc in sorted(node_services.items()):
        mounts = {}
        toml_host = None
        for v in svc.get("volumes", []):
            parts = str(v).split(":")
            if len(parts) < 2:
                continue
            src, dst = parts[0], parts[1]
            mounts[dst] = src
            if dst == cfg_path:
                toml_host = os.path.normpath(os.path.join(os.path.dirname(COMPOSE), src))
        if cfg_path is None or toml_host is None:
            problems.append(f"{name}: no node.toml mounted at the image's --config path {cfg_path}")
            continue
        if not os.path.isfile(toml_host):
            problems.append(f"{name}: {toml_host} does not exist")
            continue
        doc = load_toml(toml_host)
        for p in node_toml_problems(doc):
            problems.append(f"{toml_host}: {p}")
        # every file it names: in a mounted volume, written there by a one-shot service
        named = [("tls.cert", doc["tls"]["cert"]), ("tls.key", doc["tls"]["key"]),
                 ("tls.ca", doc["tls"]["ca"]), ("local.ca", doc["local"]["ca"]),
                 ("secret_file", doc["secret_file"])]
        for key, path in named:
            if not os.path.isabs(path):
                problems.append(f"{toml_host}: {key} {path} is relative; the compose layout wants absolute paths")
                continue
            d, f = os.path.split(path)
            vol = mounts.get(d)
            if vol is None:
                problems.append(f"{toml_host}: {key} {path}: nothing is mounted at {d}")
            elif f not in volume_files.get(vol, set()):
                problems.append(f"{toml_host}: {key} {path}: no one-shot service writes {f} into volume {vol}")
        cert = os.path.basename(doc["tls"]["cert"])
        org = cert[:-4] if cert.endswith(".pem") else None
        if ORGS.get(org) != doc.get("oin"):
            problems.append(f"{toml_host}: oin {doc.get('oin')} is not the OIN `matchgate certs` puts in {cert} ({ORGS.get(org)})")
        if local_cn:
            for c in doc["local"].get("clients", []):
                if "cn" in c and c["cn"] != own_systems_cn(name):
                    problems.append(f"{toml_host}: local.clients cn {c['cn']!r} is not the dev PKI's {own_systems_cn(name)!r}")
        # database: the postgres service, a database its init script creates
        h, _, path = host_of(doc["database"])
        if h not in services:
            problems.append(f"{toml_host}: database host {h} is no compose service")
        if (path or "/").lstrip("/") not in databases:
            problems.append(f"{toml_host}: database {path} is not created by {pg_init}")
        # peers: the other nodes, by service name, a name the certificates carry
        others = {ORGS[n]: n for n in node_services if n != name and n in ORGS}
        for p in doc.get("peers", []):
            h, port, _ = host_of(p["endpoint"])
            if h not in node_services:
                problems.append(f"{toml_host}: peer {p['endpoint']} is no compose node service")
            elif others.get(p["oin"]) != h:
                problems.append(f"{toml_host}: peer {p['endpoint']} has OIN {p['oin']}, not {h}'s")
            if p.get("server_name", h) not in hosts | {"localhost", "127.0.0.1"}:
                problems.append(f"{toml_host}: peer {p['endpoint']}: {p.get('server_name', h)} is not among the certs service's --host names {sorted(hosts)}")
        vias = {g["via"] for g in doc.get("grants", [])}
        if vias != set(others):
            problems.append(f"{toml_host}: grants cover {sorted(vias)}, not the other nodes {sorted(others)}")
        admin = doc.get("admin", {}).get("listen", "")
        if f"{name}:{admin.rsplit(':', 1)[-1]}" not in prom_targets:
            problems.append(f"{toml_host}: Prometheus does not scrape {name}:{admin.rsplit(':', 1)[-1]} (admin.listen {admin!r})")
        # traces: to the compose file's collector over OTLP/gRPC, as matchgate-<node>, and the node
        # starts after it (started: the collector has no healthcheck)
        tel = doc.get("telemetry")
        if not isinstance(tel, dict) or not tel.get("otlp_endpoint"):
            problems.append(f"{toml_host}: no [telemetry] otlp_endpoint: its spans reach no collector")
        else:
            h, port, _ = host_of(tel["otlp_endpoint"])
            if h not in services:
                problems.append(f"{toml_host}: telemetry.otlp_endpoint {tel['otlp_endpoint']}: {h} is no compose service")
            else:
                grpc_port, probs = collector_grpc_port(h)
                problems += probs
                if grpc_port is not None and (port or "80") != grpc_port:
                    problems.append(f"{toml_host}: telemetry.otlp_endpoint {tel['otlp_endpoint']}: {h}'s OTLP/gRPC receiver listens on {grpc_port}")
                dep = svc.get("depends_on", {})
                cond = dep.get(h, {}).get("condition") if isinstance(dep, dict) else (h in dep and "service_started")
                if cond != "service_started":
                    problems.append(f"services.{name}.depends_on.{h}: condition {cond!r}, not service_started")
            if tel.get("service_name") != f"matchgate-{name}":
                problems.append(f"{toml_host}: telemetry.service_name {tel.get('service_name')!r} is not 'matchgate-{name}'")
    for n, s in services.items():
        for v in s.get("volumes", []):
            src = str(v).split(":")[0]
            if src.startswith((".", "/")) and not os.path.exists(os.path.join(os.path.dirname(COMPOSE), src)):
                problems.append(f"services.{n} mounts {src}, which does not exist")
        test = s.get("healthcheck", {}).get("test")
        if test is not None and not (isinstance(test, str) or (isinstance(test, list) and all(isinstance(x, str) for x in test))):
            problems.append(f"services.{n}.healthcheck.test is not a string or a list of strings: {test!r}")
    for p in problems:
        fail(f"compose layout: {p}")
    if not problems:
        ok(f"compose layout: {len(node_services)} node.toml files know their keys, name only files the "
           f"compose file mounts and its one-shot services write, and agree with the dev PKI, the "
           f"peers, the databases, Prometheus and the OTLP/gRPC collector they depend on")

    # the compose file itself, by the compose implementation
    def run(cmd, **kw):
        return subprocess.run(cmd, capture_output=True, text=True, **kw)

    docker = shutil.which("docker")
    if docker and run([docker, "compose", "version"]).returncode == 0:
        r = run([docker, "compose", "-f", COMPOSE, "config", "-q"])
        if r.returncode == 0:
            ok(f"docker compose config -q accepts {COMPOSE}")
        else:
            fail(f"docker compose config -q: {r.stderr.strip()}")
    elif shutil.which("docker-compose"):
        # v1 predates the top-level `name`; it checks the rest, fed without it on stdin
        v1 = {k: v for k, v in compose.items() if k != "name"}
        r = run(["docker-compose", "-f", "-", "config", "-q"], cwd=os.path.dirname(COMPOSE),
                input=yaml.safe_dump(v1, sort_keys=False))
        if r.returncode == 0:
            ok(f"docker-compose (v1) config -q accepts {COMPOSE}, less its top-level name (v1 knows an older compose spec; docker compose v2 is the reference)")
        else:
            fail(f"docker-compose (v1) config -q: {r.stderr.strip()}")
    else:
        skip("docker compose config: no docker CLI with the compose plugin (nor docker-compose) on PATH"
             if docker else "docker compose config: no docker CLI on PATH")

# --- the Dockerfile -----------------------------------------------------------------------------
try:
    df = open(DOCKERFILE, encoding="utf-8").read()
    stages = re.split(r"^FROM\s", df, flags=re.M)[1:]
    builder = stages[0] if stages else ""
    copied = set()
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", builder, re.M):
        parts = line.split()
        copied |= {p.rstrip("/") for p in parts[:-1]}
    ignored = [l.strip() for l in open(DOCKERFILE + ".dockerignore") if l.strip() and not l.startswith("#")]
    problems = []
    for must in ("Cargo.toml", "Cargo.lock", "crates"):
        if must not in copied:
            problems.append(f"the builder does not copy {must}")
    # files the crates read at compile time
    needed = set()
    for rs in glob.glob("crates/*/src/**/*.rs", recursive=True) + glob.glob("crates/*/build.rs"):
        text = open(rs, encoding="utf-8").read()
        for rel in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"\s*\)', text):
            target = os.path.relpath(os.path.normpath(os.path.join(os.path.dirname(rs), rel)), ROOT)
            needed.add((target, rs))
        if rs.endswith("build.rs"):
            for rel in re.findall(r'join\("(\.\./[^"]+)"\)', text):
                target = os.path.relpath(os.path.normpath(os.path.join(os.path.dirname(rs), rel)), ROOT)
                needed.add((target, rs))
    for target, by in sorted(needed):
        top = target.split(os.sep)[0]
        if target.startswith(".."):
            problems.append(f"{by} includes {target}, outside the repository (the build context)")
        elif top not in copied and target not in copied:
            problems.append(f"{by} includes {target}, but the builder does not COPY {top}")
        if not os.path.exists(target):
            problems.append(f"{by} includes {target}, which does not exist")
        for pat in ignored:
            p = pat.strip("/").replace("**/", "")
            if top == p or target == p:
                problems.append(f"{DOCKERFILE}.dockerignore excludes {pat}, which {by} includes")
    runtime = stages[-1] if stages else ""
    if not re.search(r"^USER\s+10001", runtime, re.M):
        problems.append("the runtime stage does not run as uid 10001")
    exposed = set(" ".join(re.findall(r"^EXPOSE\s+(.+)$", runtime, re.M)).split())
    if exposed != {"7443", "7444", "9464"}:
        problems.append(f"EXPOSE {sorted(exposed)} is not 7443 7444 9464")
    if not re.search(r'^ENTRYPOINT \["matchgate"\]', runtime, re.M):
        problems.append('ENTRYPOINT is not ["matchgate"]')
    for p in problems:
        fail(f"Dockerfile: {p}")
    if not problems:
        ok(f"Dockerfile: the builder copies {sorted(copied)}, which hold all {len(needed)} files the crates "
           f"include at compile time; uid 10001, ports 7443 7444 9464, ENTRYPOINT matchgate")
except OSError as e:
    fail(f"Dockerfile: {e}")
if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
    skip("docker build: a daemon runs here, but this check never builds (a release build takes 15+ minutes): "
         "docker build -f deploy/Dockerfile -t matchgate:dev .")
else:
    skip("docker build: no running Docker daemon" if shutil.which("docker") else "docker build: no docker CLI")

# --- the Helm chart -----------------------------------------------------------------------------
def merge(a, b):
    out = dict(a)
    for k, v in (b or {}).items():
        out[k] = merge(a[k], v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
    return out


values_files = sorted(glob.glob(f"{CHART}/ci/*-values.yaml"))
base_values = load_yaml_all(f"{CHART}/values.yaml")[0]
cases = [("values.yaml", base_values, None)] + [
    (os.path.relpath(f, CHART), merge(base_values, load_yaml_all(f)[0]), f) for f in values_files]
schema = json.load(open(f"{CHART}/values.schema.json"))
if jsonschema is None:
    skip("values.schema.json: jsonschema is not installed and could not be (pip install jsonschema)")
else:
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        bad = False
        for label, vals, _ in cases:
            for e in jsonschema.Draft7Validator(schema).iter_errors(vals):
                bad = True
                fail(f"chart values {label}: {'/'.join(map(str, e.path))}: {e.message}")
        # what it must refuse
        for what, bad_vals in (
                ("telemetry.otlpEndpoint on OTLP/HTTP's 4318 (the node speaks OTLP/gRPC)",
                 merge(base_values, {"telemetry": {"otlpEndpoint": "http://otel-collector:4318"}})),
                ("telemetry.otlp_endpoint (node.toml's name, not the value's)",
                 merge(base_values, {"telemetry": {"otlp_endpoint": "http://otel-collector:4317"}}))):
            if jsonschema.Draft7Validator(schema).is_valid(bad_vals):
                bad = True
                fail(f"values.schema.json accepts {what}")
        if not bad:
            ok(f"values.schema.json is a valid draft-07 schema; {', '.join(l for l, _, _ in cases)} pass it; "
               f"it refuses an OTLP/HTTP (4318) endpoint and node.toml's key names under telemetry")
    except jsonschema.SchemaError as e:
        fail(f"values.schema.json is not a valid schema: {e.message}")


RENDERED = []   # (label, node.toml as the chart renders it): for matchgate check-config, below


def check_rendered(label, manifests, vals):
    """The rendered chart: kinds, the node.toml, the Deployment's probes, ports and hardening."""
    problems = []
    docs = [d for text in manifests.values() for d in yaml.safe_load_all(text) if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    for k in ("ConfigMap", "Deployment", "Service", "PodDisruptionBudget"):
        if k not in kinds:
            problems.append(f"no {k}")
    if problems:
        return problems
    toml_text = kinds["ConfigMap"][0]["data"]["node.toml"]
    RENDERED.append((label, toml_text))
    try:
        doc = tomllib.loads(toml_text.replace('"@DATABASE_URL@"', '"postgres://u@h/db"'))
        problems += [f"node.toml: {p}" for p in node_toml_problems(doc)]
    except tomllib.TOMLDecodeError as e:
        return [f"node.toml is not TOML: {e}"]
    # [telemetry]: the telemetry values' keys under node.toml's names, no table when both are empty
    tv = vals.get("telemetry") or {}
    want_tel = {k: tv[v] for k, v in (("otlp_endpoint", "otlpEndpoint"), ("service_name", "serviceName")) if tv.get(v)}
    if doc.get("telemetry") != (want_tel or None):
        problems.append(f"node.toml [telemetry] is {doc.get('telemetry')}, not {want_tel or 'absent'} (values: telemetry)")
    dep = kinds["Deployment"][0]
    spec = dep["spec"]["template"]["spec"]
    if dep["spec"]["replicas"] != vals["replicaCount"]:
        problems.append("replicas differ from replicaCount")
    c = spec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if ports != {"peer": 7443, "local": 7444, "admin": 9464}:
        problems.append(f"container ports {ports}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        g = c.get(probe, {}).get("httpGet", {})
        if g.get("path") != path or ports.get(g.get("port"), g.get("port")) != 9464:
            problems.append(f"{probe} is not GET {path} on the admin port")
    sc = c.get("securityContext", {})
    if not (sc.get("readOnlyRootFilesystem") and sc.get("runAsNonRoot")
            and "ALL" in sc.get("capabilities", {}).get("drop", [])):
        problems.append("the container is not read-only, non-root, with ALL capabilities dropped")
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    conf = c["args"][c["args"].index("--config") + 1]
    for key, path in (("tls.cert", doc["tls"]["cert"]), ("tls.key", doc["tls"]["key"]),
                      ("tls.ca", doc["tls"]["ca"]), ("local.ca", doc["local"]["ca"]),
                      ("secret_file", doc["secret_file"]), ("--config", conf)):
        d, f = os.path.split(path)
        vol = next((v for v in spec["volumes"] if v["name"] == mounts.get(d)), None)
        if vol is None:
            problems.append(f"{key} {path}: nothing mounted at {d}")
            continue
        items = [i["path"] for i in (vol.get("secret") or vol.get("configMap") or {}).get("items", [])]
        if items and f not in items:
            problems.append(f"{key} {path}: volume {vol['name']} has no item {f}")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace <= vals["preStopSleepSeconds"]:
        problems.append("terminationGracePeriodSeconds leaves no time to drain after preStop")
    peer = [s for s in kinds["Service"] if any(p.get("name") == "peer" for p in s["spec"]["ports"])]
    want = vals["service"]["sessionAffinity"]
    if not peer or peer[0]["spec"].get("sessionAffinity", "None") != want:
        problems.append(f"the peer Service's sessionAffinity is not {want} (service.sessionAffinity)")
    elif want == "ClientIP" and peer[0]["spec"].get("sessionAffinityConfig", {}).get("clientIP", {}).get(
            "timeoutSeconds") != vals["service"]["sessionAffinityTimeoutSeconds"]:
        problems.append("the peer Service's affinity timeout is not service.sessionAffinityTimeoutSeconds")
    admin = [s for s in kinds["Service"] if s["spec"]["ports"][0]["port"] == 9464]
    if not admin or admin[0]["metadata"].get("annotations", {}).get("prometheus.io/scrape") != "true":
        problems.append("no admin Service with prometheus.io annotations")
    return problems


helm_bin = shutil.which("helm")
rendered = False
if helm_bin:
    r = subprocess.run([helm_bin, "lint", "--strict", CHART] + sum((["-f", f] for f in values_files[:1]), []),
                       capture_output=True, text=True)
    (ok if r.returncode == 0 else fail)(f"helm lint --strict {CHART}" + ("" if r.returncode == 0 else f": {r.stdout[-2000:]}{r.stderr[-1000:]}"))
    r = subprocess.run([helm_bin, "template", "gemeente", CHART], capture_output=True, text=True)
    if r.returncode != 0 and "database" in r.stderr:
        ok("helm template with the defaults alone is refused: no database given")
    else:
        fail(f"helm template with the defaults alone: {'renders, but no database is given' if r.returncode == 0 else r.stderr.strip()}")
    for label, vals, f in cases[1:]:
        r = subprocess.run([helm_bin, "template", "gemeente", CHART, "-f", f], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"helm template with {label}: {r.stderr.strip()}")
            continue
        problems = check_rendered(label, {"all": r.stdout}, vals)
        for p in problems:
            fail(f"helm template with {label}: {p}")
        if not problems:
            ok(f"helm template with {label}: renders; node.toml (its [telemetry] too), probes, ports, mounts, session affinity and hardening check out")
    rendered = True
else:
    try:
        import helm_python as helm
    except ImportError:
        helm = None
    if helm is None:
        skip("helm lint/template: no helm binary on PATH, and the helm-python-sdk package (Helm's Go SDK) "
             "is not installed" + (" (DEPLOY_CHECK_NO_HELM_SDK/NO_INSTALL set)" if os.environ.get("DEPLOY_CHECK_NO_HELM_SDK") or os.environ.get("DEPLOY_CHECK_NO_INSTALL") else " and could not be")
             + "; only the values schema was checked")
    else:
        sdk = f"helm-python-sdk {helm.helm_c_version()}, Helm SDK {helm.helm_sdk_version()}"
        res = helm.lint(CHART, load_yaml_all(values_files[0])[0] if values_files else None, strict=True)
        errs = res.get("errors") or [m for m in res.get("messages", []) if m.get("severity", 0) >= 2]
        if errs:
            for e in errs:
                fail(f"helm lint --strict ({sdk}): {e}")
        else:
            ok(f"helm lint --strict ({sdk}): no warnings or errors")
        # the defaults alone must be refused: no database given
        with helm.Chart.load(CHART) as chart:
            try:
                chart.render(None, name="gemeente", namespace="vum", is_install=True)
                fail("helm template with the defaults alone renders, but no database is given")
            except Exception as e:
                if "database" in str(e):
                    ok("helm template with the defaults alone is refused: no database given")
                else:
                    fail(f"helm template with the defaults: {e}")
            for label, vals, f in cases[1:]:
                try:
                    chart.validate_schema(load_yaml_all(f)[0])
                    manifests = chart.render(load_yaml_all(f)[0], name="gemeente", namespace="vum", is_install=True)
                except Exception as e:
                    fail(f"helm template with {label} ({sdk}): {' '.join(str(e).split())}")
                    continue
                problems = check_rendered(label, {k: v for k, v in manifests.items() if k.endswith(".yaml")}, vals)
                for p in problems:
                    fail(f"helm template with {label}: {p}")
                if not problems:
                    ok(f"helm template with {label} ({sdk}): renders; node.toml (its [telemetry] too), probes, ports, mounts, session affinity and hardening check out")
        rendered = True

# --- matchgate check-config: the node's own word on every node.toml here ------------------------
# Each configuration is checked where it would run: its absolute paths (/etc/matchgate/...) moved
# under a temporary root holding what the compose file or the Deployment mounts there, the
# certificates from `matchgate certs` and node secrets as the deployment makes them.
def find_matchgate():
    env = os.environ.get("MATCHGATE_BIN")
    if env:
        return env, True
    for c in ("target/release/matchgate", "target/debug/matchgate", shutil.which("matchgate")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c, False
    return None, False


def write_secret(path):
    # as the compose file's secrets service does: 32 random bytes, base64, mode 0600
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(__import__("base64").b64encode(os.urandom(32)).decode() + "\n")


def under(root, text):
    """node.toml text with its absolute /etc/matchgate paths moved under root."""
    return text.replace('"/etc/matchgate/', f'"{root}/etc/matchgate/')


def check_config(mg, path, label, tmp):
    try:
        r = subprocess.run([mg, "check-config", path], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        fail(f"matchgate check-config {label}: {e}")
        return
    if r.returncode == 0:
        ok(f"matchgate check-config {label}: no problems")
    else:
        out = (r.stdout + r.stderr).strip().replace(tmp, "TMP")
        fail(f"matchgate check-config {label} (exit {r.returncode}):\n      " + out.replace("\n", "\n      "))


mg, mg_from_env = find_matchgate()
mg_help = ""
if mg is not None and os.path.isfile(mg) and os.access(mg, os.X_OK):
    try:
        mg_help = subprocess.run([mg, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        pass
if mg is None:
    skip("matchgate check-config: no matchgate binary (MATCHGATE_BIN, target/release/matchgate, "
         "target/debug/matchgate, PATH); this script builds none: cargo build -p matchgate")
elif not mg_help:
    (fail if mg_from_env else skip)(f"matchgate check-config: {mg} does not run (matchgate --help)")
elif "check-config" not in mg_help:
    (fail if mg_from_env else skip)(f"matchgate check-config: {mg} has no check-config command (an older build)")
else:
    hosts = ["gemeente", "uwv", "sw-bedrijf"]
    if compose:
        hosts = re.findall(r"--host\s+(\S+)", " ".join(map(str, compose["services"]["certs"]["command"]))) or hosts
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as t:
        pki = f"{t}/pki"
        r = subprocess.run([mg, "certs", "--out", pki] + sum((["--host", h] for h in hosts), []),
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            fail(f"matchgate certs --out TMP/pki {' '.join('--host ' + h for h in hosts)}: {(r.stdout + r.stderr).strip()}")
        else:
            ok(f"matchgate certs --out TMP/pki {' '.join('--host ' + h for h in hosts)} ({mg})")
            # the compose nodes: each named volume's files at the path the node service mounts it
            if compose:
                services = compose["services"]
                vol_src = {}
                m = re.search(r"matchgate certs --out (\S+)", " ".join(map(str, services["certs"]["command"])))
                for v in services["certs"].get("volumes", []):
                    if m and str(v).split(":")[1:2] == [m.group(1)]:
                        vol_src[str(v).split(":")[0]] = ("pki", None)
                for v in services.get("secrets", {}).get("volumes", []):
                    if str(v).split(":")[1:2] == ["/secrets"]:
                        vol_src[str(v).split(":")[0]] = ("secrets", None)
                for n in sorted(node_services):
                    root = f"{t}/compose-{n}"
                    for v in node_services[n].get("volumes", []):
                        src, dst = (str(v).split(":") + [""])[:2]
                        kind = vol_src.get(src, (None,))[0]
                        if kind == "pki":
                            shutil.copytree(pki, root + dst)
                        elif kind == "secrets":
                            for s in ORGS:
                                write_secret(f"{root}{dst}/{s}.secret")
                    src = f"deploy/compose/{n}/node.toml"
                    os.makedirs(f"{root}/etc/matchgate", exist_ok=True)
                    with open(f"{root}/etc/matchgate/node.toml", "w") as f:
                        f.write(under(root, open(src).read()))
                    check_config(mg, f"{root}/etc/matchgate/node.toml", src, t)
            # the chart's node.toml: the Deployment mounts the certificates Secret's items cert, key,
            # ca, local-ca at /etc/matchgate/certs and the node secret at /etc/matchgate/secret
            by_oin = {o: n for n, o in ORGS.items()}
            for i, (label, text) in enumerate(RENDERED):
                root = f"{t}/chart-{i}"
                try:
                    doc = tomllib.loads(text)
                except tomllib.TOMLDecodeError:
                    continue   # reported above
                org = by_oin.get(doc.get("oin"))
                if org is None:
                    skip(f"matchgate check-config on the chart's node.toml ({label}): its oin {doc.get('oin')} is none of the dev PKI's")
                    continue
                files = {doc["tls"]["cert"]: f"{org}.pem", doc["tls"]["key"]: f"{org}.key",
                         doc["tls"]["ca"]: "ca.pem", doc["local"]["ca"]: "local-ca.pem"}
                for dst, name in files.items():
                    os.makedirs(os.path.dirname(root + dst), exist_ok=True)
                    shutil.copy2(f"{pki}/{name}", root + dst)
                    os.chmod(root + dst, 0o440)   # the Secret volume's defaultMode
                write_secret(root + doc["secret_file"])
                os.chmod(root + doc["secret_file"], 0o440)
                # the init container's part, when the URL is a Secret's
                text = text.replace('"@DATABASE_URL@"', '"postgres://matchgate:password@postgres.example/gemeente"')
                path = f"{root}/etc/matchgate/config/node.toml"
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(under(root, text))
                check_config(mg, path, f"on the chart's node.toml ({label}; key and secret 0440, as the Secret volumes mount them)", t)
            # deploy/node.example.toml: its relative paths beside it
            ex = f"{t}/example"
            shutil.copytree(pki, f"{ex}/certs")
            write_secret(f"{ex}/node.secret")
            shutil.copy2("deploy/node.example.toml", f"{ex}/node.toml")
            check_config(mg, f"{ex}/node.toml", "deploy/node.example.toml (beside the dev PKI and a node secret)", t)

# --- shell scripts ------------------------------------------------------------------------------
scripts = ["tools/deploy-check.sh"] + sorted(glob.glob(f"{DEPLOY}/**/*.sh", recursive=True))
if shutil.which("shellcheck"):
    r = subprocess.run(["shellcheck", "-S", "warning"] + scripts, capture_output=True, text=True)
    (ok if r.returncode == 0 else fail)(f"shellcheck {' '.join(scripts)}" + ("" if r.returncode == 0 else f":\n{r.stdout}"))
else:
    skip("shellcheck: not on PATH (apt-get install shellcheck)")
    for s in scripts:
        r = subprocess.run(["sh" if s.startswith(DEPLOY) else "bash", "-n", s], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"{s}: {r.stderr.strip()}")

print()
print(f"deploy-check: {len(failures)} failed, {len(skips)} skipped")
sys.exit(1 if failures else 0)
PYTHON
