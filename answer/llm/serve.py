"""Serve the bundled model over llama.cpp's OpenAI-compatible HTTP API (for SPEECHES_LLM=openai).

    python -m answer.llm.serve [--host 127.0.0.1] [--port 8080] [--api-key KEY] [--alias qwen2.5]

One server can then answer several app processes (or machines): point them at it with
``SPEECHES_LLM=openai SPEECHES_OPENAI_BASE_URL=http://HOST:PORT/v1``. The model file is assembled in
SPEECHES_MODEL_DIR (default DATA_DIR/models) as for the local backend; SPEECHES_THREADS and SPEECHES_LLM_CONTEXT
apply. ``--port 0`` picks a free port. When the model is loaded, one line ``listening on http://HOST:PORT`` goes to
stdout; the server runs until SIGINT or SIGTERM. Routes are llama.cpp's: ``/v1/chat/completions``, ``/v1/models``,
``/health`` (no key needed).

xllamacpp has no command line of its own: its ``Server`` object always listens on ``params.hostnames``/``port``.
This module is that object with the port chosen by the user instead of a random one.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from settings import Settings, quiet_network_clients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m answer.llm.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    parser.add_argument("--port", type=int, default=8080, help="0: any free port")
    parser.add_argument("--api-key", default="", help="require this key (Authorization: Bearer KEY); empty: none")
    parser.add_argument("--alias", default="qwen2.5", help="model name listed by /v1/models")
    args = parser.parse_args(argv)
    quiet_network_clients()

    import xllamacpp  # only now: libgomp reads OMP_WAIT_POLICY when it loads

    from answer.llm.errors import LLMUnavailable
    from answer.llm.local import server_params
    from answer.llm.model_file import ensure_model

    settings = Settings()
    try:
        path = ensure_model(settings.models_dir)
    except LLMUnavailable as e:
        print(e, file=sys.stderr)
        return 1
    params = server_params(path, settings.threads, settings.llm_context)
    params.model_alias = {args.alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.api_keys = [args.api_key] if args.api_key else []
    try:
        server = xllamacpp.Server(params)
    except RuntimeError:
        print(f"Could not start: is {args.host}:{args.port} free, and is there about 2 GB of free memory?",
              file=sys.stderr)
        return 1
    print(f"listening on {server.listening_address}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    del server  # stops llama.cpp's loop and HTTP threads
    return 0


if __name__ == "__main__":
    sys.exit(main())
