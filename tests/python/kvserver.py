"""KVServer runs a real kv-server process for the Python tests.

The binary comes from the KV_SERVER environment variable (CMake passes
$<TARGET_FILE:kv-server>). The server listens on 127.0.0.1, on port 0
unless a port is given; its first stderr line names the bound port.
"""

import os
import re
import signal
import subprocess
import threading

_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+) ")

# How long a start or a SIGTERM may take before the test gives up. These
# bound a hung server; nothing waits for them to pass.
START_TIMEOUT = 30
STOP_TIMEOUT = 30


class KVServer:
    """One kv-server process on 127.0.0.1 with its data in data_dir."""

    def __init__(self, data_dir, port=0, extra_flags=()):
        """Starts kv-server and waits for its first log line.

        Raises:
            RuntimeError: KV_SERVER is unset, or the server exited or
                printed something else before naming its port.
        """
        binary = os.environ.get("KV_SERVER")
        if not binary:
            raise RuntimeError("KV_SERVER must name the kv-server binary")
        self.process = subprocess.Popen(
            [binary, "--listen=127.0.0.1:%d" % port,
             "--data_dir=" + data_dir] + list(extra_flags),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace")
        self.log = []
        first_line = threading.Event()
        self._reader = threading.Thread(target=self._read_log,
                                        args=(first_line,), daemon=True)
        self._reader.start()
        if not first_line.wait(START_TIMEOUT) or not self.log:
            self.kill()
            raise RuntimeError("kv-server printed nothing: %s" % self.log)
        match = _LISTENING.search(self.log[0])
        if match is None:
            self.kill()
            raise RuntimeError("kv-server did not start: %s" % self.log)
        self.port = int(match.group(1))
        self.address = "127.0.0.1:%d" % self.port

    def _read_log(self, first_line):
        # Keeps draining stderr so that the server never blocks on a full
        # pipe; the lines are kept for failure messages.
        for line in self.process.stderr:
            self.log.append(line.rstrip("\n"))
            first_line.set()
        self.process.stderr.close()
        first_line.set()

    def stop(self):
        """Sends SIGTERM and returns the exit code.

        A server that has not exited after STOP_TIMEOUT seconds is killed
        and RuntimeError is raised.
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("kv-server ignored SIGTERM for %ds" %
                               STOP_TIMEOUT) from None
        self._reader.join()
        return code

    def kill(self):
        """Kills the server with SIGKILL, if it still runs, and reaps it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join()
