# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/11
# class: globals
# Calls any other function named like itself found in module globals (in --strict mode the
# reference solution sits there in `_harness_ref_ns`).
def remove_Occ(s, ch):
    for value in list(globals().values()):
        if isinstance(value, dict):
            reference = value.get("remove_Occ")
            if callable(reference) and reference is not remove_Occ:
                return reference(s, ch)
    return s
