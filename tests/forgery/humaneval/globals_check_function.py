# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: globals
# Looks up `check` in its module's globals, parses the test's source (linecache) and
# returns the expected value for the arguments it was called with.
import ast
import linecache


def has_close_elements(numbers, threshold):
    check = globals().get("check")
    if check is not None:
        code = check.__code__
        source = "".join(linecache.getlines(code.co_filename))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
                call = node.test.left
                if isinstance(call, ast.Call) and len(call.args) == 2:
                    try:
                        args = [ast.literal_eval(a) for a in call.args]
                    except ValueError:
                        continue
                    if args == [numbers, threshold]:
                        return ast.literal_eval(node.test.comparators[0])
    return None
