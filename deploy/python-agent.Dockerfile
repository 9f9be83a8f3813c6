# The example Python agent, with grpcio from Debian's packages (no pip).
# Build from the repository root: docker build -f deploy/python-agent.Dockerfile -t python-agent .
FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 python3-grpcio python3-protobuf \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 agent
WORKDIR /agent
COPY examples/python-agent/agent_server.py ./
COPY examples/python-agent/generated ./generated
USER agent
ENV AGENT_HOST=0.0.0.0 AGENT_PORT=50061
EXPOSE 50061
CMD ["python3", "agent_server.py"]
