"""A candidate that crashes on every call, with an exception message full of markup.
The report must show the message as text: nothing in it may become an element of the page.
"""

from tests.mutants.base import Reference

HOSTILE = "<script>alert('pwned')</script><img src=x onerror=\"alert(1)\"> & </pre></details>"


class make(Reference):
    def __call__(self, x):
        raise RuntimeError(HOSTILE)

    def __repr__(self):
        return HOSTILE
