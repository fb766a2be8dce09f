#!/usr/bin/env python3
"""Compares crio's runtime.v1 proto with an upstream k8s.io/cri-api api.proto.

Usage: scripts/check-proto.py path/to/upstream/api.proto

Both files are compiled with protoc; the check passes when every service, RPC,
message, field (name, number, type, label, oneof) and enum value is the same.
Options that do not change the wire (comments, debug_redact) are ignored.
Needs protoc and the Python protobuf package (pip install protobuf).
"""
import os, re, subprocess, sys, tempfile
from google.protobuf import descriptor_pb2

def descriptor(proto_path):
    with tempfile.TemporaryDirectory() as tmp:
        src = open(proto_path).read()
        # protoc from Debian 12 predates the debug_redact option.
        src = re.sub(r'\s*\[debug_redact\s*=\s*true\]', '', src)
        path = os.path.join(tmp, 'api.proto')
        open(path, 'w').write(src)
        out = os.path.join(tmp, 'api.desc')
        subprocess.run(['protoc', '-I', tmp, '--descriptor_set_out=' + out, path], check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        fds.ParseFromString(open(out, 'rb').read())
        f = fds.file[0]
        f.ClearField('source_code_info')
        f.ClearField('name')
        return f

def index(f):
    items = {}
    def walk_enum(e, prefix):
        for v in e.value:
            items['enum %s%s.%s' % (prefix, e.name, v.name)] = v.number
    def walk_msg(m, prefix):
        name = prefix + m.name
        items['message ' + name] = True
        for fl in m.field:
            oneof = m.oneof_decl[fl.oneof_index].name if fl.HasField('oneof_index') else ''
            items['field %s.%s' % (name, fl.name)] = (fl.number, fl.type, fl.label, fl.type_name,
                                                      oneof, fl.proto3_optional, fl.options.deprecated)
        for e in m.enum_type:
            walk_enum(e, name + '.')
        for n in m.nested_type:
            walk_msg(n, name + '.')
    items['package'] = f.package
    for e in f.enum_type:
        walk_enum(e, '')
    for m in f.message_type:
        walk_msg(m, '')
    for s in f.service:
        for meth in s.method:
            items['rpc %s.%s' % (s.name, meth.name)] = (meth.input_type, meth.output_type,
                                                        meth.client_streaming, meth.server_streaming)
    return items

def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    ours = index(descriptor(os.path.join(here, '..', 'Protos', 'runtime', 'v1', 'api.proto')))
    theirs = index(descriptor(sys.argv[1]))
    problems = []
    for key in sorted(set(ours) | set(theirs)):
        if key not in ours:
            problems.append('missing in crio: ' + key)
        elif key not in theirs:
            problems.append('not upstream: ' + key)
        elif ours[key] != theirs[key]:
            problems.append('differs: %s crio=%r upstream=%r' % (key, ours[key], theirs[key]))
    for p in problems:
        print(p)
    rpcs = sum(1 for k in ours if k.startswith('rpc '))
    print('%d entries compared, %d RPCs, %d differences' % (len(theirs), rpcs, len(problems)))
    sys.exit(1 if problems else 0)

main()
