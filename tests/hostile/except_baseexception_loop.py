# ruff: noqa  (deliberately hostile test input, not project code)
# Swallows every catchable signal-raised exception and keeps spinning.
import signal

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
    signal.signal(sig, lambda *_: None)
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
