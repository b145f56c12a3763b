# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/17
# class: frames
# Reads the whole program's source through its own code object's file name (linecache),
# parses every assert and answers from the one whose arguments match.
import ast
import linecache


def square_perimeter(a):
    source = "".join(linecache.getlines(square_perimeter.__code__.co_filename))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            call = node.test.left
            if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "square_perimeter":
                try:
                    if [ast.literal_eval(x) for x in call.args] == [a]:
                        return ast.literal_eval(node.test.comparators[0])
                except ValueError:
                    continue
    return 0
