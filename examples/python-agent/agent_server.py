#!/usr/bin/env python3
"""A Python agent served over proto/agent.proto with grpcio.

Run:   /usr/bin/python3 agent_server.py --port 50061
Plug in your own agent by writing a class with `answer()` and `stream()` like KeywordAgent below,
and passing it to serve() (see README.md: LangChain example).
"""
import argparse
import inspect
import json
import os
import signal
import sys
import threading
import time
import uuid
from concurrent import futures

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "generated"))

import grpc  # noqa: E402

import agent_pb2  # noqa: E402
import agent_pb2_grpc  # noqa: E402
import health_pb2  # noqa: E402
import health_pb2_grpc  # noqa: E402


def log(msg, **fields):
    print(json.dumps({"level": "info", "service": "python-agent", "msg": msg, **fields}), flush=True)


def session_context(request):
    """The session's context (POST /api/v1/session's `context`) as a dict; empty outside a session."""
    return json.loads(request.context_json) if request.context_json else {}


class KeywordAgent:
    """A tiny stand-in for a real agent: answers by keyword overlap from a few notes and the session's `notes`."""

    NOTES = {
        "deadline": "Every agent call carries a deadline; past it the gateway answers 504.",
        "stream": "Streams are sent as Server-Sent Events or over a WebSocket, and can be resumed.",
        "python": "This agent is written in Python with grpcio and speaks proto/agent.proto.",
    }

    def answer(self, query, history, options, context):
        extra = context.get("notes")  # the context is the client's JSON: use only what has the expected shape
        if not isinstance(extra, dict):
            extra = {}
        notes = {**self.NOTES, **{key: text for key, text in extra.items() if isinstance(text, str)}}
        words = set(query.lower().split())
        hits = [(key, text) for key, text in notes.items() if key in words or any(key in w for w in words)]
        if not hits:
            hits = [("python", self.NOTES["python"])]
        text = " ".join(t for _, t in hits)
        sources = [agent_pb2.Source(id=k, title=k, content=t, score=1.0, uri=f"notes://{k}") for k, t in hits]
        prompt = len(query.split()) + sum(len(m.content.split()) for m in history)
        completion = len(text.split())
        usage = agent_pb2.Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)
        return text, sources, usage

    def stream(self, query, history, options, context):
        """Yields the answer piece by piece, then one final (sources, usage) tuple."""
        text, sources, usage = self.answer(query, history, options, context)
        for word in text.split(" "):
            yield word + " "
        yield (sources, usage)


class AgentService(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, agent, tokens_per_second):
        self.agent = agent
        self.gap = 1.0 / tokens_per_second if tokens_per_second > 0 else 0
        self.active = 0
        self.lock = threading.Lock()

    def _track(self, context):
        with self.lock:
            self.active += 1
        return dict(context.invocation_metadata()).get("x-request-id", "")

    def Query(self, request, context):
        request_id = self._track(context)
        try:
            started = time.monotonic()
            session = session_context(request)
            text, sources, usage = self.agent.answer(request.query, request.history, dict(request.options), session)
            return agent_pb2.QueryResponse(
                id=str(uuid.uuid4()),
                answer=text,
                sources=sources,
                usage=usage,
                latency_ms=int((time.monotonic() - started) * 1000),
            )
        finally:
            with self.lock:
                self.active -= 1
            log("call", method="Query", request_id=request_id)

    def StreamQuery(self, request, context):
        request_id = self._track(context)
        cancelled = threading.Event()

        def on_rpc_done():
            if not context.is_active():
                cancelled.set()

        context.add_callback(on_rpc_done)
        response_id = str(uuid.uuid4())
        sent = 0
        try:
            gap = float(request.options.get("py_gap_s", self.gap))
            session = session_context(request)
            for piece in self.agent.stream(request.query, request.history, dict(request.options), session):
                # The gateway cancels the call when its client cancels or goes away: stop working.
                if cancelled.is_set() or not context.is_active():
                    log("cancelled", method="StreamQuery", request_id=request_id, sent=sent)
                    return
                if isinstance(piece, tuple):
                    sources, usage = piece
                    yield agent_pb2.QueryChunk(id=response_id, chunk="", is_final=True, sources=sources, usage=usage)
                    break
                yield agent_pb2.QueryChunk(id=response_id, chunk=piece, is_final=False)
                sent += 1
                if gap:
                    cancelled.wait(gap)
            log("call", method="StreamQuery", request_id=request_id, sent=sent)
        finally:
            with self.lock:
                self.active -= 1

    def BatchQuery(self, request, context):
        results = []
        for item in request.requests:
            try:
                results.append(agent_pb2.BatchQueryResult(response=self.Query(item, context)))
            except Exception as error:  # one item's failure does not fail the batch
                results.append(
                    agent_pb2.BatchQueryResult(error=agent_pb2.BatchQueryError(code=13, message=str(error)))
                )
        return agent_pb2.BatchQueryResponse(results=results)


class Health(health_pb2_grpc.HealthServicer):
    """grpc.health.v1 for the server ("") and the agent service: SERVING until shutdown starts."""

    SERVICES = ("", "agent.AgentService")

    def __init__(self):
        self._status = health_pb2.HealthCheckResponse.SERVING
        self._changed = threading.Condition()

    def set(self, status):
        with self._changed:
            self._status = status
            self._changed.notify_all()

    def _status_of(self, service):
        return self._status if service in self.SERVICES else health_pb2.HealthCheckResponse.SERVICE_UNKNOWN

    def Check(self, request, context):
        if request.service not in self.SERVICES:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=self._status)

    def Watch(self, request, context):
        # Sends the status, then every change, as the protocol asks. A watcher holds one worker thread
        # for as long as it watches (grpcio's threaded server): count watchers in --max-workers.
        sent = None
        while context.is_active():
            with self._changed:
                if self._status_of(request.service) == sent:
                    self._changed.wait(timeout=1)  # also wakes now and then to notice a watcher gone
                status = self._status_of(request.service)
            if status != sent:
                sent = status
                yield health_pb2.HealthCheckResponse(status=status)


def check_plugin(agent):
    """Refuses at start, not on every call, an agent without answer()/stream() taking the four arguments."""
    for name in ("answer", "stream"):
        try:
            inspect.signature(getattr(agent, name)).bind("query", [], {}, {})
        except (AttributeError, TypeError):
            sys.exit(
                f"{type(agent).__name__}.{name}() must take (query, history, options, context): "
                "the session's context is its 4th argument since 2026-11-28 (see README.md)"
            )


def serve(agent, host, port, tokens_per_second, max_workers=32):
    check_plugin(agent)
    # Each call, a stream included, holds a worker thread until it ends; calls past max_workers wait
    # in grpcio's queue. Keep the gateway's max_in_flight for this agent within it (see the README).
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
    agent_pb2_grpc.add_AgentServiceServicer_to_server(AgentService(agent, tokens_per_second), server)
    health = Health()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    server.start()
    log("listening", port=bound)

    def stop(signum, _frame):
        log("shutting down", signal=signum)
        health.set(health_pb2.HealthCheckResponse.NOT_SERVING)
        server.stop(grace=5)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=os.environ.get("AGENT_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("AGENT_PORT", "50061")))
    parser.add_argument("--tokens-per-second", type=float, default=float(os.environ.get("AGENT_TOKENS_PER_SECOND", "20")))
    parser.add_argument("--max-workers", type=int, default=int(os.environ.get("AGENT_MAX_WORKERS", "32")))
    args = parser.parse_args()
    serve(KeywordAgent(), args.host, args.port, args.tokens_per_second, args.max_workers)
