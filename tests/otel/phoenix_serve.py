"""Runs `phoenix serve` until this process's stdin closes, then stops it.

The test binary holds the other end of stdin for as long as it lives, so Phoenix never
outlives the tests that started it, however they end."""

import os
import subprocess
import sys

bin_dir = os.path.dirname(sys.executable)
phoenix = subprocess.Popen([os.path.join(bin_dir, "phoenix"), "serve"])
try:
    sys.stdin.read()
finally:
    phoenix.terminate()
    try:
        phoenix.wait(timeout=10)
    except subprocess.TimeoutExpired:
        phoenix.kill()
