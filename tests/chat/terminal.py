"""A child process on a pseudo-terminal, driven like a user at a keyboard: every wait is bounded and
``close()`` kills the child if it is still running."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import termios
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]")


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: exec at once (nothing else is safe after fork)
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.text = ""
        self.seen = 0  # expect() searches after the previous match
        self.exit_code: int | None = None

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the child has closed the terminal."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the child exited
            return False
        if not data:
            return False
        self.text += ANSI.sub("", data.decode("utf-8", errors="replace")).replace("\r", "")
        return True

    def expect(self, needle: str, timeout: float = 10.0) -> str:
        """Wait for ``needle``; returns the output from the previous match up to and including it."""
        deadline = time.monotonic() + timeout
        while needle not in self.text[self.seen :]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {needle!r} within {timeout} s; output tail:\n{self.text[-3000:]}")
            if not self._read(min(remaining, 0.5)):
                raise AssertionError(f"the chat exited before {needle!r}; output tail:\n{self.text[-3000:]}")
        end = self.text.index(needle, self.seen) + len(needle)
        chunk, self.seen = self.text[self.seen : end], end
        return chunk

    def send(self, line: str) -> None:
        self.write(line + "\r")

    def write(self, keys: str, at_prompt: bool = True) -> None:
        """Type ``keys``; ``at_prompt``: first wait until the line editor has the terminal (raw mode), or
        the tty would echo and buffer them itself (and turn Ctrl-D into an end of file)."""
        if at_prompt:
            self.wait_raw()
        os.write(self.fd, keys.encode())

    def wait_raw(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                raise AssertionError(f"the terminal never left line mode; output tail:\n{self.text[-3000:]}")
            self._read(0.02)

    def wait_exit(self, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.exit_code = os.waitstatus_to_exitcode(status)
                return self.exit_code
            self._read(0.1)  # keep draining so the child never blocks on a full terminal
        raise AssertionError(f"the chat did not exit within {timeout} s; output tail:\n{self.text[-3000:]}")

    def close(self) -> None:
        if self.exit_code is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)
