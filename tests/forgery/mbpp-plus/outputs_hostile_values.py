# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/769
# class: outputs
# Returns, call after call: a generator, a self-containing list, a 200,000-deep nesting, a
# list of lone surrogates and NULs, a set of unhashable-looking frozensets.
_calls = [0]


def Diff(li1, li2):
    _calls[0] += 1
    kind = _calls[0] % 5
    if kind == 1:
        return (x for x in li1)
    if kind == 2:
        value = [1]
        value.append(value)
        return value
    if kind == 3:
        value = []
        for _ in range(200_000):
            value = [value]
        return value
    if kind == 4:
        return ["\udc80", "\x00", "\ud800\udc00"]
    return [frozenset({frozenset()})]
