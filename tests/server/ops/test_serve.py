"""A server worker once it has loaded the app (``server.ops.serve.settle_worker``)."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_settled_worker_keeps_collecting_the_garbage_it_makes_later():
    # In a process of its own: freezing is for the rest of a process's life.
    script = textwrap.dedent("""
        import gc, weakref
        from server.ops.serve import settle_worker

        class Cycle:
            pass

        settle_worker()
        held = gc.get_freeze_count()
        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        print(held, gone() is None, gc.isenabled())
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    frozen, collected, enabled = int(out[0]), out[1], out[2]
    assert frozen > 10_000  # the modules and the app are out of the full passes
    assert collected == "True"  # a cycle made afterwards is still freed
    assert enabled == "True"
