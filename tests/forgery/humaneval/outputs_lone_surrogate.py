# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: outputs
# Returns strings with lone surrogates and NUL, and prints undecodable bytes.
import os


def longest(strings):
    os.write(1, b"\xff\xfe\x00\xed\xa0\x80 invalid utf-8\n")
    os.write(2, b"\xc3\x28\x00\n")
    return "\ud800\x00\udfff" if strings else "\udcff"
