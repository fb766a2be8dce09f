#!/usr/bin/env bash
# Regenerates Sources/CRIAPI/Generated from Protos/runtime/v1/api.proto.
# Builds protoc-gen-swift and protoc-gen-grpc-swift-2 from the package's own
# dependencies (a few minutes the first time) into .build-protoc, and needs
# protoc (Debian: protobuf-compiler).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc >/dev/null || apt-get install -y protobuf-compiler

scratch=.build-protoc
swift build -c release --scratch-path "$scratch" --product protoc-gen-swift
swift build -c release --scratch-path "$scratch" --product protoc-gen-grpc-swift-2
bin=$(swift build -c release --scratch-path "$scratch" --show-bin-path)

out=Sources/CRIAPI/Generated
mkdir -p "$out"
protoc -I Protos \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --swift_out="$out" --swift_opt=Visibility=Public,FileNaming=DropPath \
  --plugin=protoc-gen-grpc-swift="$bin/protoc-gen-grpc-swift-2" \
  --grpc-swift_out="$out" --grpc-swift_opt=Visibility=Public,FileNaming=DropPath,Server=true,Client=true \
  runtime/v1/api.proto
echo "generated: $(ls "$out")"
