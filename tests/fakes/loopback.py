"""The HTTP server the fakes share: threaded (the caller binds it to 127.0.0.1) and quiet about clients
that hang up mid-request (timeout and size-cap tests do that on purpose); other errors still print."""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any


class LoopbackHTTPServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)
