#!/usr/bin/env python3
"""A client that is not ours: Python grpcio, stubs generated from proto/ at run time, mutual TLS.

Calls NodeInfo and SelectWerkzoekenden on a matchgate node's Peer service with the VUM party roles as
metadata, and prints one JSON line with what came back. Used by crates/node/tests/python_client.rs.

    python3 client.py --addr 127.0.0.1:7443 --ca ca.pem --cert me.pem --key me.key \
        --from-oin 000... --to-oin 000... --postcode 3511AA --afstand 100
"""
import argparse, importlib, json, pathlib, sys, tempfile, uuid

from grpc_tools import protoc
import grpc

ROOT = pathlib.Path(__file__).resolve().parents[2] / "proto"


def stubs(out: pathlib.Path):
    files = ["matchgate/v1/node.proto", "vum/v3/werkzoekenden.proto", "vum/v3/vacatures.proto"]
    inc = str(pathlib.Path(protoc.__file__).parent / "_proto")
    rc = protoc.main(["protoc", f"-I{ROOT}", f"-I{inc}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
    if rc != 0:
        sys.exit(f"protoc failed ({rc})")
    for d in [out / "matchgate", out / "matchgate/v1", out / "vum", out / "vum/v3"]:
        (d / "__init__.py").touch()
    sys.path.insert(0, str(out))
    return importlib.import_module("matchgate.v1.node_pb2"), importlib.import_module("matchgate.v1.node_pb2_grpc"), importlib.import_module("vum.v3.werkzoekenden_pb2")


def main():
    a = argparse.ArgumentParser()
    for k in ["addr", "ca", "cert", "key", "from-oin", "to-oin", "postcode"]:
        a.add_argument(f"--{k}", required=True)
    a.add_argument("--afstand", type=int, default=100)
    args = a.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        node_pb2, node_grpc, wz_pb2 = stubs(pathlib.Path(tmp))
        creds = grpc.ssl_channel_credentials(
            root_certificates=pathlib.Path(args.ca).read_bytes(),
            private_key=pathlib.Path(args.key).read_bytes(),
            certificate_chain=pathlib.Path(args.cert).read_bytes(),
        )
        opts = [("grpc.ssl_target_name_override", "localhost")]
        with grpc.secure_channel(args.addr, creds, options=opts) as ch:
            peer = node_grpc.PeerStub(ch)
            md = [
                ("x-vum-fromparty", args.from_oin), ("x-vum-viaparty", args.from_oin), ("x-vum-toparty", args.to_oin),
                ("x-vum-suwiparty", "true"), ("x-vum-berichtversie", "3.0.0"), ("x-transaction-id", str(uuid.uuid4())),
            ]
            info = peer.NodeInfo(node_pb2.NodeInfoRequest(), metadata=md, timeout=10)
            q = wz_pb2.WerkzoekendeProfielMatchesRequest()
            q.vraag_object.selectiegebied.postcode = args.postcode
            q.vraag_object.selectiegebied.afstand = args.afstand
            r = peer.SelectWerkzoekenden(q, metadata=md, timeout=10)
            try:
                peer.NodeInfo(node_pb2.NodeInfoRequest(), metadata=md[:1], timeout=10)
                refused = None
            except grpc.RpcError as e:
                refused = e.code().name
            print(json.dumps({
                "oin": info.oin, "name": info.name, "capabilities": list(info.capabilities),
                "matches": len(r.matches), "more": r.maximum_aantal_resultaten_bereikt,
                "first_postcode": r.matches[0].mobiliteit.bemiddelingspostcode if r.matches else None,
                "missing_metadata": refused,
            }))


if __name__ == "__main__":
    main()
