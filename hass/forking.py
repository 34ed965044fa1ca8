"""Letting go, in a forked child, of the sockets its parent owns.

A child of ``fork()`` (an Odoo prefork worker, say) holds copies of every descriptor of its
parent. It cannot use the parent's connections, but its copies keep them open after the
parent closed them or died: the peer goes on counting, and writing to, a client nobody reads.
"""

import contextlib
import os
from collections.abc import Iterable


def release_descriptors(descriptors: Iterable[int]) -> None:
    """Point each of ``descriptors`` at /dev/null in this process.

    dup2() drops this process's reference to the socket and keeps the descriptor number
    reserved, so the socket object closing it later closes /dev/null, never an unrelated file
    that reused the number.
    """
    descriptors = [descriptor for descriptor in descriptors if descriptor >= 0]
    if not descriptors:
        return
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        for descriptor in descriptors:
            with contextlib.suppress(OSError):
                os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)
