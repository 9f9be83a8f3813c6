#!/usr/bin/env sh
# Regenerates the Python stubs in generated/ from ../../proto (needs python3-grpc-tools, from Debian).
# health.proto is compiled from its own folder so that its module is `health_pb2`, not a `grpc`
# package that would hide the real grpc module.
set -eu
cd "$(dirname "$0")"
PROTO=../../proto
/usr/bin/python3 -m grpc_tools.protoc -I"$PROTO" --python_out=generated --grpc_python_out=generated "$PROTO/agent.proto"
/usr/bin/python3 -m grpc_tools.protoc -I"$PROTO/grpc/health/v1" --python_out=generated --grpc_python_out=generated \
  "$PROTO/grpc/health/v1/health.proto"
