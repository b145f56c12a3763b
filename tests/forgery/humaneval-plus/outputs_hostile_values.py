# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: outputs
# Cycles through hostile return values: a self-containing list, a generator, 200,000 levels
# of nesting, a lone surrogate, a huge list.
_calls = [0]


def separate_paren_groups(paren_string):
    _calls[0] += 1
    kind = _calls[0] % 5
    if kind == 1:
        value = ["()"]
        value.append(value)
        return value
    if kind == 2:
        return (g for g in ["()"])
    if kind == 3:
        value = []
        for _ in range(200_000):
            value = [value]
        return value
    if kind == 4:
        return ["\ud800", "\x00", "\udfff"]
    return ["()"] * 20_000_000
