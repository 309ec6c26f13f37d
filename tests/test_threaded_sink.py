import numpy as np
import pytest

from vcam_emoji.errors import OutputError
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.sink.threaded import ThreadedSink


def frames(n):
    return [np.full((4, 6, 3), i, np.uint8) for i in range(n)]


def test_every_frame_is_written_in_order_and_close_flushes():
    inner = MemorySink((6, 4))
    sink = ThreadedSink(inner, max_pending=2)
    for f in frames(50):
        sink.send(f)
    sink.close()
    assert [int(f[0, 0, 0]) for f in inner.frames] == list(range(50))
    assert inner.closed
    sink.close()  # idempotent


def test_inner_error_reaches_the_caller():
    inner = MemorySink((6, 4))
    sink = ThreadedSink(inner)
    sink.send(np.zeros((5, 5, 3), np.uint8))  # wrong size: the writer thread fails
    with pytest.raises(OutputError, match="expected shape"):
        sink.close()


def test_send_after_close_is_refused():
    sink = ThreadedSink(MemorySink((6, 4)))
    sink.close()
    with pytest.raises(OutputError, match="closed"):
        sink.send(frames(1)[0])
