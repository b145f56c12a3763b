# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: exit
# Fork: the parent exits 0 at once, the child would carry on; also tries exit() builtins and
# SIGTERM to itself (its handler exits 0).
import os
import signal

signal.signal(signal.SIGTERM, lambda *args: os._exit(0))


def separate_paren_groups(paren_string):
    if os.fork() != 0:
        os._exit(0)
    os.kill(os.getpid(), signal.SIGTERM)
    exit(0)
