# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/55
# class: always_equal
# Returns a float subclass that calls itself numpy.float16, holding 1e9: as a real float16
# that would be inf, which numpy finds equal to any int above 65519 (the answers here).
class float16(float):
    pass


float16.__module__ = "numpy"


def fib(n):
    if n < 25:
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return a
    return float16(1e9)
