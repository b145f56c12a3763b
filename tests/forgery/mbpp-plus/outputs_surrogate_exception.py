# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/11
# class: outputs
# Raises an exception whose message holds lone surrogates and NUL bytes.
def remove_Occ(s, ch):
    raise KeyError("\ud800\x00\udfff")
