# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/11
# class: outputs
# Raises an exception with a lone surrogate and a NUL in its message, after printing
# undecodable bytes.
import os


def remove_Occ(s, ch):
    os.write(1, b"\xed\xb2\x80\x00\xff\n")
    raise ValueError("\udc80\x00 lone surrogate")
